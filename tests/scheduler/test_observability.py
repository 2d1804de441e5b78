"""The scheduler's /metrics: the board's tasks by status, their attempts and the pending queue
move as a deal arrives and a worker takes a task; /readyz names its checks (database, chain,
SMS), unsigned."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.scheduler.conftest import Harness, deal_event

DEAL = b"\xde" * 32


def _gauges(harness: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = harness.client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_board_series_move_when_a_task_is_taken(harness: Harness) -> None:
    harness.client.app.state.metrics.sample_every(0.0)  # type: ignore[attr-defined]
    empty = _gauges(harness)
    assert ("sealrun_queue_depth", (("queue", "board"),)) in empty
    assert empty[("sealrun_queue_depth", (("queue", "board"),))] == 0
    harness.events.queue.append(deal_event(DEAL, volume=2))
    harness.follow()
    pending = _gauges(harness)
    assert pending[("sealrun_tasks", (("status", "pending"),))] == 2
    assert pending[("sealrun_queue_depth", (("queue", "board"),))] == 2
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assert worker.next(wait=0) is not None
    taken = _gauges(harness)
    assert taken[("sealrun_tasks", (("status", "pending"),))] == 1
    assert taken[("sealrun_tasks", (("status", "assigned"),))] == 1
    assert taken[("sealrun_task_attempts", (("status", "assigned"),))] == 1
    assert taken[("sealrun_queue_depth", (("queue", "board"),))] == 1
    routes = {dict(labels)["route"] for (name, labels) in taken if name == "sealrun_http_requests_total"}
    assert "/v1/assignments/next" in routes  # the template, never a path a caller typed


def test_readyz_names_its_checks_and_needs_no_signature(harness: Harness) -> None:
    harness.client.app.state.readiness.timeout = 0.5  # type: ignore[attr-defined]
    ready = harness.client.get("/readyz")
    body = ready.json()
    assert set(body["checks"]) == {"leader", "database", "chain", "sms"}
    assert body["checks"]["leader"] == {"ok": True}  # SQLite or an uncontested PostgreSQL: active
    assert body["checks"]["database"] == {"ok": True}
    assert ready.status_code == (200 if all(c["ok"] for c in body["checks"].values()) else 503)
    assert harness.client.get("/healthz").json() == {"status": "alive", "service": "scheduler"}
