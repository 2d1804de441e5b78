"""The worker's /metrics (tasks running and settled, the settlement queue) and its JSON log
lines: a task run in the worker's task thread logs with its task id and deal id."""

from __future__ import annotations

import io
import json
import logging
import time
from functools import partial
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sealrun.adapters.logs import ContextFilter, JsonFormatter
from sealrun.services.worker.app import create_app
from tests.worker.test_worker import ASSIGNMENT, TASK, Hub, Scheduler, Tee, make, report


def _values(http: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(http.get("/metrics").text)
        for sample in family.samples
    }


def test_a_settled_task_moves_the_series_and_its_lines_name_it(tmp_path: Path) -> None:
    worker = make(tmp_path, Tee(report()), Hub(), Scheduler())
    http = TestClient(create_app(worker, tee="simulated"))  # no lifespan: the loop stays off
    before = _values(http)
    assert before[("sealrun_tasks", (("status", "running"),))] == 0
    assert before[("sealrun_queue_depth", (("queue", "settlement"),))] == 0
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter("worker"))
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        worker._spawn(TASK, partial(worker.execute, ASSIGNMENT), deal_id=ASSIGNMENT.deal_id)
        deadline = time.monotonic() + 30
        while worker.busy():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    after = _values(http)
    assert after[("sealrun_tasks", (("status", "settled"),))] == 1
    assert after[("sealrun_tasks", (("status", "running"),))] == 0
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    settled = [line for line in lines if "settled in" in line["message"]]
    assert len(settled) == 1
    assert (settled[0]["task_id"], settled[0]["deal_id"]) == (TASK, ASSIGNMENT.deal_id)
    assert http.get("/readyz").json() == {"status": "ready", "service": "worker", "checks": {}}
