"""The whole pool on loopback: store, SMS, market, scheduler and workers as real processes on the
embedded chain, running real (simulated-TEE, sandboxed) enclaves.

A deal filled through the market ends with every task COMPLETED and exact payouts, while a
worker is killed with ``kill -9`` in the middle of a task (another worker completes it) and
the scheduler is killed and restarted mid-deal (nothing lost, nothing duplicated); a deal
matched while the scheduler is down is picked up from its checkpoint; the market's remaining
volume follows ``OrdersMatched``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.http.market import MarketClient
from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.http.sms import SmsClient
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity
from tests.pool.deals import APP_PRICE, POOL_PRICE, fill_deal, wait_for_pool_order
from tests.pool.world import PoolWorld, build_world, start_services

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VOLUME = 4
SCHEDULER_REWARD = POOL_PRICE * 10 // 100  # the test pool's scheduler reward ratio is 10 %


@pytest.fixture(scope="module")
def world() -> Iterator[PoolWorld]:
    world = build_world(workers=2)
    try:
        start_services(world, workers=2)
        yield world
    finally:
        world.close()


def wait_until(condition: object, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_deal_completes_with_correct_payouts_through_a_worker_crash_and_a_scheduler_restart(
    world: PoolWorld, request: pytest.FixtureRequest
) -> None:
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    with SmsClient(world.url_of("sms"), domain=domain) as sms:
        sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
    hub = world.market_of(None).hub
    accounts = {
        "requester": world.requester.address, "developer": world.developer.address,
        "owner": world.owner.address, **{f"worker-{i}": w.address for i, w in enumerate(world.workers)},
    }  # fmt: skip
    before = {name: hub.balance(address) for name, address in accounts.items()}
    scheduler = SchedulerClient(world.url_of("scheduler"), key=b"\x01" * 32, domain=domain)
    request.addfinalizer(scheduler.close)  # closed even when the test fails (no socket left to the GC)

    deal = fill_deal(world, volume=VOLUME)
    deal_hex = "0x" + deal.deal_id.hex()

    # 1. kill -9 the worker of the first task that is running.
    victim: dict[str, object] = {}

    def running_task() -> bool:
        for task in scheduler.tasks(deal_hex):
            if task.status == "running":
                victim.update(task.model_dump())
                return True
        return False

    wait_until(running_task, timeout=240, what="a running task")
    number = next(i for i, w in enumerate(world.workers) if w.address == victim["worker"])
    world.services[f"worker-{number}"].kill()

    # 2. kill -9 the scheduler once a task is settled, and start it again.
    wait_until(
        lambda: any(hub.task_status(deal.deal_id, i) != HubTaskStatus.ACTIVE for i in range(VOLUME)),
        timeout=300, what="a first settled task",
    )  # fmt: skip
    world.services["scheduler"].kill()
    late = fill_deal(world, volume=1)  # matched while the scheduler is down
    world.start_scheduler()

    statuses = world.wait_tasks(deal.deal_id, VOLUME, timeout=400) + world.wait_tasks(
        late.deal_id, 1, timeout=200
    )
    # Every task completed: the killed worker's task was reassigned, the scheduler's restart
    # lost nothing. (Concurrent sandboxes once failed to start under load with EAGAIN when
    # every task ran as host user `nobody`; each task now has its own host uid.)
    assert all(s == HubTaskStatus.COMPLETED for s in statuses), (statuses, world.root)
    completed = len(statuses)  # the deal's tasks and the late deal's one
    # The killed worker comes back: its journal names a task another worker settled; it drops it.
    world.start_worker(number)
    market = MarketClient(world.url_of("market"))
    request.addfinalizer(market.close)
    pool_order = wait_for_pool_order(market, world)
    wait_until(
        lambda: market.order(pool_order.order_hash).remaining == 1000 - VOLUME - 1,
        timeout=60, what="the market to follow OrdersMatched",
    )  # fmt: skip

    # The scheduler sees the outcomes too, each task once.
    wait_until(
        lambda: all(t.status == "completed" for t in scheduler.tasks(deal_hex)),
        timeout=60, what="the scheduler to follow the outcomes",
    )  # fmt: skip
    tasks = scheduler.tasks(deal_hex)
    assert len({t.task_id for t in tasks}) == VOLUME
    everything = [t.task_id for t in scheduler.tasks()]
    assert len(everything) == len(set(everything)) == VOLUME + 1  # replayed blocks duplicated nothing
    retried = next(t for t in tasks if t.task_id == victim["task_id"])
    assert retried.attempts >= 2, retried
    assert retried.worker != victim["worker"]  # another worker completed it

    after = {name: hub.balance(address) for name, address in accounts.items()}
    gained = {name: after[name].free - before[name].free for name in accounts}
    price, settled = APP_PRICE + POOL_PRICE, completed
    assert gained["requester"] == -price * settled
    assert after["requester"].locked == before["requester"].locked
    assert gained["developer"] == APP_PRICE * settled
    assert gained["owner"] == SCHEDULER_REWARD * settled
    workers_gained = sum(gained[f"worker-{i}"] for i in range(len(world.workers)))
    assert workers_gained == (POOL_PRICE - SCHEDULER_REWARD) * settled
    assert sum(gained.values()) == 0  # money is conserved
