"""The market and the scheduler as real servers on the embedded chain, with a scripted worker.

A deal filled through the market becomes tasks at the scheduler, each handed to exactly one
worker with an authorization signed by the pool owner for the SMS's enclave challenge; the
market's remaining volume follows ``OrdersMatched``; a scheduler killed with ``kill -9`` in
the middle of a deal resumes from its checkpoint without losing or duplicating a task.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sealrun.adapters.marketclient import MarketClient
from sealrun.adapters.schedulerclient import SchedulerClient
from sealrun.core.requests import RequestDomain
from sealrun.core.tasks import authorization_digest, recover_signer, task_id
from tests.pool.deals import fill_deal, wait_for_pool_order
from tests.pool.world import PoolWorld, build_world, start_services

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def world() -> Iterator[PoolWorld]:
    world = build_world(workers=2)
    try:
        start_services(world, workers=0)
        yield world
    finally:
        world.close()


def scripted_worker(world: PoolWorld, number: int) -> SchedulerClient:
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    return SchedulerClient(world.url_of("scheduler"), key=bytes(world.workers[number].key), domain=domain)


def wait_for_tasks(
    client: SchedulerClient, deal_id: str, count: int, *, timeout: float = 60
) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = client.tasks(deal_id)
        if len(tasks) >= count:
            return tasks
        time.sleep(0.3)
    raise AssertionError(f"the scheduler saw {len(client.tasks(deal_id))} of {count} tasks")


def test_a_deal_filled_through_the_market_is_scheduled(world: PoolWorld) -> None:
    deal = fill_deal(world, volume=3)
    deal_hex = "0x" + deal.deal_id.hex()
    market = MarketClient(world.url_of("market"))
    pool_order = wait_for_pool_order(market, world)
    deadline = time.monotonic() + 30
    while market.order(pool_order["order_hash"])["remaining"] != 1000 - 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert market.order(pool_order["order_hash"])["remaining"] == 997  # followed from OrdersMatched
    one, two = scripted_worker(world, 0), scripted_worker(world, 1)
    tasks = wait_for_tasks(one, deal_hex, 3)
    assert [t["task_id"] for t in tasks] == ["0x" + task_id(deal.deal_id, i).hex() for i in range(3)]
    one.register(slots=2, tee="simulated", holding=[])
    two.register(slots=2, tee="simulated", holding=[])
    got = [
        a for a in (one.next(wait=5), one.next(wait=5), two.next(wait=5), two.next(wait=1)) if a is not None
    ]
    assert len(got) == 3
    assert len({a["task_id"] for a in got}) == 3
    for assignment, worker in zip(got, [world.workers[0], world.workers[0], world.workers[1]], strict=True):
        digest = authorization_digest(
            worker.address, bytes.fromhex(assignment["task_id"][2:]), assignment["enclave_challenge"]
        )
        assert recover_signer(digest, bytes.fromhex(assignment["authorization"][2:])) == world.owner.address
    for assignment in got:
        client = one if assignment in got[:2] else two
        client.report(assignment["task_id"], "abandoned", "scripted worker: cannot run enclaves")
    for closing in (one, two, market):
        closing.close()


def test_scheduler_restart_mid_deal_loses_and_duplicates_nothing(world: PoolWorld) -> None:
    worker = scripted_worker(world, 0)
    worker.register(slots=1, tee="simulated", holding=[])
    first_deal = fill_deal(world, volume=2)
    wait_for_tasks(worker, "0x" + first_deal.deal_id.hex(), 2)
    held = worker.next(wait=5)
    assert held is not None
    worker.report(held["task_id"], "running")
    world.services["scheduler"].kill()
    # A deal matched while the scheduler is down must be picked up from its checkpoint.
    second_deal = fill_deal(world, volume=2)
    world.start_scheduler()
    worker.heartbeat()
    tasks = wait_for_tasks(worker, "0x" + second_deal.deal_id.hex(), 2)
    all_tasks = worker.tasks()
    ids = [t["task_id"] for t in all_tasks]
    assert len(ids) == len(set(ids))  # nothing duplicated by the replayed blocks
    assert {t["task_id"] for t in worker.tasks("0x" + first_deal.deal_id.hex())} == {
        "0x" + task_id(first_deal.deal_id, i).hex() for i in range(2)
    }
    assert next(t for t in all_tasks if t["task_id"] == held["task_id"])["status"] == "running"
    assert [t["status"] for t in tasks] == ["pending", "pending"]
    worker.report(held["task_id"], "abandoned", "scripted worker")
    worker.close()
