"""Every service of a real pool (processes on loopback) exposes /metrics, /healthz and /readyz;
the named series exist, and move when a task runs; the worker's and the SMS's JSON log lines
about the task carry its task id and deal id."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.http.sms import SmsClient
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity
from sealrun.core.tasks import task_id as task_id_of
from tests.pool.deals import fill_deal
from tests.pool.world import PoolWorld, build_world, start_services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.extended]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
SERVICES = ("store", "sms", "market", "scheduler", "worker-0")


@pytest.fixture(scope="module")
def world() -> Iterator[PoolWorld]:
    world = build_world(workers=1)
    try:
        start_services(world, workers=1)
        yield world
    finally:
        world.close()


def _url(world: PoolWorld, name: str) -> str:
    return f"http://127.0.0.1:{world.ports[name]}"


def scrape(world: PoolWorld, name: str) -> Samples:
    text = httpx.get(_url(world, name) + "/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def names(samples: Samples) -> set[str]:
    return {name for name, _labels in samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_service_is_observable_and_its_series_move_with_a_task(world: PoolWorld) -> None:
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    sms = SmsClient(world.url_of("sms"), domain=domain)
    sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
    sms.close()
    for name in SERVICES:
        assert httpx.get(_url(world, name) + "/healthz", timeout=10).json()["status"] == "alive"
        ready = httpx.get(_url(world, name) + "/readyz", timeout=10)
        assert ready.status_code == 200, (name, ready.json())
    before = {name: scrape(world, name) for name in SERVICES}
    assert all("sealrun_http_requests_total" in names(s) for s in before.values())
    assert {"sealrun_chain_lag_blocks"} <= names(before["market"])
    assert {"sealrun_chain_lag_blocks", "sealrun_queue_depth"} <= names(before["scheduler"])
    assert {"sealrun_tasks", "sealrun_queue_depth"} <= names(before["worker-0"])
    assert "sealrun_release_latency_seconds_count" in names(before["sms"])

    deal = fill_deal(world, volume=1)
    statuses = world.wait_tasks(deal.deal_id, 1, timeout=300)
    assert statuses == [HubTaskStatus.COMPLETED], world.root
    task_hex = "0x" + task_id_of(deal.deal_id, 0).hex()
    deal_hex = "0x" + deal.deal_id.hex()

    deadline = time.monotonic() + 60  # the scheduler's board follows the outcome (sampled every 5 s)
    while value(scrape(world, "scheduler"), "sealrun_tasks", status="completed") < 1:
        assert time.monotonic() < deadline, scrape(world, "scheduler")
        time.sleep(1)
    after = {name: scrape(world, name) for name in SERVICES}
    assert value(after["sms"], "sealrun_releases_total", outcome="released", code="") == 1
    assert value(after["sms"], "sealrun_release_latency_seconds_count") == 1
    assert value(after["worker-0"], "sealrun_tasks", status="settled") == 1
    assert value(after["scheduler"], "sealrun_task_attempts", status="completed") >= 1
    assert value(after["scheduler"], "sealrun_chain_lag_blocks") >= 0
    for name in SERVICES:
        moved = sum(v for (n, _l), v in after[name].items() if n == "sealrun_http_requests_total")
        still = sum(v for (n, _l), v in before[name].items() if n == "sealrun_http_requests_total")
        assert moved > still, name
    # No task id in any series: routes are templates.
    assert all(task_hex not in str(labels) for s in after.values() for (_n, labels) in s)

    for name, logger in (("worker-0", "sealrun.services.worker"), ("sms", "sealrun.services.sms")):
        lines = [
            json.loads(line)
            for line in (world.root / "logs" / f"{name}.log").read_text().splitlines()
            if line.startswith("{")
        ]
        about = [line for line in lines if line.get("task_id") == task_hex]
        assert about, (name, lines[-5:])
        assert all(line["deal_id"] == deal_hex for line in about), about
        assert any(line["logger"].startswith(logger) for line in about), about
