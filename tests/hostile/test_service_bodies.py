"""Hostile request bodies against real service processes (issue 13, findings 4 and 5).

Each service runs as its own process (``tests.hostile.serve``, or the store's ``__main__``) on
loopback. A 200 KB body of 100,000 nested ``[`` used to segfault the SMS (with a
Content-Length) and the market and scheduler (chunked); a chunked body was read whole
whatever its size. Now: 400 ``REQUEST_TOO_DEEP`` / 413 ``TOO_LARGE`` and the service answers
its health check afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sealrun.core.uploads import mint_upload_token
from tests.hostile.rawhttp import deep_json, pieces_of, send
from tests.pool.servers import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STORE_KEY = "hostile-bodies-token-key-0123456"

#: service -> (health path, a route that parses a JSON body, body limit in bytes)
SERVICES = {
    "sms": ("/v1/health", "PUT", "/v1/datasets/0x" + "d5" * 20 + "/key", 4 << 20),
    "market": ("/v1/status", "POST", "/v1/orders", 64 * 1024),
    "scheduler": ("/v1/status", "POST", "/v1/workers", 16 * 1024),
}


class Server:
    """One service process on a loopback port."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, health: str, log: Path) -> None:
        self.port, self.health, self.log = port, health, log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while not self.healthy():
            assert self.process.poll() is None, f"exited at startup:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"never healthy:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{self.health}", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def assert_alive(self) -> None:
        assert self.process.poll() is None, (
            f"the service died ({self.process.returncode}):\n{self.log.read_text()[-3000:]}"
        )
        assert self.healthy()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture(scope="module", params=sorted(SERVICES))
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server]]:
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    port = free_port()
    server = Server(
        ["-m", "tests.hostile.serve", name, str(port), str(folder)],
        {},
        port,
        SERVICES[name][0],
        folder / "log",
    )
    try:
        yield name, server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("store")
    port = free_port()
    env = {
        "SEALRUN_STORE_ROOT": str(folder / "root"),
        "SEALRUN_STORE_PORT": str(port),
        "SEALRUN_STORE_UPLOAD_TOKEN_KEY": STORE_KEY,
        "SEALRUN_STORE_MAX_BLOB_BYTES": str(1 << 20),
    }
    server = Server(["-m", "sealrun.services.store"], env, port, "/v1/status", folder / "log")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_deep_json_is_refused_and_the_service_stays_up(service: tuple[str, Server], chunked: bool) -> None:
    name, server = service
    _, method, path, limit = SERVICES[name]
    body = deep_json()
    answer = send(
        server.port,
        method,
        path,
        pieces_of(body),
        chunked=chunked,
        content_length=None if chunked else len(body),
    )
    refusal = (answer.status, answer.problem()["code"])
    assert answer.headers["content-type"] == "application/problem+json"
    if len(body) <= limit:
        assert refusal == (400, "REQUEST_TOO_DEEP")
    elif not chunked:
        # The declared length alone is over this service's limit: refused before reading.
        assert refusal == (413, "TOO_LARGE")
    else:
        # Whichever guard sees its limit first (depth 65 or the byte count) answers.
        assert refusal in {(400, "REQUEST_TOO_DEEP"), (413, "TOO_LARGE")}
    server.assert_alive()


def test_deep_json_inside_strings_is_not_depth(service: tuple[str, Server]) -> None:
    """Brackets inside a JSON string (escaped quotes included) are data, not nesting."""
    name, server = service
    _, method, path, _ = SERVICES[name]
    body = b'{"value": "' + b'\\"[' * 2000 + b'"}'
    answer = send(server.port, method, path, [body], chunked=True)
    assert answer.problem()["code"] != "REQUEST_TOO_DEEP"
    assert answer.status != 500
    server.assert_alive()


def test_chunked_body_over_the_limit_is_cut_off(service: tuple[str, Server]) -> None:
    name, server = service
    limit = SERVICES[name][3]
    total = max(limit * 16, 32 << 20)  # far more than the limit and the socket buffers
    flat = b'"' + b"a" * (total - 2) + b'"'  # one long string: deep nowhere, large everywhere
    _, method, path, _ = SERVICES[name]
    answer = send(server.port, method, path, pieces_of(flat, 256 * 1024), chunked=True)
    assert (answer.status, answer.problem()["code"]) == (413, "TOO_LARGE")
    # The guard answered while the body was still arriving: the handler never got it whole.
    assert answer.sent < total
    server.assert_alive()


def test_lying_content_length_is_refused(service: tuple[str, Server]) -> None:
    """A Content-Length that is not a decimal number (here: Unicode digits) is refused, not trusted."""
    name, server = service
    _, method, path, _ = SERVICES[name]
    answer = send(server.port, method, path, [b"{}"], chunked=False, headers={"content-length": "²"})
    assert answer.status in (400, 413)
    server.assert_alive()


def test_store_takes_deep_json_as_bytes_and_cuts_chunked_bodies(store: Server) -> None:
    """The store's blobs are bytes, not JSON: stored as such; over the blob limit they are cut off."""
    token = mint_upload_token(STORE_KEY.encode(), b"\x09" * 32, expires_at=int(time.time()) + 600)
    auth = {"authorization": f"Bearer {token}"}
    small = deep_json(200_000)[: 1 << 20]  # 1 MiB of brackets: exactly the blob limit
    digest = hashlib.sha256(small).hexdigest()
    answer = send(store.port, "PUT", f"/v1/blobs/{digest}", pieces_of(small), chunked=True, headers=auth)
    assert answer.status == 200, answer.body
    big = deep_json(4 << 20)
    digest = hashlib.sha256(big).hexdigest()
    answer = send(
        store.port, "PUT", f"/v1/blobs/{digest}", pieces_of(big, 256 * 1024), chunked=True, headers=auth
    )
    assert (answer.status, answer.problem()["code"]) == (413, "STORAGE_TOO_LARGE")
    assert answer.sent < len(big)
    store.assert_alive()
