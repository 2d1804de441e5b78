"""Task events: recorded with every committed change, served as SSE, resumable across restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.http.taskevents import TaskEventsClient, parse_sse
from sealrun.api.scheduler import TaskEventOut
from sealrun.core.requests import RequestDomain
from sealrun.errors import ServiceError
from sealrun.requester import live
from sealrun.services.scheduler.app import SchedulerParts, create_app
from sealrun.services.scheduler.events import StreamCounter
from tests.scheduler.conftest import (
    CHAIN_ID,
    HUB,
    NOW,
    WORKER_KEYS,
    Categories,
    FakeEvents,
    FakeSms,
    Harness,
    deal_event,
    settings_for,
    task_event,
)
from tests.sms.conftest import free_port

DEAL = b"\xda" * 32


@contextmanager
def served(app: FastAPI, port: int) -> Iterator[str]:
    """The app on a real uvicorn server (streams need one: the test client buffers bodies)."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped at startup"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _worker(url: str, clock: list[float]) -> SchedulerClient:
    return SchedulerClient(
        url, key=WORKER_KEYS[0], domain=RequestDomain(chain_id=CHAIN_ID, hub=HUB), clock=lambda: clock[0]
    )


def _statuses(events: list[TaskEventOut]) -> list[str]:
    return [event.status for event in events]


def test_every_status_arrives_in_order_across_a_scheduler_restart(database_url: str) -> None:
    events, clock, port = FakeEvents(), [NOW], free_port()
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=FakeSms())
    seen: list[TaskEventOut] = []
    failures: list[BaseException] = []

    def read(task_id: str, url: str) -> None:
        with TaskEventsClient(url, reconnects=400, sleep=lambda _s: time.sleep(0.05)) as reader:
            try:
                seen.extend(reader.events(task_id, read_timeout=30))
            except BaseException as error:  # reported by the assertion below
                failures.append(error)

    app = create_app(settings_for(database_url), parts, clock=lambda: clock[0])
    with served(app, port) as url:
        events.queue.append(deal_event(DEAL, volume=1))
        events.poll(app.state.service.apply_events)
        with _worker(url, clock) as worker:
            worker.register(slots=1, tee="simulated", holding=[])
            assignment = worker.next(wait=0)
            assert assignment is not None
            reader = threading.Thread(target=read, args=(assignment.task_id, url), daemon=True)
            reader.start()
            worker.report(assignment.task_id, "running")
        while len(seen) < 3 and not failures:
            time.sleep(0.02)  # wait until the reader has the three events, then restart
    # The scheduler is down: the reader reconnects with Last-Event-ID until it is back.
    app = create_app(settings_for(database_url), parts, clock=lambda: clock[0])
    with served(app, port) as url:
        with _worker(url, clock) as worker:
            worker.report(assignment.task_id, "submitted")
        events.queue.append(task_event("TaskCompleted", assignment.task_id, tx=9))
        events.poll(app.state.service.apply_events)
        reader.join(timeout=60)
    assert not failures, failures
    assert _statuses(seen) == ["pending", "assigned", "running", "submitted", "completed"]
    ids = [event.id for event in seen]
    assert ids == sorted(set(ids))
    assert seen[1].worker == seen[2].worker
    assert seen[1].attempt == 1


def test_a_client_that_disconnects_breaks_nothing(database_url: str) -> None:
    events, clock = FakeEvents(), [NOW]
    parts = SchedulerParts(chain_id=CHAIN_ID, events=events, categories=Categories(), challenges=FakeSms())
    app = create_app(settings_for(database_url), parts, clock=lambda: clock[0])
    with served(app, free_port()) as url:
        events.queue.append(deal_event(DEAL, volume=1))
        events.poll(app.state.service.apply_events)
        task_id = httpx.get(f"{url}/v1/tasks").json()[0]["task_id"]
        for _ in range(3):  # read one event, then hang up mid-stream
            with httpx.stream("GET", f"{url}/v1/tasks/{task_id}/events", timeout=10) as response:
                first = next(parse_sse(response.iter_lines()))
                assert first[1] == "status"
        deadline = time.monotonic() + 20
        while app.state.event_streams.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.event_streams.open == 0  # every stream noticed and gave back its slot
        with _worker(url, clock) as worker:
            worker.register(slots=1, tee="simulated", holding=[])
            assert worker.next(wait=0) is not None  # the scheduler goes on serving
        with TaskEventsClient(url) as reader:
            resumed = reader.events(task_id, after=int(first[0]))
            assert next(resumed).status == "assigned"
            resumed.close()


def test_a_finished_task_replays_from_any_event(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    worker.report(assignment.task_id, "abandoned", "the disk filled up")
    harness.clock[0] += 121  # past the retry's backoff
    again = worker.next(wait=0)
    assert again is not None
    harness.events.queue.append(task_event("TaskFailed", assignment.task_id, tx=7, code=3))
    harness.follow()
    reader = TaskEventsClient("http://scheduler", http=harness.client)
    every = list(reader.events(assignment.task_id))
    assert _statuses(every) == ["pending", "assigned", "pending", "assigned", "failed"]
    assert every[2].detail.endswith("the disk filled up")
    assert every[3].attempt == 2
    assert _statuses(list(reader.events(assignment.task_id, after=every[2].id))) == ["assigned", "failed"]
    body = harness.client.get(f"/v1/tasks/{assignment.task_id}/events", headers={"last-event-id": "0"})
    assert body.headers["content-type"].startswith("text/event-stream")
    assert body.text.count("event: status") == 5


def test_bad_cursors_unknown_tasks_and_a_full_house_have_codes(harness: Harness) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    task_id = harness.client.get("/v1/tasks").json()[0]["task_id"]
    bad = harness.client.get(f"/v1/tasks/{task_id}/events", headers={"last-event-id": "-1; drop"})
    assert (bad.status_code, bad.json()["code"]) == (400, "EVENTS_CURSOR_INVALID")
    unknown = harness.client.get(f"/v1/tasks/0x{'00' * 32}/events")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "TASK_UNKNOWN")
    harness.client.app.state.event_streams = StreamCounter(0)  # type: ignore[attr-defined]
    busy = harness.client.get(f"/v1/tasks/{task_id}/events")
    assert (busy.status_code, busy.json()["code"]) == (503, "EVENTS_BUSY")


def test_an_older_scheduler_and_a_bad_frame_are_named() -> None:
    def older(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    client = TaskEventsClient("http://old", http=httpx.Client(transport=httpx.MockTransport(older)))
    with pytest.raises(ServiceError) as caught:
        next(client.events("0x" + "11" * 32))
    assert caught.value.code == "EVENTS_UNSUPPORTED"

    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text='id: 1\nevent: status\ndata: {"id": "x"}\n\n')

    client = TaskEventsClient("http://bad", http=httpx.Client(transport=httpx.MockTransport(garbled)))
    with pytest.raises(ServiceError) as caught:
        next(client.events("0x" + "11" * 32))
    assert caught.value.code == "EVENTS_BAD_FRAME"


class _Chain:
    """What the chain says of a task, read by ``live_changes``: counts its reads."""

    def __init__(self) -> None:
        self.reads = 0
        self.status = "ACTIVE"

    def read(self, _market: object, _task: bytes, _start: int) -> object:
        self.reads += 1
        return SimpleNamespace(
            status=self.status, done=self.status in ("COMPLETED", "FAILED"), timed_out=False
        )


def test_following_a_task_reads_the_chain_only_when_the_pool_says_it_moved(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.events.queue.append(deal_event(DEAL, volume=1))
    harness.follow()
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    worker.report(assignment.task_id, "running")
    harness.events.queue.append(task_event("TaskCompleted", assignment.task_id, tx=8))
    harness.follow()
    chain = _Chain()
    monkeypatch.setattr(live, "read_task", chain.read)
    monkeypatch.setattr(live, "changes", lambda *_a, **_k: pytest.fail("polled"))
    pool: list[str] = []

    def moved(event: TaskEventOut) -> None:
        pool.append(event.status)
        chain.status = "COMPLETED" if event.status == "completed" else "ACTIVE"

    task = bytes.fromhex(assignment.task_id[2:])
    seen = list(
        live.live_changes(
            None,  # type: ignore[arg-type]  # the chain is _Chain's
            task, start_block=0, scheduler="http://scheduler", on_event=moved,
            connect=lambda url: _Lent(url, http=harness.client),
        )
    )  # fmt: skip
    assert pool == ["pending", "assigned", "running", "completed"]
    assert chain.reads == 4  # once per event, never on a timer
    assert [followed.status for followed in seen] == ["ACTIVE", "COMPLETED"]


def test_following_falls_back_to_polling_against_an_older_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    polled: list[float] = []

    def poll(*_args: object, timeout: float, **_kwargs: object) -> Iterator[object]:
        polled.append(timeout)
        yield SimpleNamespace(status="COMPLETED", done=True, timed_out=False)

    monkeypatch.setattr(live, "changes", poll)
    older = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(404)))
    seen = list(
        live.live_changes(
            None,  # type: ignore[arg-type]  # polling is faked
            b"\x11" * 32, start_block=0, scheduler="http://old", timeout=30,
            connect=lambda url: TaskEventsClient(url, http=older),
        )
    )  # fmt: skip
    assert [followed.status for followed in seen] == ["COMPLETED"]
    assert len(polled) == 1


class _Lent(TaskEventsClient):
    """A client on the harness's test client: closing it leaves the harness's client open."""

    def close(self) -> None:
        pass
