"""Fixtures for the scheduler in-process: a fake hub event stream, categories and SMS challenges."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient

from sealrun.adapters.chain.events import ChainEvent
from sealrun.adapters.chain.models import Category
from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.core.chainstate import TaskRecord
from sealrun.core.requests import RequestDomain
from sealrun.errors import ServiceError
from sealrun.services.scheduler.app import SchedulerParts, create_app
from sealrun.services.scheduler.settings import SchedulerSettings

CHAIN_ID = 31337
HUB = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOW = 1_800_000_000.0
OWNER = Account.from_key(b"\x21" * 32)
POOL = to_checksum_address("0x" + "77" * 20)
ZERO = "0x" + "00" * 20
# The pool is closed: every worker a test uses is on the allow-list (keys handed out in order;
# the fixed keys some tests pass are listed too).
WORKER_KEYS = [keccak(f"worker-{number}".encode()) for number in range(12)] + [
    b"\x33" * 32,
    b"\x44" * 32,
    b"\x55" * 32,
]
ALLOWED = [Account.from_key(key).address for key in WORKER_KEYS]


class FakeEvents:
    """A hub event stream for tests: events are queued and delivered once (like a checkpoint)."""

    def __init__(self) -> None:
        self.queue: list[ChainEvent] = []
        self._lock = threading.Lock()

    def poll(self, handle: Callable[[list[ChainEvent]], None], *, names: Iterable[str] | None = None) -> int:
        with self._lock:
            batch, self.queue = self.queue, []
        if batch:
            handle(batch)
        return len(batch)


@dataclass
class FakeSms:
    """Enclave challenges as the SMS makes them: one per task, stable; can be made to fail."""

    calls: list[bytes] = field(default_factory=list)
    failing: bool = False
    finalized: set[bytes] = field(default_factory=set)

    def enclave_challenge(self, task: bytes) -> str:
        self.calls.append(task)
        if self.failing:
            raise ServiceError("the SMS is down", code="SMS_UNREACHABLE")
        if task in self.finalized:
            raise ServiceError("this task is completed", code="RELEASE_TASK_FINALIZED")
        return to_checksum_address(keccak(b"enclave" + task)[:20])


class Categories:
    """Categories and task statuses of the hub, as the scheduler reads them."""

    def __init__(self) -> None:
        self.settled: dict[bytes, TaskRecord] = {}

    def category(self, category_id: int) -> Category | None:
        return Category(id=category_id, name="XS", description="", max_time=300)

    def task(self, task_id: bytes) -> TaskRecord | None:
        return self.settled.get(task_id)


def deal_event(
    deal_id: bytes, *, volume: int, pool: str = POOL, deadline: int = int(NOW) + 3000, tx: int = 1
) -> ChainEvent:
    struct: dict[str, Any] = {
        "app": "0x" + "a1" * 20, "appOwner": "0x" + "a2" * 20, "appPrice": 1,
        "dataset": ZERO, "datasetOwner": ZERO, "datasetPrice": 0,
        "workerpool": pool, "workerpoolOwner": OWNER.address, "workerpoolPrice": 2,
        "schedulerRewardRatio": 10, "stake": 0, "requester": "0x" + "b1" * 20,
        "beneficiary": "0x" + "b1" * 20, "callback": ZERO, "category": 0, "tag": b"\x00" * 31 + b"\x01",
        "trust": 1, "startTime": int(NOW), "deadline": deadline, "botFirst": 0, "volume": volume,
        "requestHash": b"\x05" * 32,
    }  # fmt: skip
    args = {
        "dealid": deal_id,
        "workerpool": pool,
        "requester": struct["requester"],
        "volume": volume,
        "deal": struct,
        "params": "{}",
    }
    return ChainEvent(
        name="OrdersMatched",
        args=args,
        block_number=10 + tx,
        tx_hash=bytes([tx]) * 32,
        log_index=0,
        address=HUB,
    )


def task_event(name: str, task: str, *, tx: int, **extra: Any) -> ChainEvent:
    args = {"taskid": bytes.fromhex(task[2:]), "dealid": b"\x00" * 32, "index": 0, **extra}
    return ChainEvent(
        name=name, args=args, block_number=100 + tx, tx_hash=bytes([tx]) * 32, log_index=1, address=HUB
    )


@dataclass
class Harness:
    events: FakeEvents
    sms: FakeSms
    clock: list[float]
    client: TestClient
    handed: list[bytes] = field(default_factory=list)

    def worker(self, key: bytes | None = None) -> SchedulerClient:
        """A client signing as ``key``, or as the next allowed worker not handed out yet."""
        if key is None:
            key = WORKER_KEYS[len(self.handed)]
            self.handed.append(key)
        account = Account.from_key(key)
        return SchedulerClient(
            "http://scheduler", key=bytes(account.key), domain=RequestDomain(chain_id=CHAIN_ID, hub=HUB),
            http=self.client, clock=lambda: self.clock[0],
        )  # fmt: skip

    def follow(self) -> None:
        """Apply queued events now (instead of waiting for the follower loop)."""
        self.events.poll(self.client.app.state.service.apply_events)  # type: ignore[attr-defined]

    def sweep(self) -> int:
        return int(self.client.app.state.service.sweep())  # type: ignore[attr-defined]


def settings_for(database_url: str, **extra: Any) -> SchedulerSettings:
    values: dict[str, Any] = {"allowed_workers": ALLOWED, **extra}
    return SchedulerSettings(
        workerpool=POOL, owner_key="0x" + OWNER.key.hex(), database_url=database_url, hub=HUB,  # type: ignore[arg-type]
        poll_interval=3600, sweep_interval=3600, worker_timeout=30, **values,
    )  # fmt: skip


@pytest.fixture
def database_url(sql_url: str) -> str:
    """The board's database: every scheduler test runs on SQLite and on PostgreSQL."""
    return sql_url


@pytest.fixture
def harness(database_url: str) -> Iterator[Harness]:
    events, sms, clock = FakeEvents(), FakeSms(), [NOW]
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=sms)
    app = create_app(settings_for(database_url), parts, clock=lambda: clock[0])
    with TestClient(app, base_url="http://scheduler") as client:
        yield Harness(events=events, sms=sms, clock=clock, client=client)
