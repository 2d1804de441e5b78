"""A task the requester bought: follow it, fetch its sealed result, open it.

Error codes: ``TASK_WATCH_TIMEOUT``, ``TASK_NOT_COMPLETED``, ``TASK_NO_LOGS``
(:class:`~sealrun.errors.TaskError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.api.scheduler import TaskEventOut
from sealrun.core.sealing import Identity
from sealrun.requester.connection import Connection
from sealrun.requester.downloads import OpenedLogs, fetch_result, read_logs
from sealrun.requester.layout import open_result, outputs_folder, result_identity
from sealrun.requester.tasks import FollowedTask, follow

__all__ = ["TaskHandle"]


@dataclass
class TaskHandle:
    """One task on chain, seen by its requester (who is also its beneficiary).

    Args:
        connection: the requester's wallet on the marketplace.
        task_id: the task's id (32 bytes).
        deal_id: the deal it belongs to, when this handle bought it.
        price: what it cost, when this handle bought it.
    """

    connection: Connection
    task_id: bytes
    deal_id: bytes | None = None
    price: int | None = None
    last: FollowedTask | None = field(default=None, repr=False)
    sealed: Path | None = field(default=None, repr=False)

    def status(self) -> FollowedTask:
        """Read the task once.

        Raises:
            ChainError: ``CHAIN_TASK_UNKNOWN``.
        """
        self.last = follow(
            self.connection.market, self.task_id, start_block=self.connection.deploy_block, watch=False
        )
        return self.last

    def events(
        self,
        *,
        timeout: float = 3600.0,
        interval: float = 0.25,
        on_event: Callable[[TaskEventOut], None] = lambda _e: None,
    ) -> Iterator[FollowedTask]:
        """Each new status of the task until it ends (COMPLETED, FAILED or CLAIMED); when
        ``timeout`` passes first, the last one has ``timed_out`` set. Live from the pool's
        scheduler event stream when the connection has a scheduler (each of its events to
        ``on_event``), by polling the chain otherwise.

        Raises:
            TaskError: ``TASK_WATCH_TIMEOUT`` (the task never appeared on chain).
        """
        from sealrun.requester.live import live_changes

        market, start = self.connection.market, self.connection.deploy_block
        scheduler = self.connection.services.get("scheduler")
        for followed in live_changes(
            market, self.task_id, start_block=start, scheduler=scheduler, timeout=timeout, interval=interval,
            on_event=on_event,
        ):  # fmt: skip
            self.last = followed
            yield followed

    def wait(self, *, timeout: float = 3600.0) -> FollowedTask:
        """Follow the task until it ends (or ``timeout`` passes: ``timed_out`` is then set).

        Raises:
            TaskError: ``TASK_WATCH_TIMEOUT`` (the task never appeared on chain).
        """
        for _ in self.events(timeout=timeout):
            pass
        assert self.last is not None
        return self.last

    def download(self, folder: Path | None = None) -> Path:
        """Download the sealed result (into the project's downloads folder by default).

        Raises:
            TaskError: ``TASK_NOT_COMPLETED``; StorageError.
        """
        followed = self.last if self.last is not None and self.last.done else self.status()
        self.sealed = fetch_result(self.connection, followed, folder)
        return self.sealed

    def decrypt(self, out_dir: Path | None = None, identity: Identity | None = None) -> list[Path]:
        """Open the sealed result (downloaded first if needed) with the result key into
        ``out_dir`` (default: ``tee/outputs``); returns the files written.

        Raises:
            TaskError: ``TASK_NOT_COMPLETED``; ConfigError: ``KEY_FILE_NOT_FOUND``; StorageError; SealError.
        """
        sealed = self.sealed or self.download()
        key = identity or result_identity(self.connection.root, create=False)[1]
        return open_result(sealed, out_dir or outputs_folder(self.connection.root), key)[1]

    def logs(self, identity: Identity | None = None, *, keep: bool = True) -> OpenedLogs:
        """Download and open the task's sealed logs (COMPLETED or FAILED).

        Raises:
            TaskError: ``TASK_NO_LOGS``; ConfigError: ``KEY_FILE_NOT_FOUND``; StorageError; SealError.
        """
        followed = self.last if self.last is not None and self.last.done else self.status()
        return read_logs(self.connection, followed, identity, keep=keep)
