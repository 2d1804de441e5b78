"""The scheduler in-process: deals to tasks, assignments, authorizations, lost workers, restarts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from sealrun.core.tasks import authorization_digest, recover_signer
from sealrun.errors import RequestError, ServiceError
from sealrun.services.scheduler.app import SchedulerParts, create_app
from tests.scheduler.conftest import (
    CHAIN_ID,
    NOW,
    OWNER,
    Categories,
    FakeEvents,
    FakeSms,
    Harness,
    deal_event,
    settings_for,
    task_event,
)

DEAL = b"\xde" * 32


def test_a_deal_on_this_pool_becomes_pending_tasks(harness: Harness) -> None:
    harness.events.queue += [
        deal_event(DEAL, volume=3),
        deal_event(b"\xee" * 32, volume=2, pool="0x" + "99" * 20, tx=2),
    ]
    harness.follow()
    harness.events.queue.append(deal_event(DEAL, volume=3))  # replayed after a crash: nothing new
    harness.follow()
    tasks = harness.client.get("/v1/tasks").json()
    assert [t["index"] for t in tasks] == [0, 1, 2]
    assert {t["status"] for t in tasks} == {"pending"}
    assert harness.client.get("/v1/status").json()["tasks"] == {"pending": 3}


def test_assignment_carries_a_valid_authorization(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    registered = worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    task = bytes.fromhex(assignment.task_id[2:])
    digest = authorization_digest(registered.worker, task, assignment.enclave_challenge)
    assert recover_signer(digest, bytes.fromhex(assignment.authorization[2:])) == OWNER.address
    assert assignment.deal.workerpool_owner == OWNER.address
    assert assignment.max_time == 300
    assert harness.client.get(f"/v1/tasks/{assignment.task_id}").json()["status"] == "assigned"
    worker.report(assignment.task_id, "running")
    assert harness.client.get(f"/v1/tasks/{assignment.task_id}").json()["worker"] == registered.worker


def test_slots_bound_what_a_worker_holds(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=5))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=2, tee="simulated", holding=[])
    first, second = worker.next(wait=0), worker.next(wait=0)
    assert first is not None
    assert second is not None
    assert first.task_id != second.task_id
    assert worker.next(wait=0) is None
    assert {t.task_id for t in worker.heartbeat()} == {first.task_id, second.task_id}


def test_no_task_is_ever_held_by_two_workers(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=12))
    harness.follow()
    workers = [harness.worker() for _ in range(6)]
    for worker in workers:
        worker.register(slots=4, tee="simulated", holding=[])
    service = harness.client.app.state.service  # type: ignore[attr-defined]
    addresses = [w.register(slots=4, tee="simulated", holding=[]).worker for w in workers]
    barrier = threading.Barrier(len(addresses))

    def grab(address: str) -> list[str]:
        barrier.wait()
        got = []
        for _ in range(4):
            assignment = service.next_assignment(address)
            if assignment is not None:
                got.append(assignment.task_id)
                service.report(address, assignment.task_id, "running")
        return got

    with ThreadPoolExecutor(len(addresses)) as pool:
        results = list(pool.map(grab, addresses))
    everything = [task for got in results for task in got]
    assert len(everything) == 12
    assert len(set(everything)) == 12


def test_a_lost_workers_task_goes_to_another_worker(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    lost, spare = harness.worker(), harness.worker()
    lost.register(slots=1, tee="simulated", holding=[])
    assignment = lost.next(wait=0)
    assert assignment is not None
    lost.report(assignment.task_id, "running")
    spare.register(slots=1, tee="simulated", holding=[])
    assert spare.next(wait=0) is None
    harness.clock[0] += 10
    assert harness.sweep() == 0  # within the timeout the task stays with its worker
    harness.clock[0] += 31
    spare.heartbeat()
    assert harness.sweep() == 1
    again = spare.next(wait=0)
    assert again is not None
    assert again.task_id == assignment.task_id
    assert again.attempt == 2
    assert again.enclave_challenge == assignment.enclave_challenge
    assert again.authorization != assignment.authorization  # signed for the new worker
    with pytest.raises(ServiceError) as caught:
        lost.report(assignment.task_id, "submitted")
    assert caught.value.code == "ASSIGNMENT_NOT_YOURS"


def test_no_reassignment_when_the_deadline_leaves_no_time(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1, deadline=int(NOW) + 400))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    harness.clock[0] += 200
    assert harness.sweep() == 1
    assert harness.client.get(f"/v1/tasks/{assignment.task_id}").json()["status"] == "expired"


def test_restarted_worker_gives_back_what_it_lost(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=2))
    harness.follow()
    key = b"\x33" * 32
    worker = harness.worker(key)
    worker.register(slots=2, tee="simulated", holding=[])
    kept, lost = worker.next(wait=0), worker.next(wait=0)
    assert kept is not None
    assert lost is not None
    restarted = harness.worker(key)
    released = restarted.register(slots=2, tee="simulated", holding=[kept.task_id]).released
    assert released == [lost.task_id]
    assert [t.task_id for t in restarted.heartbeat()] == [kept.task_id]


def test_abandoned_task_is_pending_again(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    assert worker.report(assignment.task_id, "abandoned", "cannot recover").status == "pending"


def test_chain_outcomes_settle_tasks(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=2))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=2, tee="simulated", holding=[])
    done, failed = worker.next(wait=0), worker.next(wait=0)
    assert done is not None
    assert failed is not None
    worker.report(done.task_id, "submitted", "0xtx")
    harness.events.queue += [
        task_event("TaskCompleted", done.task_id, tx=7),
        task_event("TaskFailed", failed.task_id, tx=8, code=3),
    ]
    harness.follow()
    assert harness.client.get(f"/v1/tasks/{done.task_id}").json()["status"] == "completed"
    failure = harness.client.get(f"/v1/tasks/{failed.task_id}").json()
    assert failure["status"] == "failed"
    assert "code 3" in failure["detail"]
    # A late report changes nothing once the chain has settled the task.
    assert worker.report(done.task_id, "abandoned").status == "completed"
    assert worker.heartbeat() == []


def test_sms_failure_puts_the_task_back(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    harness.sms.failing = True
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    with pytest.raises(ServiceError) as caught:
        worker.next(wait=0)
    assert caught.value.code == "SMS_UNREACHABLE"
    assert harness.client.get("/v1/status").json()["tasks"] == {"pending": 1}
    harness.sms.failing = False
    assert worker.next(wait=0) is None  # the backoff: not before a jittered wait (at most 2 s)
    harness.clock[0] += 2
    assert worker.next(wait=0) is not None


def test_requests_must_be_signed_and_workers_registered(harness: Harness) -> None:
    assert (
        harness.client.post("/v1/workers", json={"slots": 1, "tee": "x"}).json()["code"] == "REQUEST_UNSIGNED"
    )
    worker = harness.worker()
    with pytest.raises(ServiceError) as caught:
        worker.next(wait=0)
    assert caught.value.code == "WORKER_UNKNOWN"
    stale = harness.worker()
    stale._auth._clock = lambda: NOW - 3600  # type: ignore[method-assign]
    with pytest.raises(RequestError) as refused:
        stale.register(slots=1, tee="x", holding=[])
    assert refused.value.code == "REQUEST_EXPIRED"


def test_allow_list(database_url: str) -> None:
    parts = SchedulerParts(
        chain_id=CHAIN_ID, events=FakeEvents(), categories=Categories(), challenges=FakeSms()
    )
    allowed = b"\x44" * 32
    from eth_account import Account

    app = create_app(
        settings_for(database_url, allowed_workers=[Account.from_key(allowed).address]),
        parts,
        clock=lambda: NOW,
    )
    with TestClient(app, base_url="http://scheduler") as client:
        harness = Harness(events=FakeEvents(), sms=FakeSms(), clock=[NOW], client=client)
        harness.worker(allowed).register(slots=1, tee="simulated", holding=[])
        with pytest.raises(ServiceError) as caught:
            harness.worker().register(slots=1, tee="simulated", holding=[])
        assert caught.value.code == "WORKER_NOT_ALLOWED"


def test_long_poll_wakes_up_when_a_deal_arrives(harness: Harness) -> None:
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    result: list[object] = []
    waiting = threading.Thread(target=lambda: result.append(worker.next(wait=30)))
    waiting.start()
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    waiting.join(60)
    assert result
    assert result[0] is not None


def test_state_survives_a_scheduler_restart(database_url: str) -> None:
    events, sms, clock = FakeEvents(), FakeSms(), [NOW]
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=sms)
    key = b"\x55" * 32
    with TestClient(
        create_app(settings_for(database_url), parts, clock=lambda: clock[0]), base_url="http://scheduler"
    ) as client:
        harness = Harness(events=events, sms=sms, clock=clock, client=client)
        events.queue.append(deal_event(DEAL, volume=3))
        harness.follow()
        worker = harness.worker(key)
        worker.register(slots=1, tee="simulated", holding=[])
        first = worker.next(wait=0)
        assert first is not None
        worker.report(first.task_id, "running")
    with TestClient(
        create_app(settings_for(database_url), parts, clock=lambda: clock[0]), base_url="http://scheduler"
    ) as client:
        harness = Harness(events=events, sms=sms, clock=clock, client=client)
        events.queue.append(deal_event(DEAL, volume=3))  # the chain replays the deal: no duplicate
        harness.follow()
        assert client.get("/v1/status").json()["tasks"] == {"pending": 2, "running": 1}
        worker = harness.worker(key)
        assert [t.task_id for t in worker.heartbeat()] == [first.task_id]


def test_after_a_restart_workers_get_a_full_timeout_to_come_back(database_url: str) -> None:
    events, sms, clock = FakeEvents(), FakeSms(), [NOW]
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=sms)
    with TestClient(
        create_app(settings_for(database_url), parts, clock=lambda: clock[0]), base_url="http://s"
    ) as client:
        harness = Harness(events=events, sms=sms, clock=clock, client=client)
        events.queue.append(deal_event(DEAL, volume=1))
        harness.follow()
        worker = harness.worker()
        worker.register(slots=1, tee="simulated", holding=[])
        assert worker.next(wait=0) is not None
    clock[0] += 600  # the scheduler was down for ten minutes: no heartbeat could arrive
    with TestClient(
        create_app(settings_for(database_url), parts, clock=lambda: clock[0]), base_url="http://s"
    ) as client:
        harness = Harness(events=events, sms=sms, clock=clock, client=client)
        assert harness.sweep() == 0
        clock[0] += 31
        assert harness.sweep() == 1  # still silent a full timeout after the restart: lost


def test_a_task_settled_behind_the_schedulers_back_is_recorded_not_retried(harness: Harness) -> None:
    from sealrun.core.chainstate import TaskRecord, TaskStatus
    from sealrun.core.tasks import task_id

    harness.events.queue.append(deal_event(DEAL, volume=2))
    harness.follow()
    first = task_id(DEAL, 0)
    harness.sms.finalized.add(first)
    categories = harness.client.app.state.service._categories  # type: ignore[attr-defined]
    categories.settled[first] = TaskRecord(
        task_id=first, deal_id=DEAL, index=0, status=TaskStatus.COMPLETED, final_deadline=0
    )
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assert worker.next(wait=0) is None
    assert harness.client.get(f"/v1/tasks/0x{first.hex()}").json()["status"] == "completed"
    second = worker.next(wait=0)
    assert second is not None
    assert second.index == 1


def test_a_task_that_keeps_failing_does_not_starve_the_others(harness: Harness) -> None:
    from sealrun.core.tasks import task_id

    harness.events.queue.append(deal_event(DEAL, volume=2))
    harness.follow()
    harness.sms.finalized.add(task_id(DEAL, 0))  # refused by the SMS but not settled on chain
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    with pytest.raises(ServiceError):
        worker.next(wait=0)
    got = worker.next(wait=0)
    assert got is not None
    assert got.index == 1


def test_a_report_must_name_a_reportable_status_and_a_known_task(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    task = assignment.task_id
    service = harness.client.app.state.service  # type: ignore[attr-defined]
    address = harness.client.get(f"/v1/tasks/{task}").json()["worker"]
    for status in ("completed", "pending", "RUNNING", ""):  # only running, submitted, abandoned
        with pytest.raises(ServiceError) as caught:
            worker.report(task, status)  # type: ignore[arg-type]  # over HTTP the schema refuses it first
        assert caught.value.code == "VALIDATION_FAILED"
        with pytest.raises(ServiceError) as caught:
            service.report(address, task, status)  # and the use case itself, behind it
        assert caught.value.code == "STATUS_INVALID"
    assert harness.client.get(f"/v1/tasks/{task}").json()["status"] == "assigned"  # unchanged
    unknown = "0x" + "0f" * 32
    with pytest.raises(ServiceError) as missing:
        worker.report(unknown, "running")
    assert missing.value.code == "TASK_UNKNOWN"
    answer = harness.client.post(f"/v1/tasks/{unknown}/status", json={"status": "running"})
    assert answer.status_code in (400, 401)  # unsigned: refused before the board is read
    assert worker.report(task, "running").status == "running"


def test_an_unreachable_scheduler_is_named_as_such() -> None:
    from eth_account import Account

    from sealrun.adapters.http.scheduler import SchedulerClient
    from sealrun.adapters.localchain.anvil import free_port
    from sealrun.core.requests import RequestDomain

    client = SchedulerClient(
        f"http://127.0.0.1:{free_port()}",
        key=bytes(Account.create().key),
        domain=RequestDomain(chain_id=CHAIN_ID, hub="0x" + "11" * 20),
    )
    try:
        for call in (
            lambda: client.register(slots=1, tee="simulated", holding=[]),
            lambda: client.report("0x" + "0f" * 32, "running"),
            lambda: client.tasks(),
        ):
            with pytest.raises(ServiceError) as caught:
                call()
            assert caught.value.code == "SCHEDULER_UNREACHABLE"
    finally:
        client.close()
