"""The request-body guards: the JSON depth scanner (properties), the recursion limit, byte counting."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from sealrun.adapters.web import (
    SAFE_RECURSION_LIMIT,
    BodySizeLimit,
    install_problem_handlers,
)
from sealrun.adapters.web.guards import JsonDepthScanner, JsonTooDeepError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('ab[]{}"\\\n é')),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=30,
)


def true_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((true_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((true_depth(item) for item in value.values()), default=0)
    return 0


def scan(text: bytes, cuts: list[int], max_depth: int = 10_000) -> int:
    scanner = JsonDepthScanner(max_depth)
    start = 0
    for cut in sorted({min(c, len(text)) for c in cuts}):
        scanner.feed(text[start:cut])
        start = cut
    scanner.feed(text[start:])
    return scanner.deepest


@given(json_values, st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_the_scanner_finds_the_true_depth_however_the_body_is_cut(value: Any, cuts: list[int]) -> None:
    text = json.dumps(value, ensure_ascii=False).encode()
    assert scan(text, cuts) == true_depth(value)


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=300))
def test_the_scanner_stops_just_past_the_limit(limit: int, depth: int) -> None:
    text = b"[" * depth + b"]" * depth
    if depth > limit:
        with pytest.raises(JsonTooDeepError):
            scan(text, [], limit)
    else:
        assert scan(text, [], limit) == depth


def test_an_escape_split_across_chunks_still_escapes() -> None:
    scanner = JsonDepthScanner(2)
    for chunk in (b'["\\', b'"[[[[[', b'"]'):
        scanner.feed(chunk)
    assert scanner.deepest == 1


@pytest.fixture
def high_recursion_limit() -> Iterator[None]:
    """What importing py_ecc/py-evm does; put back after the test."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    yield
    sys.setrecursionlimit(before)


def echo_app(limit: int | None = None) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    install_problem_handlers(app)
    if limit is not None:
        app.add_middleware(BodySizeLimit, limit=limit)
    return app


@pytest.mark.usefixtures("high_recursion_limit")
def test_a_service_runs_with_a_safe_recursion_limit() -> None:
    app = echo_app()
    sys.setrecursionlimit(100_000)  # an import after the app was built
    with TestClient(app) as client:
        assert sys.getrecursionlimit() == SAFE_RECURSION_LIMIT
        sys.setrecursionlimit(100_000)  # an import while serving
        assert client.post("/echo", content=b"[]").status_code == 200
        assert sys.getrecursionlimit() == SAFE_RECURSION_LIMIT
    with pytest.raises(RecursionError):
        json.loads("[" * 100_000 + "]" * 100_000)


def test_bodies_are_counted_as_received_not_as_declared() -> None:
    with TestClient(echo_app(limit=1000)) as client:
        ok = client.post("/echo", content=iter([b"a" * 500, b"a" * 500]))
        assert ok.json() == {"size": 1000}
        chunked = client.post("/echo", content=iter([b"a" * 600, b"a" * 600]))
        assert (chunked.status_code, chunked.json()["code"]) == (413, "TOO_LARGE")
        declared = client.post("/echo", content=b"a" * 1001)
        assert (declared.status_code, declared.json()["code"]) == (413, "TOO_LARGE")
        unicode_length = client.post("/echo", content=b"{}", headers={b"content-length": "²".encode()})
        assert unicode_length.status_code in (400, 413)
        deep = client.post("/echo", content=iter([b"[" * 40, b"[" * 40]))
        assert (deep.status_code, deep.json()["code"]) == (400, "REQUEST_TOO_DEEP")


def test_a_database_outage_is_a_503_db_unavailable_not_an_internal_error() -> None:
    """Found on the multi-host rig: PostgreSQL restarting made the SMS's deal index raise
    SQLAlchemy's OperationalError, answered 500 INTERNAL, which a task's retry policy reads as
    the app's failure (not retried). It is the infrastructure's: 503 ``DB_UNAVAILABLE``."""
    import sqlalchemy as sa

    app = echo_app()
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")

    @app.get("/query")
    async def query() -> dict[str, int]:
        with engine.connect() as connection:  # nothing listens on port 1: connection refused
            return {"one": int(connection.execute(sa.text("SELECT 1")).scalar_one())}

    @app.get("/bug")
    async def bug() -> dict[str, int]:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        down = client.get("/query")
        assert down.status_code == 503
        assert down.json()["code"] == "DB_UNAVAILABLE"
        assert "127.0.0.1" not in down.text  # the URL stays in the server
        bug_answer = client.get("/bug")
        assert (bug_answer.status_code, bug_answer.json()["code"]) == (500, "INTERNAL")
    engine.dispose()
