"""The sealed result goes to the real blob store with the task's upload token."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn

from sealrun.core.tasks import FailureClass, FailureCode, classify_failure
from sealrun.core.tasks.secretsbundle import ResultUpload
from sealrun.core.uploads import mint_upload_token
from sealrun.enclave import EnclaveRuntime, UnsafeLocalSecretsFile
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.uploads import UPLOAD_RETRY_DELAYS, upload_result
from sealrun.services.store import StoreSettings, create_app
from tests.enclave.conftest import COMPUTED, TASK_ID, Task
from tests.enclave.test_failures import assert_receipt

TOKEN_KEY = "enclave-upload-test-key-0123456789"


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = StoreSettings(root=tmp_path / "store", upload_token_key=TOKEN_KEY)  # type: ignore[arg-type]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the store did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _with_upload(task: Task, url: str, token: str) -> Task:
    task.secrets_file.write_bytes(
        replace(task.bundle, result_upload=ResultUpload(url=url, token=token)).to_json()
    )
    return task


def test_result_is_uploaded_with_the_task_token(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    store_url: str,
    tmp_path: Path,
) -> None:
    token = mint_upload_token(
        TOKEN_KEY.encode(), bytes.fromhex(TASK_ID[2:]), expires_at=int(time.time()) + 600
    )
    task = _with_upload(make_task(), f"{store_url}/v1/blobs", token)
    bundle = make_bundle({"app.py": "open('/iexec_out/r', 'w').write('uploaded')\n" + COMPUTED})
    report = runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / "w")
    assert report.result is not None
    assert report.result.upload_url is not None
    sealed = Path(report.result.sealed_path).read_bytes()
    assert "0x" + hashlib.sha256(sealed).hexdigest() == report.result.sealed_checksum
    store_root = tmp_path / "store"
    digest = report.result.sealed_checksum[2:]
    assert (store_root / "blobs" / digest[:2] / digest).read_bytes() == sealed
    # The store records all three as the task's: the result and the logs (served to the
    # beneficiary only), and the task's receipt (public).
    recorded = sorted(p.name for p in (store_root / "tasks" / "by-task" / TASK_ID[2:]).iterdir())
    assert report.receipt_path is not None
    receipt = hashlib.sha256(Path(report.receipt_path).read_bytes()).hexdigest()
    assert recorded == sorted(
        [f"result.{digest}", f"logs.{report.logs.sealed_checksum[2:]}", f"receipt.{receipt}"]
    )
    stored = httpx.get(f"{store_url}/v1/blobs/{digest}", timeout=30)
    assert (stored.status_code, stored.json()["code"]) == (401, "STORAGE_PRIVATE")


def test_a_refused_upload_is_a_signed_failure(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    store_url: str,
) -> None:
    forged = mint_upload_token(
        b"not-the-store-key-0123456789abcd", bytes.fromhex(TASK_ID[2:]), expires_at=2**40
    )
    task = _with_upload(make_task(), store_url, forged)
    report = runtime.run(
        make_bundle({"app.py": COMPUTED}), UnsafeLocalSecretsFile(task.secrets_file), work_root / "w"
    )
    assert_receipt(report, task, FailureCode.RESULT_UPLOAD_FAILED)


def test_a_store_down_is_retried_in_place_then_an_infrastructure_failure(
    make_task: Callable[..., Task], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    bundle = replace(
        make_task().bundle, result_upload=ResultUpload(url=f"http://127.0.0.1:{port}", token="t")
    )
    sealed = tmp_path / "result.age"
    sealed.write_bytes(b"sealed")
    waits: list[float] = []
    with pytest.raises(TaskFailedError) as caught:
        upload_result(sealed, bundle, sleep=waits.append)
    assert caught.value.failure is FailureCode.RESULT_UPLOAD_FAILED
    assert "STORAGE_UNREACHABLE" in caught.value.message
    assert waits == list(UPLOAD_RETRY_DELAYS)
    assert classify_failure(caught.value.code) is FailureClass.INFRASTRUCTURE


def test_a_refused_upload_is_not_retried_in_place(
    make_task: Callable[..., Task], tmp_path: Path, store_url: str
) -> None:
    bundle = replace(make_task().bundle, result_upload=ResultUpload(url=store_url, token="forged"))
    sealed = tmp_path / "result.age"
    sealed.write_bytes(b"sealed")
    waits: list[float] = []
    with pytest.raises(TaskFailedError) as caught:
        upload_result(sealed, bundle, sleep=waits.append)
    assert "UPLOAD_TOKEN" in caught.value.message
    assert waits == []
