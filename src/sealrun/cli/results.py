"""Follow a task to its end, fetch its sealed result or sealed logs: what ``task show
--watch --download``, ``task logs`` and ``app run`` share.

A task ends COMPLETED (the ``TaskCompleted`` event names where the enclave uploaded the
sealed result), FAILED (the enclave's signed failure receipt: a failure code and the sha256
of the sealed logs, which is their name in the blob store) or CLAIMED (refunded after the
deadline). Downloads are content-addressed: the bytes must hash to their name.

Sealed files land in ``tee/encryptedOutputs`` when the project has the seed's ``tee``
folder (``sealrun tee init``), else in the current folder.

Error codes: ``TASK_WATCH_TIMEOUT`` (:class:`~sealrun.errors.ChainError`), ``TASK_NOT_COMPLETED``,
``TASK_NO_LOGS`` (:class:`~sealrun.errors.ConfigError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sealrun.core.tasks import FailureCode
from sealrun.errors import ChainError, ConfigError, StorageError

if TYPE_CHECKING:
    # web3 costs seconds to import: only the commands that follow a task load it.
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.chain.models import Task
    from sealrun.adapters.chain.outcomes import TaskOutcome

__all__ = [
    "TERMINAL",
    "FollowedTask",
    "describe",
    "download_logs",
    "download_result",
    "follow",
    "sealed_folder",
]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CLAIMED"})


@dataclass(frozen=True)
class FollowedTask:
    """A task's on-chain record and, once it ended, the event that ended it."""

    task: Task
    outcome: TaskOutcome | None

    @property
    def status(self) -> str:
        """``UNSET``, ``ACTIVE``, ``COMPLETED``, ``FAILED`` or ``CLAIMED``."""
        return self.task.status.name

    @property
    def done(self) -> bool:
        """Whether the task is in a final state."""
        return self.status in TERMINAL


def _fetch(market: Marketplace, task_id: bytes, start_block: int) -> FollowedTask:
    task = market.task(task_id)
    if task is None:
        raise ChainError(f"no task 0x{task_id.hex()} in any deal of this hub", code="CHAIN_TASK_UNKNOWN")
    outcome = None
    if task.status.name in TERMINAL:
        from sealrun.adapters.chain.outcomes import task_outcome

        outcome = task_outcome(market.hub, task_id, from_block=start_block)
    return FollowedTask(task, outcome)


def follow(
    market: Marketplace,
    task_id: bytes,
    *,
    start_block: int,
    watch: bool,
    timeout: float = 3600.0,
    interval: float = 0.25,
    on_change: Callable[[FollowedTask], None] = lambda _t: None,
) -> FollowedTask:
    """Read the task; with ``watch``, poll until it ends, calling ``on_change`` on each new status.

    Raises:
        ChainError: ``CHAIN_TASK_UNKNOWN`` (not watching) or ``TASK_WATCH_TIMEOUT``.
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            current = _fetch(market, task_id, start_block)
        except ChainError as error:
            # A just-filled deal may not be indexed yet: keep watching unknown tasks.
            if not watch or error.code != "CHAIN_TASK_UNKNOWN":
                raise
            current = None
        if current is not None and current.status != last:
            last = current.status
            on_change(current)
        if current is not None and (current.done or not watch):
            return current
        if time.monotonic() > deadline:
            raise ChainError(
                f"task 0x{task_id.hex()} did not end within {timeout:.0f} s "
                f"(last status {last or 'unknown'})",
                code="TASK_WATCH_TIMEOUT",
            )
        time.sleep(interval)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def describe(followed: FollowedTask) -> dict[str, Any]:
    """The JSON of ``task show``: the on-chain record plus how it ended."""
    task, outcome = followed.task, followed.outcome
    data: dict[str, Any] = {
        "task": _hex(task.task_id),
        "deal": _hex(task.deal_id),
        "index": task.index,
        "status": followed.status,
        "deadline": task.deadline,
        "result_digest": _hex(task.result_digest),
    }
    if outcome is not None and outcome.kind == "completed":
        data["result_uri"] = outcome.result_uri
        data["worker"] = outcome.worker
    if outcome is not None and outcome.kind == "failed" and outcome.failure_code is not None:
        try:
            name = FailureCode(outcome.failure_code).name
        except ValueError:
            name = "UNKNOWN"
        data["failure"] = {"code": outcome.failure_code, "name": name}
        data["log_digest"] = _hex(outcome.log_digest)
        data["worker"] = outcome.worker
    if outcome is not None and outcome.kind == "claimed":
        data["refund"] = outcome.refund
    return data


def sealed_folder(project_root: Path) -> Path:
    """Where downloads go: ``tee/encryptedOutputs`` in a ``tee init`` project, else the cwd."""
    tee = project_root / "tee" / "encryptedOutputs"
    return tee if tee.is_dir() else Path.cwd()


def _store_and_checksum(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    prefix, marker, name = parts.path.rpartition("/v1/blobs/")
    if not marker or parts.scheme not in ("http", "https") or len(name.removeprefix("0x")) != 64:
        raise StorageError(f"the result URI {uri!r} is not a blob store URL", code="STORAGE_URI_INVALID")
    return f"{parts.scheme}://{parts.netloc}{prefix}", name.removeprefix("0x")


def download_result(followed: FollowedTask, folder: Path) -> Path:
    """Download the sealed result of a COMPLETED task into ``folder/<taskid>.result.age``.

    Raises:
        ConfigError: ``TASK_NOT_COMPLETED``; StorageError: unreachable, not found, checksum mismatch.
    """
    outcome = followed.outcome
    if outcome is None or outcome.kind != "completed" or not outcome.result_uri:
        raise ConfigError(
            f"task 0x{followed.task.task_id.hex()} is {followed.status}: there is no result to download",
            code="TASK_NOT_COMPLETED",
        )
    base, checksum = _store_and_checksum(outcome.result_uri)
    folder.mkdir(parents=True, exist_ok=True)
    from sealrun.adapters.storeclient import StoreClient

    store = StoreClient(base)
    try:
        return store.download(checksum, folder / f"0x{followed.task.task_id.hex()}.result.age")
    finally:
        store.close()


def download_logs(followed: FollowedTask, store_url: str, folder: Path) -> Path:
    """Download the sealed logs of a FAILED task (named by the receipt's log digest).

    Raises:
        ConfigError: ``TASK_NO_LOGS``; StorageError: unreachable, not found, checksum mismatch.
    """
    outcome = followed.outcome
    if outcome is None or outcome.log_digest is None:
        raise ConfigError(
            f"task 0x{followed.task.task_id.hex()} is {followed.status}: only a failed task's receipt "
            "names its sealed logs",
            code="TASK_NO_LOGS",
        )
    folder.mkdir(parents=True, exist_ok=True)
    from sealrun.adapters.storeclient import StoreClient

    store = StoreClient(store_url)
    try:
        return store.download(outcome.log_digest.hex(), folder / f"0x{followed.task.task_id.hex()}.logs.age")
    finally:
        store.close()
