"""The enclave accepts a released bundle only for this task, this worker and this enclave key.

The SMS here is a lying one: a real HTTP app that answers the enclave's nonce and release
calls the way the SMS does, but seals a bundle it chose to the enclave's ephemeral key. The
honest variant proves the lying SMS is otherwise accepted, so each mismatch is refused by
the binding check (``BUNDLE_MISMATCH``) and by nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account import Account
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.tee import SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.sealing import Recipient, seal_bytes
from sealrun.core.tasks import SecretsBundle
from sealrun.core.tasks.secretsbundle import ResultUpload
from sealrun.enclave.smssecrets import SmsSecrets
from sealrun.errors import SecretError

TASK = hashlib.sha256(b"the task").digest()
OTHER_TASK = hashlib.sha256(b"another task").digest()
WORKER = Account.from_key(hashlib.sha256(b"worker").digest()).address
OTHER_WORKER = Account.from_key(hashlib.sha256(b"another worker").digest()).address
ENCLAVE_KEY = "0x" + hashlib.sha256(b"enclave key").hexdigest()
OTHER_ENCLAVE_KEY = "0x" + hashlib.sha256(b"another enclave key").hexdigest()


@dataclass
class LyingSms:
    """What the lying SMS answers: the bundle's task, worker and key, and the challenge it reports."""

    task_id: bytes = TASK
    worker: str = WORKER
    enclave_key: str = ENCLAVE_KEY
    challenge_key: str = ENCLAVE_KEY

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/tasks/{task}/nonce")
        def nonce(task: str) -> dict[str, Any]:
            return {"task_id": task, "nonce": "0x" + os.urandom(32).hex(), "expires_at": 2_000_000_000}

        @app.post("/v1/tasks/{task}/release")
        async def release(task: str, request: Request) -> dict[str, Any]:
            body = await request.json()
            bundle = SecretsBundle(
                task_id="0x" + self.task_id.hex(),
                worker=self.worker,
                enclave_key=self.enclave_key,
                beneficiary_recipient=body["ephemeral_recipient"],
                result_upload=ResultUpload(url="http://127.0.0.1:1/v1/blobs", token=""),
                max_time=60,
                requester_secrets={1: "s3cr3t"},
            )
            sealed = seal_bytes(bundle.to_json(), [Recipient.parse(body["ephemeral_recipient"])])
            return {
                "task_id": task,
                "enclave_challenge": Account.from_key(self.challenge_key).address,
                "sealed_bundle": base64.b64encode(sealed).decode(),
            }

        return app


@pytest.fixture(scope="module")
def quoter() -> SimulatedQuoter:
    return SimulatedQuoter(key=SimulatorKey.generate(), measurement=b"\x01" * 32)


@pytest.fixture
def fetch(quoter: SimulatedQuoter) -> Iterator[Any]:
    """Fetch the bundle from a lying SMS through the enclave's real secrets source."""
    opened: list[TestClient] = []

    def run(sms: LyingSms) -> SecretsBundle:
        http = TestClient(sms.app())
        opened.append(http)
        source = SmsSecrets(
            client=SmsClient("http://testserver", http=http),
            task_id=TASK,
            worker=WORKER,
            authorization=b"\x00" * 65,
        )
        return source.fetch(quoter)

    yield run
    for http in opened:
        http.close()


def test_the_right_bundle_is_accepted(fetch: Any) -> None:
    bundle = fetch(LyingSms())
    assert bundle.task_id == "0x" + TASK.hex()
    assert bundle.requester_secrets == {1: "s3cr3t"}


def test_the_worker_is_compared_without_regard_to_case(fetch: Any) -> None:
    assert fetch(LyingSms(worker=WORKER.lower())).worker == WORKER.lower()


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ({"task_id": OTHER_TASK}, "the SMS sent a bundle for another task or worker"),
        ({"worker": OTHER_WORKER}, "the SMS sent a bundle for another task or worker"),
        ({"challenge_key": OTHER_ENCLAVE_KEY}, "the bundle's enclave key is not the task's challenge"),
        ({"enclave_key": OTHER_ENCLAVE_KEY}, "the bundle's enclave key is not the task's challenge"),
    ],
    ids=["another-task", "another-worker", "another-challenge", "another-enclave-key"],
)
def test_a_bundle_for_another_task_worker_or_enclave_is_refused(
    fetch: Any, lie: dict[str, Any], message: str
) -> None:
    with pytest.raises(SecretError) as caught:
        fetch(replace(LyingSms(), **lie))
    assert (caught.value.code, caught.value.message) == ("BUNDLE_MISMATCH", message)
