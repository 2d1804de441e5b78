"""An in-memory :class:`~sealrun.core.chainstate.ChainReader` for use-case and service tests.

Tests register apps, datasets, workerpools, deals and tasks, then change them (finalize a
task, move a deadline) to drive every branch of the code under test.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from eth_utils import to_checksum_address

from sealrun.core.chainstate import (
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    TaskStatus,
    WorkerpoolRecord,
)
from sealrun.core.orders.grants import Grant

__all__ = ["InMemoryChainReader"]


class InMemoryChainReader:
    """Chain state held in dictionaries (thread-safe: servers read it from worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.apps: dict[str, AppRecord] = {}
        self.datasets: dict[str, DatasetRecord] = {}
        self.workerpools: dict[str, WorkerpoolRecord] = {}
        self.deals: dict[bytes, DealRecord] = {}
        self.tasks: dict[bytes, TaskRecord] = {}
        self.grants: dict[bytes, Grant] = {}

    # -- writing (tests) ------------------------------------------------------------------------
    def add_app(self, record: AppRecord) -> AppRecord:
        """Register an app."""
        with self._lock:
            self.apps[record.address.lower()] = record
        return record

    def add_dataset(self, record: DatasetRecord) -> DatasetRecord:
        """Register a dataset."""
        with self._lock:
            self.datasets[record.address.lower()] = record
        return record

    def add_workerpool(self, record: WorkerpoolRecord) -> WorkerpoolRecord:
        """Register a workerpool."""
        with self._lock:
            self.workerpools[record.address.lower()] = record
        return record

    def add_deal(self, record: DealRecord) -> DealRecord:
        """Record a deal."""
        with self._lock:
            self.deals[record.deal_id] = record
        return record

    def add_task(self, record: TaskRecord) -> TaskRecord:
        """Record (initialize) a task."""
        with self._lock:
            self.tasks[record.task_id] = record
        return record

    def add_grant(self, grant: Grant) -> Grant:
        """Record (or replace: revoke, use) a dataset grant."""
        with self._lock:
            self.grants[grant.grant_id] = grant
        return grant

    def set_task_status(self, task_id: bytes, status: TaskStatus) -> None:
        """Move a task to another status (e.g. COMPLETED to test finalized refusals)."""
        with self._lock:
            self.tasks[task_id] = replace(self.tasks[task_id], status=status)

    def set_deal(self, deal_id: bytes, **changes: object) -> None:
        """Change fields of a recorded deal."""
        with self._lock:
            self.deals[deal_id] = replace(self.deals[deal_id], **changes)  # type: ignore[arg-type]

    # -- ChainReader ----------------------------------------------------------------------------
    def app(self, address: str) -> AppRecord | None:
        """The registered app at ``address``."""
        with self._lock:
            return self.apps.get(to_checksum_address(address).lower())

    def dataset(self, address: str) -> DatasetRecord | None:
        """The registered dataset at ``address``."""
        with self._lock:
            return self.datasets.get(to_checksum_address(address).lower())

    def workerpool(self, address: str) -> WorkerpoolRecord | None:
        """The registered workerpool at ``address``."""
        with self._lock:
            return self.workerpools.get(to_checksum_address(address).lower())

    def deal(self, deal_id: bytes) -> DealRecord | None:
        """The deal with this id."""
        with self._lock:
            return self.deals.get(deal_id)

    def task(self, task_id: bytes) -> TaskRecord | None:
        """The task with this id."""
        with self._lock:
            return self.tasks.get(task_id)

    def grant(self, grant_id: bytes) -> Grant | None:
        """The dataset grant with this id."""
        with self._lock:
            return self.grants.get(grant_id)
