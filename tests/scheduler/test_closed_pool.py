"""A closed pool: only listed workers, bounded holds, bounded claims.

- the scheduler does not start without an explicit, non-empty list of its workers;
- every worker call from a signer not on the list is refused ``WORKER_NOT_ALLOWED``;
- an assignment is taken back after its hold limit, however faithfully the worker
  heartbeats (a hostile worker cannot sit on a task until its deadline);
- a task handed out ``max_claims`` times is not handed out again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.errors import ConfigError, ServiceError
from sealrun.services.scheduler.app import SchedulerParts, create_app
from sealrun.services.scheduler.board import TaskBoard
from sealrun.services.scheduler.settings import SchedulerSettings
from sealrun.services.scheduler.usecases import SchedulerService
from tests.scheduler.conftest import (
    ALLOWED,
    CHAIN_ID,
    HUB,
    NOW,
    OWNER,
    POOL,
    Categories,
    FakeEvents,
    FakeSms,
    Harness,
    deal_event,
    settings_for,
)

DEAL = b"\xc1" * 32
STRANGER = b"\x99" * 32


def _refused(call: Callable[[], Any]) -> None:
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.code == "WORKER_NOT_ALLOWED"


@pytest.mark.parametrize("workers", [[], None])
def test_the_scheduler_does_not_start_without_its_worker_list(database_url: str, workers: Any) -> None:
    extra = {} if workers is None else {"allowed_workers": workers}
    with pytest.raises(ConfigError) as caught:
        SchedulerSettings(
            workerpool=POOL,
            owner_key="0x" + OWNER.key.hex(),
            database_url=database_url,
            hub=HUB,
            **extra,  # type: ignore[arg-type]
        )
    assert caught.value.code == "CONFIG_WORKERS_MISSING"


def test_the_service_itself_refuses_an_empty_list() -> None:
    with pytest.raises(ConfigError) as caught:
        SchedulerService(
            TaskBoard(None),  # type: ignore[arg-type]  # never reached
            workerpool=POOL, owner_key=bytes(OWNER.key), challenges=FakeSms(), categories=Categories(),
            clock=lambda: NOW, worker_timeout=30, allowed_workers=[],
        )  # fmt: skip
    assert caught.value.code == "CONFIG_WORKERS_MISSING"


@pytest.mark.parametrize("entry", ["nope", "0x1234", "0x" + "zz" * 20])
def test_a_malformed_worker_list_is_refused(database_url: str, entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(database_url, allowed_workers=[ALLOWED[0], entry])
    assert caught.value.code == "CONFIG_WORKERS_INVALID"


@pytest.mark.parametrize("text", ['["{0}", "{1}"]', "{0},{1}", " {0} , {1} "])
def test_the_environment_takes_a_json_list_or_commas(
    monkeypatch: pytest.MonkeyPatch, database_url: str, text: str
) -> None:
    monkeypatch.setenv("SEALRUN_SCHEDULER_ALLOWED_WORKERS", text.format(*ALLOWED[:2]))
    settings = SchedulerSettings(
        workerpool=POOL,
        owner_key="0x" + OWNER.key.hex(),
        database_url=database_url,
        hub=HUB,  # type: ignore[arg-type]
    )
    assert settings.allowed_workers == ALLOWED[:2]


def test_the_scheduler_process_exits_with_the_code(tmp_path: Any) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SEALRUN_SCHEDULER_WORKERPOOL": POOL,
        "SEALRUN_SCHEDULER_OWNER_KEY": "0x" + OWNER.key.hex(),
        "SEALRUN_SCHEDULER_HUB": HUB,
        "SEALRUN_SCHEDULER_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "sealrun.services.scheduler"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "error [CONFIG_WORKERS_MISSING]" in done.stderr


def test_a_signer_not_on_the_list_is_refused_on_every_call(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    stranger = harness.worker(STRANGER)
    _refused(lambda: stranger.register(slots=1, tee="simulated", holding=[]))
    _refused(stranger.heartbeat)
    _refused(lambda: stranger.next(wait=0))
    _refused(lambda: stranger.report("0x" + "00" * 32, "running"))
    assert harness.client.get("/v1/status").json()["tasks"] == {"pending": 1}


def test_a_worker_taken_off_the_list_stops_at_once(database_url: str) -> None:
    events, sms, clock = FakeEvents(), FakeSms(), [NOW]
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=sms)
    key = b"\x44" * 32
    with TestClient(
        create_app(settings_for(database_url), parts, clock=lambda: clock[0]), base_url="http://s"
    ) as client:
        Harness(events=events, sms=sms, clock=clock, client=client).worker(key).register(
            slots=1, tee="simulated", holding=[]
        )
    others = [address for address in ALLOWED if address != Account.from_key(key).address]
    with TestClient(
        create_app(settings_for(database_url, allowed_workers=others), parts, clock=lambda: clock[0]),
        base_url="http://s",
    ) as client:
        harness = Harness(events=events, sms=sms, clock=clock, client=client)
        events.queue.append(deal_event(DEAL, volume=1))
        harness.follow()
        removed = harness.worker(key)
        _refused(removed.heartbeat)
        _refused(lambda: removed.next(wait=0))


def _service(harness: Harness) -> SchedulerService:
    service: SchedulerService = harness.client.app.state.service  # type: ignore[attr-defined]
    return service


def _hold_forever(
    harness: Harness, worker: SchedulerClient, *, seconds: float, step: float = 20
) -> list[int]:
    """Heartbeat every ``step`` seconds for ``seconds``; return the sweep's count at each step."""
    taken = []
    for _ in range(int(seconds / step)):
        harness.clock[0] += step
        worker.heartbeat()
        taken.append(harness.sweep())
    return taken


def test_a_worker_that_heartbeats_forever_loses_the_task_after_the_hold_limit(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1, deadline=int(NOW) + 100_000))
    harness.follow()
    squatter, honest = harness.worker(), harness.worker()
    squatter.register(slots=1, tee="simulated", holding=[])
    task = squatter.next(wait=0)
    assert task is not None
    # The category's time is 300 s: the default limit is 2 x 300 + 60 = 660 s.
    assert _service(harness).hold_limit(_service(harness).board.deal(task.deal_id)) == 660  # type: ignore[arg-type]
    taken = _hold_forever(harness, squatter, seconds=700)
    assert taken.count(1) == 1
    assert taken.index(1) == 660 // 20  # the first sweep past 660 s
    assert squatter.heartbeat() == []
    honest.register(slots=1, tee="simulated", holding=[])
    again = honest.next(wait=0)
    assert again is not None
    assert (again.task_id, again.attempt) == (task.task_id, 2)


def test_the_hold_limit_can_be_set(harness: Harness) -> None:
    _service(harness).max_hold_time = 100
    harness.events.queue.append(deal_event(DEAL, volume=1, deadline=int(NOW) + 100_000))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assert worker.next(wait=0) is not None
    assert _hold_forever(harness, worker, seconds=120) == [0, 0, 0, 0, 0, 1]


def test_a_hold_past_the_limit_near_the_deadline_expires(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1, deadline=int(NOW) + 900))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    task = worker.next(wait=0)
    assert task is not None
    _hold_forever(harness, worker, seconds=700)
    assert harness.client.get(f"/v1/tasks/{task.task_id}").json()["status"] == "expired"


def test_a_task_is_handed_out_at_most_max_claims_times(harness: Harness) -> None:
    _service(harness).max_claims = 2
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    handed = []
    for _ in range(2):
        task = worker.next(wait=0)
        assert task is not None
        handed.append(task.task_id)
        worker.report(task.task_id, "abandoned")
        harness.clock[0] += 5  # past the backoff (at most 2 s, then 4 s, by default)
    assert worker.next(wait=0) is None
    harness.sweep()
    assert harness.client.get(f"/v1/tasks/{handed[0]}").json()["status"] == "expired"
