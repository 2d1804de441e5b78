"""A pool's scheduler with one deal's task (real app, SQLite) and the explorer over it, both served."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_utils import keccak

from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.http.taskevents import TaskEventsClient
from sealrun.core.chainstate import (
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    TaskStatus,
    WorkerpoolRecord,
)
from sealrun.core.requests import RequestDomain
from sealrun.services.explorer.app import create_app as create_explorer
from sealrun.services.explorer.sources import OrderRow, PublicData
from sealrun.services.scheduler.app import SchedulerParts, create_app
from sealrun.testing.chainstate import InMemoryChainReader
from tests.scheduler.conftest import (
    CHAIN_ID,
    HUB,
    NOW,
    OWNER,
    POOL,
    WORKER_KEYS,
    Categories,
    FakeEvents,
    FakeSms,
    deal_event,
    settings_for,
    task_event,
)
from tests.scheduler.test_events import served
from tests.sms.conftest import free_port

DEAL = keccak(b"explorer deal")
APP = "0x" + "a1" * 20
DATASET = "0x" + "d5" * 20
REQUESTER = "0x" + "b1" * 20


@dataclass
class Site:
    """The explorer's URL, the scheduler's, the deal's two tasks and the means to move them."""

    url: str
    scheduler_url: str
    done: str
    live: str
    worker: SchedulerClient
    events: FakeEvents
    chain: InMemoryChainReader
    apply: object


def _chain(tasks: list[str]) -> InMemoryChainReader:
    chain = InMemoryChainReader()
    chain.add_app(AppRecord(address=APP, owner=REQUESTER, fingerprint=keccak(b"bundle")))
    chain.add_dataset(
        DatasetRecord(
            address=DATASET, owner=OWNER.address, url="http://store/v1/blobs/ab", checksum=keccak(b"d")
        )
    )
    chain.add_workerpool(WorkerpoolRecord(address=POOL, owner=OWNER.address))
    chain.add_deal(
        DealRecord(
            deal_id=DEAL, app=APP, dataset=DATASET, workerpool=POOL, requester=REQUESTER,
            beneficiary=REQUESTER, tag=b"\x00" * 31 + b"\x01", params="{}", category_time=300,
        )
    )  # fmt: skip
    for index, task in enumerate(tasks):
        chain.add_task(
            TaskRecord(
                task_id=bytes.fromhex(task[2:]), deal_id=DEAL, index=index, status=TaskStatus.ACTIVE,
                final_deadline=int(NOW) + 3000,
            )
        )  # fmt: skip
    return chain


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("explorer")
    events, clock = FakeEvents(), [NOW]
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=FakeSms())
    scheduler = create_app(
        settings_for(f"sqlite:///{folder / 'scheduler.db'}"), parts, clock=lambda: clock[0]
    )
    deal = deal_event(DEAL, volume=2)
    deal.args["deal"]["dataset"] = DATASET
    events.queue.append(deal)
    events.poll(scheduler.state.service.apply_events)
    with served(scheduler, free_port()) as scheduler_url:
        worker = SchedulerClient(
            scheduler_url, key=WORKER_KEYS[0], domain=RequestDomain(chain_id=CHAIN_ID, hub=HUB),
            clock=lambda: clock[0],
        )  # fmt: skip
        worker.register(slots=2, tee="simulated", holding=[])
        first = worker.next(wait=0)
        assert first is not None
        worker.report(first.task_id, "abandoned", "<script>alert('the detail is escaped')</script>")
        done = worker.next(wait=0)
        assert done is not None
        worker.report(done.task_id, "running")
        worker.report(done.task_id, "submitted")
        events.queue.append(task_event("TaskCompleted", done.task_id, tx=5))
        events.poll(scheduler.state.service.apply_events)
        clock[0] += 121  # past the abandoned task's retry backoff
        live = worker.next(wait=0)
        assert live is not None
        chain = _chain([done.task_id, live.task_id] if done.index == 0 else [live.task_id, done.task_id])
        chain.set_task_status(bytes.fromhex(done.task_id[2:]), TaskStatus.COMPLETED)
        book = [OrderRow("workerpool", "0x" + "0f" * 32, POOL, "1000000", 99, OWNER.address)]
        reader = TaskEventsClient(scheduler_url)
        data = PublicData(chain, scheduler=reader, orderbook=lambda kind: [
            row for row in book if row.kind == kind
        ])  # fmt: skip
        explorer = create_explorer(data, scheduler_url=scheduler_url)
        with served(explorer, free_port()) as url:
            yield Site(
                url, scheduler_url, done.task_id, live.task_id, worker, events, chain,
                scheduler.state.service.apply_events,
            )  # fmt: skip
        reader.close()
        worker.close()
