"""``SchedulerClient`` against the real scheduler app in process: typed answers, signatures the
scheduler verifies, and its codes."""

from __future__ import annotations

import pytest

from sealrun.api.scheduler import AssignmentOut, RegisterOut
from sealrun.errors import RequestError, ServiceError
from tests.scheduler.conftest import NOW, Harness, deal_event

DEAL = b"\xde" * 32


def test_a_worker_registers_takes_and_reports_with_typed_answers(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    registered = worker.register(slots=1, tee="simulated", holding=[])
    assert isinstance(registered, RegisterOut)
    assert registered.released == []
    assignment = worker.next(wait=0)
    assert isinstance(assignment, AssignmentOut)
    assert assignment.deal.deal_id == "0x" + DEAL.hex()
    assert assignment.attempt == 1
    assert worker.report(assignment.task_id, "running").status == "running"
    assert [task.task_id for task in worker.heartbeat()] == [assignment.task_id]
    assert [task.status for task in worker.tasks()] == ["running"]


def test_the_scheduler_verifies_the_signature(harness: Harness) -> None:
    worker = harness.worker()
    worker._auth._clock = lambda: NOW - 3600  # type: ignore[method-assign]
    with pytest.raises(RequestError) as stale:
        worker.register(slots=1, tee="simulated", holding=[])
    assert stale.value.code == "REQUEST_EXPIRED"
    with pytest.raises(ServiceError) as unknown:
        harness.worker().next(wait=0)
    assert unknown.value.code == "WORKER_UNKNOWN"
