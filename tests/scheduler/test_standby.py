"""Active/standby schedulers on one PostgreSQL database (the pool's advisory lock).

Fast, in one process: each scheduler has its own engine (its own connections), as two
processes would. The whole-process test (two real scheduler processes, ``kill -9`` of the
active one, a task completing through the standby) is ``tests/pool/test_failover.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from sealrun.adapters.db import create_database_engine
from sealrun.errors import ServiceError
from sealrun.services.scheduler.app import SchedulerParts, create_app
from sealrun.services.scheduler.leadership import Leadership
from tests.databases import database_url as fresh_database
from tests.scheduler.conftest import CHAIN_ID, NOW, POOL, Categories, FakeEvents, FakeSms, settings_for


def test_sqlite_keeps_one_scheduler_always_active() -> None:
    engine = create_database_engine("sqlite://")
    leadership = Leadership(engine, POOL)
    assert leadership.elect() == "single"
    assert leadership.active
    leadership.require_active()
    engine.dispose()


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """The election is PostgreSQL's (SQLite: ``test_sqlite_keeps_one_scheduler_always_active``)."""
    with fresh_database("postgres", tmp_path) as url:
        yield url


@pytest.mark.postgres
def test_the_standby_takes_over_when_the_active_connection_dies(postgres_url: str) -> None:
    database_url = postgres_url
    engines = [create_database_engine(database_url) for _ in range(2)]
    took_over: list[str] = []
    first = Leadership(engines[0], POOL, on_active=lambda: took_over.append("first"))
    second = Leadership(
        engines[1], POOL.upper().replace("0X", "0x"), on_active=lambda: took_over.append("second")
    )
    try:
        assert first.elect() == "active"
        # The server probes the lock's connection: a crashed host frees the lock in seconds.
        lease = first._lease._connection  # type: ignore[union-attr]
        assert lease.execute(text("SHOW tcp_keepalives_idle")).scalar() == "5"  # type: ignore[union-attr]
        assert lease.execute(text("SHOW tcp_user_timeout")).scalar() == "15000"  # type: ignore[union-attr]
        assert second.elect() == "standby"
        assert second.elect() == "standby"  # trying again changes nothing while the active lives
        with pytest.raises(ServiceError) as caught:
            second.require_active()
        assert caught.value.code == "SERVICE_STANDBY"
        # The active's lock connection dies (its process was killed, the server noticed).
        pid = first._lease._connection.execute(text("SELECT pg_backend_pid()")).scalar()  # type: ignore[union-attr]
        with engines[1].begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while second.elect() != "active" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert second.role == "active"
        assert first.elect() == "standby"  # the old active notices and steps down
        assert first.elect() == "standby"  # and cannot take the lock back while it is held
        assert took_over == ["first", "second"]
        second.release()
        assert first.elect() == "active"
    finally:
        first.release()
        second.release()
        for engine in engines:
            engine.dispose()


@pytest.fixture
def pair(postgres_url: str) -> Iterator[list[TestClient]]:
    database_url = postgres_url
    clients = []
    for _ in range(2):
        parts = SchedulerParts(
            chain_id=CHAIN_ID, events=FakeEvents(), categories=Categories(), challenges=FakeSms()
        )
        app = create_app(settings_for(database_url), parts, clock=lambda: NOW)
        client = TestClient(app, base_url="http://scheduler")
        client.__enter__()  # runs the lifespan: the first round of the election
        clients.append(client)
    yield clients
    for client in clients:
        client.__exit__(None, None, None)


@pytest.mark.postgres
def test_a_standby_serves_health_not_scheduling_and_takes_over(pair: list[TestClient]) -> None:
    active, standby = pair
    for client in pair:
        client.app.state.readiness.timeout = 0.5  # type: ignore[attr-defined]
        client.app.state.readiness.ttl = 0  # type: ignore[attr-defined]
    assert standby.get("/healthz").status_code == 200
    refused = standby.post("/v1/workers", json={})
    assert refused.status_code == 503
    assert refused.json()["code"] == "SERVICE_STANDBY"
    assert active.post("/v1/workers", json={}).status_code != 503  # unsigned: 401, but served
    ready = standby.get("/readyz").json()
    assert ready["checks"]["leader"] == {"ok": False, "reason": "SERVICE_STANDBY"}
    assert active.get("/readyz").json()["checks"]["leader"] == {"ok": True}
    metrics = standby.get("/metrics").text
    assert 'sealrun_scheduler_role{role="standby"} 1.0' in metrics
    assert 'sealrun_scheduler_role{role="active"} 0.0' in metrics
    active.__exit__(None, None, None)  # a shutdown gives the lock up
    deadline = time.monotonic() + 10
    while standby.post("/v1/workers", json={}).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert standby.app.state.leadership.role == "active"  # type: ignore[attr-defined]
    assert 'sealrun_scheduler_role{role="active"} 1.0' in standby.get("/metrics").text
    pair.remove(active)


@pytest.mark.postgres
def test_pools_in_two_schemas_of_one_database_do_not_elect_each_other(tmp_path: Path) -> None:
    with (
        fresh_database("postgres", tmp_path, prefix="sa") as first_url,
        fresh_database("postgres", tmp_path, prefix="sb") as second_url,
    ):
        engines = [create_database_engine(first_url), create_database_engine(second_url)]
        leaders = [Leadership(engine, POOL) for engine in engines]
        try:
            assert [leader.elect() for leader in leaders] == ["active", "active"]
        finally:
            for leader in leaders:
                leader.release()
            for engine in engines:
                engine.dispose()
