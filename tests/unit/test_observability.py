"""The observability kit: per-app registries, route templates as labels, sampled gauges read at
most once per ttl, readiness checks bounded by a timeout and cached, JSON log lines carrying
the bound task and deal (also from a worker's task thread)."""

from __future__ import annotations

import io
import json
import logging
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.logs import ContextFilter, JsonFormatter, configure_logging, log_context, log_format
from sealrun.adapters.web.observability import Readiness, ServiceMetrics, chain_lag
from sealrun.errors import ConfigError, SealrunError, ServiceError
from sealrun.services.store import StoreSettings, create_app


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _store(root: Path) -> TestClient:
    return TestClient(create_app(StoreSettings(root=root)))  # type: ignore[call-arg]


def test_two_apps_in_one_process_keep_their_own_series(tmp_path: Path) -> None:
    with _store(tmp_path / "a") as first, _store(tmp_path / "b") as second:
        for _ in range(3):
            first.get("/v1/status")
        first.get("/v1/blobs/not-a-checksum")
        text = first.get("/metrics").text
        assert 'sealrun_http_requests_total{method="GET",route="/v1/status",status="200"} 3.0' in text
        # The template of the route, never the path the caller typed.
        assert "not-a-checksum" not in text
        assert 'route="/v1/status"' not in second.get("/metrics").text
        assert first.get("/healthz").json() == {"status": "alive", "service": "store"}
        ready = first.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]) == (200, {"storage": {"ok": True}})


def test_the_store_is_not_ready_without_its_blob_folder(tmp_path: Path) -> None:
    with _store(tmp_path / "blobs") as http:
        (tmp_path / "blobs").rename(tmp_path / "gone")
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"] == {"ok": False, "reason": "OSError"}
        assert str(tmp_path) not in ready.text


def test_a_sampled_gauge_is_read_at_most_once_per_ttl_and_survives_a_failed_read() -> None:
    clock, reads = Clock(), [0]

    def sample() -> dict[tuple[str, ...], float]:
        reads[0] += 1
        if reads[0] == 3:
            raise ServiceError("down", code="SERVICE_UNREACHABLE")
        return {("pending",): float(reads[0])}

    metrics = ServiceMetrics("scheduler")
    gauge = metrics.sampled("sealrun_tasks", "tasks", ["status"], sample, ttl=5.0)
    gauge._clock = clock  # type: ignore[method-assign]
    for _ in range(10):
        assert gauge.values() == {("pending",): 1.0}
    clock.now += 5.0
    assert gauge.values() == {("pending",): 2.0}
    clock.now += 5.0
    assert gauge.values() == {("pending",): 2.0}  # the failed read keeps the last values
    assert b'sealrun_sample_errors_total{metric="sealrun_tasks"} 1.0' in metrics.render()
    assert reads[0] == 3


def test_chain_lag_is_registered_only_for_a_source_that_tells_it() -> None:
    class Follower:
        def lag(self) -> int:
            return 7

    metrics = ServiceMetrics("market")
    chain_lag(metrics, object())
    assert b"sealrun_chain_lag_blocks" not in metrics.render()
    chain_lag(metrics, Follower())
    assert b"sealrun_chain_lag_blocks 7.0" in metrics.render()


def test_readiness_names_each_check_times_out_a_hung_one_and_caches() -> None:
    release, calls = threading.Event(), {"database": 0}

    def database() -> None:
        calls["database"] += 1

    def chain() -> None:
        raise ServiceError("the node at http://user:pw@host is down", code="SERVICE_UNREACHABLE")

    def peer() -> None:
        release.wait(10)

    clock = Clock()
    readiness = Readiness({"database": database, "chain": chain, "sms": peer}, timeout=0.2, ttl=5.0)
    readiness._clock = clock  # type: ignore[method-assign]
    try:
        ready, checks = readiness.status()
        assert not ready
        assert checks == {
            "database": {"ok": True},
            "chain": {"ok": False, "reason": "SERVICE_UNREACHABLE"},  # the code, never the message
            "sms": {"ok": False, "reason": "timeout"},
        }
        for _ in range(20):
            readiness.status()
        assert calls["database"] == 1  # cached: probes cost nothing more
        clock.now += 5.0
        _ready, again = readiness.status()
        assert again["sms"] == {"ok": False, "reason": "timeout"}  # still hung: not started twice
        assert calls["database"] == 2
    finally:
        release.set()


def test_json_lines_carry_the_bound_task_and_deal_in_a_task_thread() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter("worker"))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sealrun.test.observability")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def task() -> None:
        with log_context(task_id="0x" + "ab" * 32, deal_id="0x" + "cd" * 32):
            logger.info("running the enclave")
            try:
                raise SealrunError("boom\n{fake json}", code="X")
            except SealrunError:
                logger.exception("failed")

    try:
        thread = threading.Thread(target=task)
        thread.start()
        thread.join()
        logger.info("not about a task")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3  # one object per line: a message's newline stays escaped
    first, second, third = lines
    assert set(first) == {"ts", "level", "service", "logger", "message", "task_id", "deal_id"}
    assert (first["service"], first["level"], first["task_id"]) == ("worker", "info", "0x" + "ab" * 32)
    assert second["deal_id"] == "0x" + "cd" * 32
    assert "boom" in second["exc"]
    assert "task_id" not in third


def test_log_format_and_context_refuse_unknown_values() -> None:
    assert log_format({}) == "json"
    assert log_format({"SEALRUN_LOG_FORMAT": "TEXT"}) == "text"
    with pytest.raises(ConfigError) as caught:
        log_format({"SEALRUN_LOG_FORMAT": "xml"})
    assert caught.value.code == "CONFIG_INVALID"
    with pytest.raises(ConfigError), log_context(input="secret"):  # type: ignore[arg-type]
        pass
    with pytest.raises(ConfigError):
        configure_logging("store", environ={"SEALRUN_LOG_LEVEL": "LOUD"})


def test_configure_logging_text_form_for_humans() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure_logging("market", environ={"SEALRUN_LOG_FORMAT": "text"}, stream=stream)
        with log_context(task_id="0x01"):
            logging.getLogger("sealrun.x").info("hello")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "INFO market sealrun.x [task_id=0x01]: hello" in stream.getvalue()


def test_probes_during_a_round_get_the_previous_answer_at_once() -> None:
    gate, entered, slow = threading.Event(), threading.Event(), [False]

    def database() -> None:
        if slow[0]:
            entered.set()
            gate.wait(10)

    clock = Clock()
    readiness = Readiness({"database": database}, timeout=10.0, ttl=5.0)
    readiness._clock = clock  # type: ignore[method-assign]
    assert readiness.status() == (True, {"database": {"ok": True}})
    slow[0], clock.now = True, clock.now + 5.0
    answers: list[object] = []
    prober = threading.Thread(target=lambda: answers.append(readiness.status()))
    prober.start()
    try:
        assert entered.wait(10)
        # Another probe while that round runs: the previous answer, without waiting for the lock.
        assert readiness.status() == (True, {"database": {"ok": True}})
    finally:
        gate.set()
        prober.join(10)
    assert answers == [(True, {"database": {"ok": True}})]
