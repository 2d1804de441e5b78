"""The whole pool in isolation mode ``session`` (decision 0080), as real processes on the
embedded chain: a worker with two slots keeps two attested session enclaves warm; the SMS is
killed with ``kill -9`` and restarted mid-deal (every session dropped): the enclaves attest
again and every task completes, each receipt naming the mode and its session.

Extended tier (a whole pool of processes): in the default run,
``tests/sms/test_session_enclave.py`` (real session enclaves, SMS and store) and
``tests/sms/test_sessions.py::test_an_sms_restart_drops_sessions_and_the_enclave_attests_again``
hold the same guards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.receipts import fetch_receipt, release_isolation
from sealrun.core.receipts import parse_receipt
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity
from sealrun.core.tasks import task_id
from tests.pool.deals import fill_deal
from tests.pool.world import PoolWorld, build_world, start_services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.extended]

VOLUME = 4


@pytest.fixture(scope="module")
def world() -> Iterator[PoolWorld]:
    world = build_world(workers=1)
    try:
        start_services(world, workers=0)
        world.start_worker(0, slots=2, isolation="session")
        yield world
    finally:
        world.close()


def _session_of(world: PoolWorld, task: bytes) -> str | None:
    isolation, session = release_isolation(parse_receipt(fetch_receipt(world.url_of("store"), task)))
    assert isolation == "session"
    return session


def test_a_session_pool_survives_an_sms_restart_with_every_task_completed(world: PoolWorld) -> None:
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    with SmsClient(world.url_of("sms"), domain=domain) as sms:
        sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
    hub = world.market_of(None).hub
    deal = fill_deal(world, volume=VOLUME)
    deadline = time.monotonic() + 300
    while not any(hub.task_status(deal.deal_id, i) != HubTaskStatus.ACTIVE for i in range(VOLUME)):
        assert time.monotonic() < deadline, "no task settled"
        time.sleep(0.3)
    settled = next(i for i in range(VOLUME) if hub.task_status(deal.deal_id, i) != HubTaskStatus.ACTIVE)
    world.services["sms"].kill()  # every session is dropped with the process
    world.start_sms()
    late = fill_deal(world, volume=2)  # released only after the restart
    statuses = world.wait_tasks(deal.deal_id, VOLUME, timeout=400) + world.wait_tasks(
        late.deal_id, 2, timeout=300
    )
    assert all(s == HubTaskStatus.COMPLETED for s in statuses), (statuses, world.root)
    before = _session_of(world, task_id(deal.deal_id, settled))
    after = {_session_of(world, task_id(late.deal_id, i)) for i in range(2)}
    assert before is not None
    assert before not in after  # the enclaves attested again after the restart
