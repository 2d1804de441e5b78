"""Read-only views of the on-chain records the services appraise, and the reader interface.

The SMS (and later the scheduler and market) decide from chain state: who owns an app or a
dataset, an app's fingerprint, a deal's parties and restrictions, a task's status and
deadline. :class:`ChainReader` is the small interface they depend on; the web3 reader in
:mod:`sealrun.adapters.chain` implements it against the hub contract and
``sealrun.testing`` holds an in-memory one for tests. Addresses are checksummed strings;
the zero address in a restriction means "anyone".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sealrun.core.orders.grants import Grant

__all__ = [
    "ZERO_ADDRESS",
    "AppRecord",
    "ChainReader",
    "DatasetRecord",
    "DealRecord",
    "TaskRecord",
    "TaskStatus",
    "WorkerpoolRecord",
]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
TEE_TAG_BIT = 1


class TaskStatus(enum.IntEnum):
    """A task's on-chain status (mirrors the hub's enum)."""

    UNSET = 0
    ACTIVE = 1
    REVEALING = 2
    COMPLETED = 3
    FAILED = 4

    @property
    def finalized(self) -> bool:
        """True once the task can no longer change (completed or failed/refunded)."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED)


@dataclass(frozen=True)
class AppRecord:
    """A registered app: its owner and its fingerprint (our MRENCLAVE, 32 bytes)."""

    address: str
    owner: str
    fingerprint: bytes


@dataclass(frozen=True)
class DatasetRecord:
    """A registered dataset: its owner, where the ciphertext is and its sha256 checksum."""

    address: str
    owner: str
    url: str
    checksum: bytes


@dataclass(frozen=True)
class WorkerpoolRecord:
    """A registered workerpool and its owner (who runs its scheduler)."""

    address: str
    owner: str


@dataclass(frozen=True)
class DealRecord:
    """A deal: the matched orders' parties, tag, params and the dataset order's restrictions.

    ``dataset_restrict_*`` are the dataset order's ``apprestrict``, ``workerpoolrestrict`` and
    ``requesterrestrict`` as recorded at match time (zero address = anyone).
    ``grant_id`` is the registry grant the deal's dataset order used (``None``: a signed
    dataset order); the SMS re-checks that grant at every release.
    """

    deal_id: bytes
    app: str
    dataset: str
    workerpool: str
    requester: str
    beneficiary: str
    tag: bytes
    params: str
    category_time: int
    dataset_restrict_app: str = ZERO_ADDRESS
    dataset_restrict_workerpool: str = ZERO_ADDRESS
    dataset_restrict_requester: str = ZERO_ADDRESS
    grant_id: bytes | None = None

    @property
    def is_tee(self) -> bool:
        """True if the deal's tag requires a TEE (bit 0)."""
        return bool(int.from_bytes(self.tag, "big") & TEE_TAG_BIT)

    @property
    def has_dataset(self) -> bool:
        """True if the deal uses a dataset."""
        return self.dataset != ZERO_ADDRESS


@dataclass(frozen=True)
class TaskRecord:
    """A task: its deal, index, status and final deadline (UNIX seconds)."""

    task_id: bytes
    deal_id: bytes
    index: int
    status: TaskStatus
    final_deadline: int


class ChainReader(Protocol):
    """Read-only access to the hub's registries, deals and tasks.

    Every method returns ``None`` for an unknown id and raises
    :class:`~sealrun.errors.ChainError` when the chain cannot be read.
    """

    def app(self, address: str) -> AppRecord | None:
        """The registered app at ``address``."""

    def dataset(self, address: str) -> DatasetRecord | None:
        """The registered dataset at ``address``."""

    def workerpool(self, address: str) -> WorkerpoolRecord | None:
        """The registered workerpool at ``address``."""

    def deal(self, deal_id: bytes) -> DealRecord | None:
        """The deal with this id."""

    def task(self, task_id: bytes) -> TaskRecord | None:
        """The task with this id (``None`` if not initialized on chain)."""

    def grant(self, grant_id: bytes) -> Grant | None:
        """The dataset grant with this id, with the uses the hub counted."""
