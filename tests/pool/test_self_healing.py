"""Self-healing tasks on the whole pool (real processes, embedded chain, simulated TEE).

The store is down when a small deal starts: every enclave's result upload fails
(``RESULT_UPLOAD_FAILED`` after its in-place retries, an infrastructure failure), the workers
ask the scheduler, which retries each task after a jittered backoff instead of settling the
receipts. Once the store is back every task ends COMPLETED, each settled once, and the
scheduler's attempts show why the first ones ended. Small backoff settings keep it short; the
SMS and the scheduler allow enough attempts for the outage (docs/pool.md, "Margin").

This is issue 18's own case: a 12-task deal, the store down for 60 s from the first retry (plus
the time it took the first attempts to fail), on two workers (the in-place retries alone cover a
few seconds; the rest is the pool's retries). It is in the extended tier (a whole pool for a few
minutes); the retry rules themselves are tested in process by default (docs/testing.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.http.scheduler import SchedulerReader
from sealrun.adapters.http.sms import SmsClient
from sealrun.api.ids import task_id_hex
from sealrun.api.scheduler import AttemptsOut
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity
from sealrun.core.tasks import task_id
from sealrun.errors import SealrunError
from tests.pool.deals import fill_deal
from tests.pool.world import PoolWorld, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.extended]

VOLUME = 12
OUTAGE = 60.0  # seconds the store stays down once the first retry is recorded


@pytest.fixture(scope="module")
def world() -> Iterator[PoolWorld]:
    world = build_world(workers=2)
    try:
        world.wait = False
        world.start_store()
        world.start_sms(extra={"SEALRUN_SMS_MAX_RELEASES_PER_TASK": "20"})
        world.start_market()
        world.start_scheduler(
            extra={
                "SEALRUN_SCHEDULER_RETRY_BASE_DELAY": "0.5",
                "SEALRUN_SCHEDULER_RETRY_MAX_DELAY": "3",
                "SEALRUN_SCHEDULER_RETRY_DEADLINE_MARGIN": "60",
                "SEALRUN_SCHEDULER_MAX_CLAIMS_PER_TASK": "30",
            }
        )
        for number in range(2):
            world.start_worker(number)
        world.wait = True
        for service in world.services.values():
            service.wait_healthy()
        yield world
    finally:
        world.close()


def _attempts(reader: SchedulerReader, tasks: list[str]) -> list[AttemptsOut]:
    out = []
    for task in tasks:
        try:
            out.append(reader.attempts(task))
        except SealrunError:  # the deal may not be followed yet (TASK_UNKNOWN)
            continue
    return out


def test_a_store_outage_during_a_deal_ends_with_every_task_completed(world: PoolWorld) -> None:
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    sms = SmsClient(world.url_of("sms"), domain=domain)
    sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
    sms.close()
    reader = SchedulerReader(world.url_of("scheduler"))
    world.services["store"].kill()  # the store is down before the deal starts

    deal = fill_deal(world, volume=VOLUME)
    tasks = [task_id_hex(task_id(deal.deal_id, index)) for index in range(VOLUME)]

    # Wait for the pool to retry (not settle) a task whose upload failed.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if any(a.outcome == "retry" for h in _attempts(reader, tasks) for a in h.attempts):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("no attempt was retried while the store was down")
    time.sleep(OUTAGE)
    statuses = world.wait_tasks(deal.deal_id, VOLUME, timeout=5)
    assert HubTaskStatus.FAILED not in statuses  # nothing settled as a failure during the outage

    world.services["store"].start()  # the store comes back
    statuses = world.wait_tasks(deal.deal_id, VOLUME, timeout=600)
    assert statuses == [HubTaskStatus.COMPLETED] * VOLUME

    deadline = time.monotonic() + 30  # the scheduler follows the chain's TaskCompleted
    histories = _attempts(reader, tasks)
    while time.monotonic() < deadline and not all(h.task.status == "completed" for h in histories):
        time.sleep(0.5)
        histories = _attempts(reader, tasks)
    assert [h.task.status for h in histories] == ["completed"] * VOLUME
    retried = [h for h in histories if len(h.attempts) > 1]
    assert retried, "the outage should have cost at least one task an attempt"
    for history in histories:
        *failed, last = history.attempts
        assert last.outcome == "completed"
        for attempt in failed:
            assert attempt.outcome == "retry"
            assert attempt.failure_class == "infrastructure"
            assert attempt.code in {"RESULT_UPLOAD_FAILED", "STORAGE_UNREACHABLE", "ENCLAVE_CRASHED"}
            assert attempt.ended_at is not None
            assert attempt.next_retry_at is not None
            assert attempt.next_retry_at >= attempt.ended_at
    reader.close()
