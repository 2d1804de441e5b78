"""Self-healing tasks at the scheduler: failed attempts retried with backoff, or not, and recorded.

In-process scheduler on a fake clock (SQLite and PostgreSQL), workers as signed clients.
"""

from __future__ import annotations

import random

import pytest

from sealrun.adapters.http.scheduler import SchedulerClient, SchedulerReader
from sealrun.cli.task import attempt_lines
from sealrun.errors import ConfigError, ServiceError
from sealrun.requester.attempts import task_attempts
from sealrun.services.scheduler.usecases import SchedulerService
from tests.scheduler.conftest import NOW, Harness, deal_event, settings_for

DEAL = b"\x42" * 32


def _service(harness: Harness) -> SchedulerService:
    service: SchedulerService = harness.client.app.state.service  # type: ignore[attr-defined]
    service._rng = random.Random(5)  # the jitter, seeded
    return service


def _one_task(
    harness: Harness, *, workers: int = 1, deadline: int = int(NOW) + 3000
) -> list[SchedulerClient]:
    _service(harness)
    harness.events.queue.append(deal_event(DEAL, volume=1, deadline=deadline))
    harness.follow()
    clients = [harness.worker() for _ in range(workers)]
    for client in clients:
        client.register(slots=1, tee="simulated", holding=[])
    return clients


def test_an_infrastructure_failure_is_retried_after_a_backoff_on_another_worker(harness: Harness) -> None:
    first, second = _one_task(harness, workers=2)
    assignment = first.next(wait=0)
    assert assignment is not None
    answer = first.report(assignment.task_id, "retry", "the store is down", code="INPUT_UNAVAILABLE")
    assert answer.status == "pending"  # the worker forgets the task; its receipt is never settled
    assert answer.next_retry_at is not None
    assert NOW <= answer.next_retry_at <= NOW + 2
    assert first.next(wait=0) is None
    assert second.next(wait=0) is None
    harness.clock[0] = answer.next_retry_at + 0.01
    assert first.next(wait=0) is None  # the worker it failed on waits while another is alive
    retried = second.next(wait=0)
    assert retried is not None
    assert retried.task_id == assignment.task_id
    assert retried.attempt == 2
    history = first.attempts(assignment.task_id)
    assert [(a.number, a.outcome, a.code, a.failure_class) for a in history.attempts] == [
        (1, "retry", "INPUT_UNAVAILABLE", "infrastructure"),
        (2, "running", None, None),
    ]
    one = history.attempts[0]
    assert one.started_at == NOW
    assert one.ended_at == NOW
    assert one.next_retry_at == answer.next_retry_at
    assert history.attempts[0].worker != history.attempts[1].worker  # retried elsewhere


def test_the_failed_worker_takes_the_retry_when_it_is_alone(harness: Harness) -> None:
    (only,) = _one_task(harness)
    assignment = only.next(wait=0)
    assert assignment is not None
    answer = only.report(assignment.task_id, "abandoned", "no SMS", code="SMS_UNREACHABLE")
    assert answer.status == "pending"
    assert answer.next_retry_at is not None
    harness.clock[0] = answer.next_retry_at
    assert only.next(wait=0) is not None


def test_an_app_failure_is_not_retried_and_its_receipt_is_settled(harness: Harness) -> None:
    (worker,) = _one_task(harness)
    assignment = worker.next(wait=0)
    assert assignment is not None
    worker.report(assignment.task_id, "running")
    answer = worker.report(assignment.task_id, "retry", "exit 3", code="APP_EXIT_NONZERO")
    assert answer.status == "running"
    assert answer.next_retry_at is None
    (attempt,) = worker.attempts(assignment.task_id).attempts
    assert (attempt.outcome, attempt.code, attempt.failure_class) == ("settle", "APP_EXIT_NONZERO", "app")
    assert "no retry" in attempt.detail
    worker.report(assignment.task_id, "submitted", "0xtx")
    assert worker.attempts(assignment.task_id).attempts[0].outcome == "settle"  # the chain tells the rest


def test_an_app_failure_without_a_receipt_expires(harness: Harness) -> None:
    (worker,) = _one_task(harness)
    assignment = worker.next(wait=0)
    assert assignment is not None
    answer = worker.report(assignment.task_id, "abandoned", "refused", code="ATTEST_POLICY_MRENCLAVE")
    assert answer.status == "expired"
    (attempt,) = worker.attempts(assignment.task_id).attempts
    assert (attempt.outcome, attempt.failure_class) == ("given_up", "app")


def test_no_retry_past_the_deadline_margin_the_receipt_stands(harness: Harness) -> None:
    # category time 300 s + the default margin of 120 s: a deadline 400 s away leaves no retry.
    (worker,) = _one_task(harness, deadline=int(NOW) + 400)
    assignment = worker.next(wait=0)
    assert assignment is not None
    answer = worker.report(assignment.task_id, "retry", code="RESULT_UPLOAD_FAILED")
    assert answer.status == "assigned"  # held: the worker settles the attested failure
    (attempt,) = worker.attempts(assignment.task_id).attempts
    assert (attempt.outcome, attempt.failure_class) == ("settle", "infrastructure")
    assert "deadline" in attempt.detail


def test_a_give_back_without_a_code_is_an_infrastructure_failure(harness: Harness) -> None:
    (worker,) = _one_task(harness)
    assignment = worker.next(wait=0)
    assert assignment is not None
    assert worker.report(assignment.task_id, "abandoned", "the worker failed").status == "pending"
    (attempt,) = worker.attempts(assignment.task_id).attempts
    assert (attempt.code, attempt.failure_class) == ("WORKER_ABANDONED", "infrastructure")


def test_an_sms_outage_is_retried_with_a_growing_backoff_not_hammered(harness: Harness) -> None:
    (worker,) = _one_task(harness)
    harness.sms.failing = True
    polls, codes = 0, []
    while harness.clock[0] < NOW + 120:  # a worker polling every half second for two minutes
        polls += 1
        try:
            worker.next(wait=0)
        except ServiceError as error:
            codes.append(error.code)
        harness.clock[0] += 0.5
    assert polls == 240
    assert set(codes) == {"SMS_UNREACHABLE"}
    failures = len(codes)
    assert 3 <= failures <= 10  # 2 s, 4 s, 8 s, ... windows: not one attempt per poll
    history = worker.attempts(_task_of(harness))
    waits = [a.next_retry_at - a.ended_at for a in history.attempts if a.next_retry_at and a.ended_at]
    assert len(waits) == failures
    assert all(a.code == "SMS_UNREACHABLE" and a.failure_class == "infrastructure" for a in history.attempts)
    # the windows double: the later waits are longer than the first ones on the whole
    assert sum(waits[-3:]) > sum(waits[:3])
    assert history.task.attempts == 0  # never handed out: max_claims is not spent by the SMS's outage
    harness.sms.failing = False
    harness.clock[0] += 130
    assert worker.next(wait=0) is not None


def _task_of(harness: Harness) -> str:
    (task,) = harness.client.get("/v1/tasks").json()
    return str(task["task_id"])


def test_a_failure_code_must_be_a_code(harness: Harness) -> None:
    (worker,) = _one_task(harness)
    assignment = worker.next(wait=0)
    assert assignment is not None
    for bad in ("lower", "A" * 65, "X-Y", "1ABC", ""):
        with pytest.raises(ServiceError) as caught:
            worker.report(assignment.task_id, "retry", code=bad)
        assert caught.value.code == "VALIDATION_FAILED"
    address = harness.client.get(f"/v1/tasks/{assignment.task_id}").json()["worker"]
    with pytest.raises(ServiceError) as refused:
        _service(harness).report(address, assignment.task_id, "retry", code="not a code")
    assert refused.value.code == "STATUS_INVALID"
    assert harness.client.get(f"/v1/tasks/{assignment.task_id}").json()["status"] == "assigned"


def test_attempts_of_an_unknown_task(harness: Harness) -> None:
    answer = harness.client.get(f"/v1/tasks/0x{'0f' * 32}/attempts")
    assert answer.status_code == 404
    assert answer.json()["code"] == "TASK_UNKNOWN"


def test_the_retry_settings_are_validated(database_url: str) -> None:
    settings = settings_for(database_url, retry_base_delay=0.5, retry_max_delay=4, retry_deadline_margin=30)
    policy = settings.retry_policy()
    assert (policy.base_delay, policy.max_delay, policy.deadline_margin) == (0.5, 4, 30)
    with pytest.raises(ConfigError) as caught:
        settings_for(database_url, retry_base_delay=10, retry_max_delay=5)
    assert caught.value.code == "CONFIG_RETRY_INVALID"
    for bad in ({"retry_base_delay": 0}, {"retry_deadline_margin": -1}, {"retry_max_delay": float("inf")}):
        with pytest.raises(ValueError, match="retry_"):
            settings_for(database_url, **bad)


def test_task_show_reads_the_attempts_and_says_why_each_ended(harness: Harness) -> None:
    first, second = _one_task(harness, workers=2)
    assignment = first.next(wait=0)
    assert assignment is not None
    answer = first.report(assignment.task_id, "retry", code="INPUT_UNAVAILABLE")
    assert answer.next_retry_at is not None
    reader = SchedulerReader("http://scheduler", http=harness.client)
    task = bytes.fromhex(assignment.task_id[2:])
    pool = task_attempts("http://scheduler", task, reader=reader)
    assert pool["next_retry_at"] == answer.next_retry_at
    (attempt,) = pool["attempts"]
    assert (attempt["number"], attempt["outcome"], attempt["code"], attempt["failure_class"]) == (
        1, "retry", "INPUT_UNAVAILABLE", "infrastructure",
    )  # fmt: skip
    (line,) = attempt_lines(pool)
    assert line.startswith("attempt 1 on 0x")
    assert "retry INPUT_UNAVAILABLE (infrastructure), retry at " in line
    harness.clock[0] = answer.next_retry_at + 60
    assert second.next(wait=0) is not None
    lines = attempt_lines(task_attempts("http://scheduler", task, reader=reader))
    assert len(lines) == 2
    assert lines[1].endswith("→ … running")
    # another pool's task, or a scheduler that is down: said, not fatal
    unknown = task_attempts("http://scheduler", b"\x0f" * 32, reader=reader)
    assert unknown == {"error": {"code": "TASK_UNKNOWN", "message": unknown["error"]["message"]}}
    assert attempt_lines(unknown) == ["attempts: not read from the scheduler (TASK_UNKNOWN)"]
    down = task_attempts("http://127.0.0.1:9", task)
    assert down["error"]["code"] == "SCHEDULER_UNREACHABLE"
