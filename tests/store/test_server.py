"""The store as a real server: ``python -m sealrun.services.store`` on loopback, and a crash mid-upload."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sealrun.adapters.http.store import StoreClient
from sealrun.core.uploads import mint_upload_token
from tests.pool.servers import ServiceProcess, free_port

KEY = "real-server-token-key-0123456789"
TASK = b"\x07" * 32


def store_process(root: Path, port: int, log: Path) -> ServiceProcess:
    env = {
        "SEALRUN_STORE_ROOT": str(root),
        "SEALRUN_STORE_PORT": str(port),
        "SEALRUN_STORE_UPLOAD_TOKEN_KEY": KEY,
    }
    return ServiceProcess(
        "sealrun.services.store", env, health_url=f"http://127.0.0.1:{port}/v1/status", log=log
    )


@pytest.mark.e2e
def test_store_server_survives_kill_9_during_an_upload(tmp_path: Path) -> None:
    root, port = tmp_path / "store", free_port()
    url = f"http://127.0.0.1:{port}"
    token = mint_upload_token(KEY.encode(), TASK, expires_at=int(time.time()) + 600)
    data = secrets.token_bytes(4 << 20)
    checksum = hashlib.sha256(data).hexdigest()
    server = store_process(root, port, tmp_path / "store.log").start()
    kept = secrets.token_bytes(1000)  # stored before the crash: counted in the quota after it
    response = httpx.put(f"{url}/v1/blobs/{hashlib.sha256(kept).hexdigest()}", content=kept,
                         headers={"authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    half_sent = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield data[: 2 << 20]
        half_sent.set()
        time.sleep(30)  # the server is killed while waiting for the rest
        yield data[2 << 20 :]

    def upload() -> None:
        with contextlib.suppress(httpx.TransportError):
            httpx.put(
                f"{url}/v1/blobs/{checksum}",
                content=slow_body(),
                headers={"authorization": f"Bearer {token}", "content-length": str(len(data))},
                timeout=60,
            )

    uploading = threading.Thread(target=upload, daemon=True)
    uploading.start()
    assert half_sent.wait(30)
    deadline = time.monotonic() + 30
    while not any((root / "incoming").glob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any((root / "incoming").glob("*.part")), "the upload never reached the disk"
    server.kill()
    assert not (root / "blobs" / checksum[:2] / checksum).exists()

    restarted = store_process(root, port, tmp_path / "store.log").start()
    try:
        assert list((root / "incoming").iterdir()) == []
        client = StoreClient(url)
        assert httpx.get(f"{url}/v1/blobs/{checksum}").status_code == 404
        # The half upload holds no quota in the fresh process; the blob stored before does.
        assert httpx.get(f"{url}/v1/status").json()["used_bytes"] == len(kept)
        source = tmp_path / "blob"
        source.write_bytes(data)
        info = client.upload_with_token(source, token)
        assert info.checksum == "0x" + checksum
        assert info.url == f"{url}/v1/blobs/{checksum}"
        assert httpx.get(f"{url}/v1/status").json()["used_bytes"] == len(kept) + len(data)
        assert (root / "blobs" / checksum[:2] / checksum).read_bytes() == data
        # A task's blob, and this store has no chain to name the beneficiary: nobody reads it.
        refused = httpx.get(info.url)
        assert (refused.status_code, refused.json()["code"]) == (401, "STORAGE_PRIVATE")
        client.close()
    finally:
        restarted.stop()


def _stall(port: int, checksum: str, token: str) -> socket.socket:
    """Start a chunked upload, send one byte, then go quiet (the connection stays open)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"PUT /v1/blobs/{checksum} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"authorization: Bearer {token}\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n"
    )
    connection.sendall(head.encode())
    return connection


def _answer(connection: socket.socket) -> tuple[int, dict[str, object]]:
    """Read a problem answer from a stalled upload's connection."""
    received = b""
    while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
        data = connection.recv(65536)
        if not data:
            break
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.e2e
def test_stalled_uploads_neither_fill_the_quota_nor_stay(tmp_path: Path) -> None:
    """16 stalled chunked uploads once reserved the whole quota (honest uploads got 507)."""
    root, port = tmp_path / "store", free_port()
    blob_limit = 1 << 20
    env = {
        "SEALRUN_STORE_MAX_BLOB_BYTES": str(blob_limit),
        "SEALRUN_STORE_QUOTA_BYTES": str(8 * blob_limit),  # what 8 chunked uploads used to reserve
        "SEALRUN_STORE_UPLOAD_IDLE_TIMEOUT": "8",
        "SEALRUN_STORE_MAX_UPLOADS_PER_CLIENT": "8",
    }
    server = store_process(root, port, tmp_path / "store.log")
    server.env.update(env)
    server.start()
    url = f"http://127.0.0.1:{port}"
    token = mint_upload_token(KEY.encode(), TASK, expires_at=int(time.time()) + 600)
    stalled = [_stall(port, secrets.token_hex(32), token) for _ in range(16)]
    try:
        deadline = time.monotonic() + 20
        while len(list((root / "incoming").glob("*.part"))) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        # The per-client cap: 8 uploads in progress from 127.0.0.1, the other 8 refused at once.
        assert len(list((root / "incoming").glob("*.part"))) == 8
        busy = [connection for connection in stalled if _readable(connection)]
        assert len(busy) == 8
        for connection in busy:
            status_code, problem = _answer(connection)
            assert (status_code, problem["code"]) == (429, "STORAGE_BUSY")
        status = httpx.get(f"{url}/v1/status").json()
        assert status["used_bytes"] == 8  # one byte each: quota is reserved as bytes arrive

        # An honest upload from another address succeeds while they stall.
        honest = secrets.token_bytes(blob_limit)
        digest = hashlib.sha256(honest).hexdigest()
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=30) as client:
            response = client.put(
                f"{url}/v1/blobs/{digest}", content=honest, headers={"authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text

        # After the idle timeout the stalled uploads are abandoned: 408, files and quota gone.
        waiting = [connection for connection in stalled if connection not in busy]
        for connection in waiting:
            status_code, problem = _answer(connection)
            assert (status_code, problem["code"]) == (408, "STORAGE_UPLOAD_IDLE")
        assert list((root / "incoming").iterdir()) == []
        assert httpx.get(f"{url}/v1/status").json()["used_bytes"] == len(honest)
    finally:
        for connection in stalled:
            connection.close()
        server.stop()


def _readable(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    return bool(readable)
