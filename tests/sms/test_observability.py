"""The SMS's /metrics, /healthz and /readyz, and its JSON log lines, during a real release.

A release moves ``sealrun_releases_total`` and the latency histogram; a refusal counts with
its code; every log line of the release carries the task and the deal; none of the three
routes is signed or shows a secret; ``/readyz`` answers 503 once its PostgreSQL is gone
(a TCP relay in front of it is closed) and 200 while it is there.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.logs import ContextFilter, JsonFormatter
from sealrun.core.attestation import Evidence, SimulatorKey
from sealrun.core.sealing import Identity
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from sealrun.services.sms.settings import SmsSettings
from tests.sms.conftest import PG_URL, World, make_settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@contextlib.contextmanager
def json_log() -> Iterator[io.StringIO]:
    """Capture every log line of this process as the services write them (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter("sms"))
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _release(client: SmsClient, world: World, **evidence: Any) -> None:
    enclave = client.enclave_challenge(bytes(world.pool_owner.key), world.task)
    identity = Identity.generate()
    nonce = client.attestation_nonce(world.task)
    envelope = Evidence.from_json(world.evidence(nonce, identity, **evidence))
    client.release(
        world.task, nonce=nonce, worker=world.worker.address, authorization=world.authorization(enclave),
        evidence=envelope, ephemeral_recipient=str(identity.recipient),
    )  # fmt: skip


def test_a_release_moves_the_metrics_and_logs_its_task_and_deal(settings: SmsSettings, world: World) -> None:
    app = create_app(settings, chain=world.chain, clock=world.clock)
    with TestClient(app) as http:
        client = SmsClient("http://testserver", domain=world.domain, http=http, clock=world.clock)
        client.push_dataset_key(bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key))
        client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t")
        client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
        before = samples(http.get("/metrics").text)
        with json_log() as log:
            _release(client, world)
            with pytest.raises(SealrunError):
                _release(client, world, debug=True)
        scrape = http.get("/metrics")
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        after = samples(scrape.text)

        released = ("sealrun_releases_total", (("code", ""), ("outcome", "released")))
        refused = ("sealrun_releases_total", (("code", "ATTEST_DEBUG"), ("outcome", "refused")))
        latency = ("sealrun_release_latency_seconds_count", ())
        assert (before.get(released, 0), after[released]) == (0, 1)
        assert after[refused] == 1
        assert after[latency] - before.get(latency, 0) == 2
        route = "/v1/tasks/{task_id}/release"
        requests = ("sealrun_http_requests_total", (("method", "POST"), ("route", route), ("status", "200")))
        assert after[requests] == 1
        # Route templates only: no task id ever becomes a label value.
        task_hex = "0x" + world.task.hex()
        assert task_hex not in scrape.text
        assert "s3cr3t" not in scrape.text

        lines = [json.loads(line) for line in log.getvalue().splitlines()]
        about_release = [line for line in lines if line["logger"] == "sealrun.services.sms.release"]
        assert len(about_release) == 2
        deal_hex = "0x" + world.chain.task(world.task).deal_id.hex()  # type: ignore[union-attr]
        for line in about_release:
            assert {"ts", "level", "service", "logger", "message"} <= set(line)
            assert (line["service"], line["task_id"], line["deal_id"]) == ("sms", task_hex, deal_hex)
        assert "s3cr3t" not in log.getvalue()
        assert str(world.dataset_key) not in log.getvalue()


def test_health_and_readiness_are_unsigned_and_name_their_checks(settings: SmsSettings, world: World) -> None:
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
        assert http.get("/healthz").json() == {"status": "alive", "service": "sms"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "service": "sms", "checks": {"database": {"ok": True}}}
        # The ids a caller types never become series: an unknown path is `<unmatched>`.
        http.get("/v1/tasks/0x" + "ab" * 32 + "/nothing-here")
        assert 'route="<unmatched>"' in http.get("/metrics").text


class Relay:
    """A TCP relay from a loopback port to ``target``; :meth:`close` cuts every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone would leave it listening.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.mark.postgres
def test_readyz_is_503_when_the_database_is_gone(
    tmp_path: Path, simulator: SimulatorKey, world: World, pg_schema: str
) -> None:
    relay = Relay(("127.0.0.1", 5432))
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    settings = make_settings(tmp_path, simulator, database_url=url, database_schema=pg_schema)
    try:
        with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
            http.app.state.readiness.ttl = 0.0  # type: ignore[attr-defined]  # no cache: see each change
            assert http.get("/readyz").status_code == 200
            relay.close()
            down = http.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["status"] == "not ready"
            assert body["checks"]["database"]["ok"] is False
            # A reason, never a message (which could quote the database URL).
            assert "postgres" not in json.dumps(body)
            assert str(relay.port) not in json.dumps(body)
            assert http.get("/healthz").status_code == 200  # alive, just not ready
    finally:
        relay.close()
