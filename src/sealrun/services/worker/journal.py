"""The worker's journal on local disk: what it was given and how far each task got.

One JSON file per task under ``<work_dir>/journal/``, rewritten atomically (temp file,
fsync, rename) at each step, so a restarted worker knows exactly what it held::

    received   the assignment is recorded; the enclave may or may not have started
    reported   the enclave finished: its run report is in the task folder
    submitted  the result or failure receipt was sent on chain (tx hash recorded)

A task whose enclave never reported cannot be finished after a crash (the enclave's
secrets died with it): the worker abandons it and the scheduler reassigns it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import ValidationError

from sealrun.api.scheduler import AssignmentOut
from sealrun.errors import ServiceError

__all__ = ["JournalEntry", "TaskJournal"]


@dataclass(frozen=True)
class JournalEntry:
    """One task as the worker last recorded it."""

    task_id: str
    state: str
    assignment: AssignmentOut
    report_path: str | None = None
    tx_hash: str | None = None


class TaskJournal:
    """The journal folder of one worker.

    Args:
        root: the worker's work folder (the journal lives in ``root/journal``).
    """

    def __init__(self, root: Path) -> None:
        self.folder = root / "journal"
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, task_id: str) -> Path:
        if not (
            task_id.startswith("0x")
            and len(task_id) == 66
            and all(c in "0123456789abcdef" for c in task_id[2:])
        ):
            raise ServiceError(f"not a task id: {task_id!r}", code="TASK_UNKNOWN")
        return self.folder / f"{task_id}.json"

    def save(self, entry: JournalEntry) -> None:
        """Record ``entry`` (replacing the task's previous state atomically)."""
        target = self._path(entry.task_id)
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".entry.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                record = {**asdict(entry), "assignment": entry.assignment.model_dump()}
                json.dump(record, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)

    def remove(self, task_id: str) -> None:
        """Forget a task (it is settled or given back)."""
        self._path(task_id).unlink(missing_ok=True)

    def clean(self) -> int:
        """Delete the half-written entries a crash left behind (at start); return how many."""
        removed = 0
        for leftover in self.folder.glob(".entry.*.tmp"):
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed

    def entries(self) -> list[JournalEntry]:
        """Every task in the journal (unreadable leftovers of a crash are skipped)."""
        found = []
        for path in sorted(self.folder.glob("0x*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                record["assignment"] = AssignmentOut.model_validate(record["assignment"])
                found.append(JournalEntry(**record))
            except (OSError, ValueError, TypeError, KeyError, ValidationError):
                continue
        return found
