"""The store as a real server: ``python -m sealrun.services.store`` on loopback, and a crash mid-upload."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sealrun.adapters.storeclient import StoreClient, mint_upload_token
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
        source = tmp_path / "blob"
        source.write_bytes(data)
        info = client.upload_with_token(source, token)
        assert info.checksum == "0x" + checksum
        assert info.url == f"{url}/v1/blobs/{checksum}"
        copy = client.download(info.checksum, tmp_path / "copy")
        assert copy.read_bytes() == data
        ranged = httpx.get(info.url, headers={"range": "bytes=100-199"})
        assert ranged.status_code == 206
        assert ranged.content == data[100:200]
        client.close()
    finally:
        restarted.stop()
