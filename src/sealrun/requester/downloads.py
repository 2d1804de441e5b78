"""A task's sealed result and sealed logs: fetched from the store, opened with the result key.

Downloads are content-addressed (the bytes must hash to their name) and signed by the
requester's wallet: the store serves a task's result and logs to the deal's beneficiary
only. The logs of a COMPLETED task are found through the store's record of the task's blobs
(``GET /v1/tasks/<id>/blobs``); a failure receipt names its logs itself.

Error codes: ``TASK_NOT_COMPLETED``, ``TASK_NO_LOGS`` (:class:`~sealrun.errors.TaskError`),
``STORAGE_URI_INVALID`` (:class:`~sealrun.errors.StorageError`, :mod:`sealrun.api.blobs`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealrun.api.blobs import parse_blob_url
from sealrun.api.ids import task_id_hex
from sealrun.core.sealing import Identity
from sealrun.errors import SealrunError, TaskError
from sealrun.requester.connection import Connection
from sealrun.requester.layout import open_result, result_identity, sealed_folder
from sealrun.requester.tasks import FollowedTask, attested_reason, require_result

if TYPE_CHECKING:
    from sealrun.adapters.http.signing import SignedRequestAuth

__all__ = ["OpenedLogs", "download_logs", "download_result", "explain_failure", "fetch_result", "read_logs"]


@dataclass(frozen=True)
class OpenedLogs:
    """A task's sealed logs, downloaded and opened."""

    sealed: Path
    opened: Path | None
    logs: dict[str, str]
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        """``sealed_logs``, ``opened`` (or ``None``), ``logs`` (name → text) and ``reason``."""
        return {
            "sealed_logs": str(self.sealed),
            "opened": None if self.opened is None else str(self.opened),
            "logs": self.logs,
            "reason": self.reason,
        }


def download_result(
    followed: FollowedTask,
    folder: Path,
    signer: SignedRequestAuth,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Download the sealed result of a COMPLETED task into ``folder/<taskid>.result.age``;
    ``signer`` signs the request with the requester's wallet (the store serves the deal's
    beneficiary only). The result URI is checked before anything is asked or written.

    Raises:
        TaskError: ``TASK_NOT_COMPLETED``; StorageError: ``STORAGE_URI_INVALID``,
            unreachable, not found, checksum mismatch, ``STORAGE_NOT_BENEFICIARY``.
    """
    from sealrun.adapters.http.store import StoreClient

    blob = parse_blob_url(require_result(followed))
    folder.mkdir(parents=True, exist_ok=True)
    store = StoreClient(blob.store)
    try:
        target = folder / f"{task_id_hex(followed.task.task_id)}.result.age"
        return store.download(blob.checksum, target, signer=signer, progress=progress)
    finally:
        store.close()


def download_logs(
    followed: FollowedTask,
    store_url: str,
    folder: Path,
    signer: SignedRequestAuth,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Download the sealed logs of a task that ended, COMPLETED or FAILED.

    A failure receipt names its logs (their sha256); for any other task the store's record of
    the task's blobs does (the newest ``logs``: a relaunched enclave seals them again).

    Raises:
        TaskError: ``TASK_NO_LOGS`` (not ended, or no sealed logs reached the store);
        StorageError: unreachable, not found, checksum mismatch, ``STORAGE_NOT_BENEFICIARY``.
    """
    from sealrun.adapters.http.store import StoreClient

    task_id = followed.task.task_id
    store = StoreClient(store_url)
    try:
        outcome = followed.outcome
        if outcome is not None and outcome.log_digest is not None and any(outcome.log_digest):
            checksum = outcome.log_digest.hex()
        else:
            found = (
                [b for b in store.task_blobs(task_id, signer) if b.kind == "logs"] if followed.done else []
            )
            if not found:
                raise TaskError(
                    f"task {task_id_hex(task_id)} is {followed.status}: the store holds no sealed logs of it"
                    + ("" if followed.done else " (yet: they are sealed when it ends)"),
                    code="TASK_NO_LOGS",
                )
            checksum = found[-1].checksum
        folder.mkdir(parents=True, exist_ok=True)
        return store.download(
            checksum, folder / f"{task_id_hex(task_id)}.logs.age", signer=signer, progress=progress
        )
    finally:
        store.close()


def fetch_result(connection: Connection, followed: FollowedTask, folder: Path | None = None) -> Path:
    """:func:`download_result` signed by the connection's wallet, into ``folder`` (default: the
    project's downloads folder), with the connection's progress bar."""
    task = task_id_hex(followed.task.task_id)
    with connection.progress(f"downloading the result of {task[:10]}…", None) as advance:
        target = folder or sealed_folder(connection.root)
        return download_result(followed, target, connection.signer(), progress=advance)


def read_logs(
    connection: Connection, followed: FollowedTask, identity: Identity | None = None, *, keep: bool = True
) -> OpenedLogs:
    """Download and open a task's sealed logs (COMPLETED or FAILED) with the result key.

    With ``keep`` they are opened into ``tee/outputs/<task>.logs`` (or the current folder),
    replacing what an earlier read left there; without it, into a temporary folder that is
    removed once read.

    Raises:
        TaskError: ``TASK_NO_LOGS``; ConfigError: ``KEY_FILE_NOT_FOUND``; StorageError; SealError.
    """
    with connection.progress("downloading the sealed logs", None) as advance:
        sealed = download_logs(
            followed,
            connection.service_url("store"),
            sealed_folder(connection.root),
            connection.signer(),
            progress=advance,
        )
    key = identity or result_identity(connection.root, create=False)[1]
    opened_root = connection.root / "tee" / "outputs"
    parent = opened_root if opened_root.is_dir() else Path.cwd()
    with tempfile.TemporaryDirectory(dir=parent, prefix=".logs-") as scratch:
        folder, files = open_result(sealed, Path(scratch), key)
        logs = {f.relative_to(folder).as_posix(): f.read_text("utf-8", "replace") for f in files}
        opened: Path | None = None
        if keep:
            # The same sealed logs open to the same files: the newest read replaces the last.
            target = parent / folder.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            folder.rename(target)
            opened = target
    return OpenedLogs(sealed, opened, logs, attested_reason(logs))


def explain_failure(connection: Connection, followed: FollowedTask) -> dict[str, Any]:
    """The attested reason of a FAILED task, read from its sealed logs: ``{"reason": ...}``,
    or ``{"reason_error": {code, message}}`` when the logs cannot be read (the task's
    failure code and ``logs_command`` are in :func:`~.tasks.describe` either way)."""
    try:
        read = read_logs(connection, followed, keep=False)
    except SealrunError as error:
        return {"reason": None, "reason_error": {"code": error.code, "message": error.message}}
    return {"reason": read.reason, "sealed_logs": str(read.sealed)}
