"""The hub's records as our own frozen dataclasses (never web3's dictionaries).

Addresses are checksummed strings, hashes and ids are ``bytes``, amounts are integers in
the token's smallest unit. :class:`Deal` mirrors the hub's ``Deal`` struct field by field:
the hub does not store deals (it keeps only their hash), so a deal is read from its
``OrdersMatched`` event and handed back to ``finalize``/``claim`` as :meth:`Deal.as_struct`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "CALLBACK_GAS_RESERVE",
    "App",
    "Balance",
    "Category",
    "Dataset",
    "Deal",
    "HubTaskStatus",
    "Task",
    "Workerpool",
]


#: Gas a settlement with a result callback must keep *available* beyond what it uses: the hub
#: calls the callback only with ``200,000 × 64/63 + 5,000`` gas left (``callback-gas``,
#: docs/contracts.md), and an estimate of the gas *used* does not cover that (py-evm's does not
#: search for it). Added once to the estimate of a ``finalize`` or ``finalizeMany`` (the
#: estimate already holds every callee's use; the reserve is what must remain at each call).
CALLBACK_GAS_RESERVE = 200_000 * 64 // 63 + 5_000 + 2_000


class HubTaskStatus(enum.IntEnum):
    """``Hub.taskStatus`` values."""

    UNSET = 0
    ACTIVE = 1
    COMPLETED = 2
    FAILED = 3
    CLAIMED = 4


@dataclass(frozen=True)
class App:
    """A registered app: a measured bundle and its fingerprint (our MRENCLAVE)."""

    address: str
    owner: str
    name: str
    bundle_uri: str
    checksum: bytes
    fingerprint: bytes
    tee_technology: bytes


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: sealed ciphertext at ``uri`` with sha256 ``checksum``."""

    address: str
    owner: str
    name: str
    uri: str
    checksum: bytes


@dataclass(frozen=True)
class Workerpool:
    """A registered workerpool; its owner runs the scheduler."""

    address: str
    owner: str
    description: str
    worker_stake_ratio: int
    scheduler_reward_ratio: int


@dataclass(frozen=True)
class Category:
    """A task category: tasks in it must finish within ``max_time`` seconds."""

    id: int
    name: str
    description: str
    max_time: int


@dataclass(frozen=True)
class Balance:
    """An account in the hub's escrow: ``free`` can be withdrawn or spent, ``locked`` is in deals."""

    account: str
    free: int
    locked: int


# Field order of the hub's Deal struct, paired with our attribute names.
_DEAL_FIELDS = (
    ("app", "app"),
    ("appOwner", "app_owner"),
    ("appPrice", "app_price"),
    ("dataset", "dataset"),
    ("datasetOwner", "dataset_owner"),
    ("datasetPrice", "dataset_price"),
    ("workerpool", "workerpool"),
    ("workerpoolOwner", "workerpool_owner"),
    ("workerpoolPrice", "workerpool_price"),
    ("schedulerRewardRatio", "scheduler_reward_ratio"),
    ("stake", "stake"),
    ("requester", "requester"),
    ("beneficiary", "beneficiary"),
    ("callback", "callback"),
    ("category", "category"),
    ("tag", "tag"),
    ("trust", "trust"),
    ("startTime", "start_time"),
    ("deadline", "deadline"),
    ("botFirst", "bot_first"),
    ("volume", "volume"),
    ("requestHash", "request_hash"),
)


@dataclass(frozen=True)
class Deal:
    """A deal created by ``matchOrders`` (every field of the hub's struct, plus context)."""

    deal_id: bytes
    app: str
    app_owner: str
    app_price: int
    dataset: str
    dataset_owner: str
    dataset_price: int
    workerpool: str
    workerpool_owner: str
    workerpool_price: int
    scheduler_reward_ratio: int
    stake: int
    requester: str
    beneficiary: str
    callback: str
    category: int
    tag: bytes
    trust: int
    start_time: int
    deadline: int
    bot_first: int
    volume: int
    request_hash: bytes
    params: str = ""
    block_number: int = 0

    @property
    def task_price(self) -> int:
        """What the requester pays per task."""
        return self.app_price + self.dataset_price + self.workerpool_price

    def as_struct(self) -> tuple[Any, ...]:
        """The hub's ``Deal`` tuple, for ``finalize``/``reportFailure``/``claim``."""
        return tuple(getattr(self, ours) for _, ours in _DEAL_FIELDS)

    def to_json(self) -> dict[str, str | int]:
        """A JSON-ready dict (bytes as 0x hex)."""
        return {
            f.name: ("0x" + value.hex() if isinstance(value := getattr(self, f.name), bytes) else value)
            for f in fields(self)
        }

    @classmethod
    def from_event(cls, deal_id: bytes, struct: Any, *, params: str, block_number: int) -> Deal:
        """Build a deal from the ``deal`` argument of an ``OrdersMatched`` event."""
        values: dict[str, Any] = {}
        for theirs, ours in _DEAL_FIELDS:
            raw = struct[theirs] if isinstance(struct, Mapping) else getattr(struct, theirs)
            values[ours] = bytes(raw) if isinstance(raw, bytes | bytearray) else raw
        return cls(deal_id=bytes(deal_id), params=params, block_number=block_number, **values)


@dataclass(frozen=True)
class Task:
    """One task of a deal: its id, status and (once completed) the result digest."""

    task_id: bytes
    deal_id: bytes
    index: int
    status: HubTaskStatus
    result_digest: bytes | None
    deadline: int
