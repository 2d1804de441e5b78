"""Which task a blob belongs to: the store's record of result and log uploads.

A blob uploaded with a per-task upload token (the enclave's sealed result or sealed logs) is
that task's: the store serves it only to the task's beneficiary, on a signed request. The
record is two kinds of small files under the store's root::

    tasks/by-blob/<64 hex>                     "0x<task id>\\n<kind>"  (which task, what it is)
    tasks/by-task/<64 hex task>/<kind>.<64 hex> "<unix time>"          (a task's blobs, listed)

Each is written to a temporary name and renamed, so a crash leaves a record whole or absent.
The record is written *before* the blob is published under its name: a task's blob is never
public, not even for the instant between the two writes. The first task recorded for a blob
keeps it (an age file is random: two tasks never seal the same bytes).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from sealrun.api.ids import parse_task_id, task_id_hex
from sealrun.errors import StorageError

__all__ = ["BLOB_KINDS", "BlobKind", "TaskBlob", "TaskBlobIndex", "parse_blob_kind"]

BlobKind = Literal["result", "logs", "receipt"]
#: What a task's blob may be: the sealed result archive, the sealed logs, or the task receipt
#: (public: a receipt holds no secret, anyone may verify it).
BLOB_KINDS: tuple[BlobKind, ...] = ("result", "logs", "receipt")
_ENTRY = re.compile(r"^(result|logs|receipt)\.([0-9a-f]{64})$")


def parse_blob_kind(value: str | None) -> BlobKind:
    """The kind an upload declares (``result`` when it declares none).

    Raises:
        StorageError: ``STORAGE_KIND_INVALID`` for anything but ``result`` or ``logs``.
    """
    if value is None:
        return "result"
    if value not in BLOB_KINDS:
        raise StorageError(
            f"a task's blob is 'result', 'logs' or 'receipt', not {value[:40]!r}", code="STORAGE_KIND_INVALID"
        )
    return cast(BlobKind, value)


@dataclass(frozen=True)
class TaskBlob:
    """One blob of a task: its sha256 (64 hex), what it is and when it was recorded."""

    checksum: str
    kind: BlobKind
    recorded_at: int


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    temporary.write_text(text, encoding="ascii")
    os.replace(temporary, path)


class TaskBlobIndex:
    """The task of each token-uploaded blob, and the blobs of each task, on disk.

    Args:
        root: the store's folder (the index lives in ``root/tasks``).
    """

    def __init__(self, root: Path) -> None:
        self._by_blob = root / "tasks" / "by-blob"
        self._by_task = root / "tasks" / "by-task"

    def open(self) -> None:
        """Create the folders."""
        self._by_blob.mkdir(parents=True, exist_ok=True)
        self._by_task.mkdir(parents=True, exist_ok=True)

    def record(self, task_id: bytes, checksum: str, kind: BlobKind, *, at: int) -> None:
        """Note that blob ``checksum`` (64 hex) is ``task_id``'s ``kind`` (before it is published)."""
        owner = self._by_blob / checksum
        if not owner.exists():
            _write_atomically(owner, f"{task_id_hex(task_id)}\n{kind}")
        folder = self._by_task / task_id.hex()
        folder.mkdir(exist_ok=True)
        entry = folder / f"{kind}.{checksum}"
        if not entry.exists():
            _write_atomically(entry, str(at))

    def task_of(self, checksum: str) -> bytes | None:
        """The task a blob (64 hex) belongs to, or ``None`` for a public blob (a dataset)."""
        try:
            text = (self._by_blob / checksum).read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        return parse_task_id(text.split("\n", 1)[0])

    def is_receipt(self, checksum: str) -> bool:
        """Whether a blob (64 hex) was uploaded as a task receipt (public)."""
        try:
            text = (self._by_blob / checksum).read_text(encoding="ascii")
        except FileNotFoundError:
            return False
        return text.split("\n", 1)[-1] == "receipt"

    def blobs_of(self, task_id: bytes) -> list[TaskBlob]:
        """The blobs recorded for ``task_id``, oldest first (an enclave relaunched records more)."""
        folder = self._by_task / task_id.hex()
        if not folder.is_dir():
            return []
        found: list[TaskBlob] = []
        for entry in folder.iterdir():
            match = _ENTRY.match(entry.name)
            if match is None:
                continue  # a temporary file a crash left
            at = entry.read_text(encoding="ascii").strip()
            found.append(
                TaskBlob(
                    checksum=match.group(2),
                    kind=cast(BlobKind, match.group(1)),
                    recorded_at=int(at) if at.isascii() and at.isdigit() else 0,
                )
            )
        return sorted(found, key=lambda blob: (blob.recorded_at, blob.kind, blob.checksum))
