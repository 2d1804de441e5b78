"""Poison tasks end FAILED within seconds through the real release path and the real runtime.

The enclave attests to a real SMS (in-process over HTTP); the SMS finds the order unusable
or the attempts exhausted and releases a failure bundle; the runtime signs a failure
receipt with the enclave challenge key without running the app.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import RunReport, SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.chainstate import AppRecord
from sealrun.core.tasks import FailureCode, failure_digest, recover_signer
from sealrun.enclave import EnclaveRuntime
from sealrun.enclave.smssecrets import SmsSecrets
from sealrun.services.sms.app import create_app
from tests.enclave.test_runtime import open_tar
from tests.sms.conftest import World, make_settings

# The app must never run: a failure bundle ends the task before pre-compute.
APP = "open('/iexec_out/ran', 'w').write('the app ran')\n"
QUICK = 15.0  # seconds: no sandbox, no input, one attestation


@pytest.fixture
def client(tmp_path: Path, simulator: SimulatorKey, world: World) -> Iterator[SmsClient]:
    settings = make_settings(tmp_path, simulator, result_upload_url="")
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
        yield SmsClient("http://testserver", domain=world.domain, http=http, clock=world.clock)


@pytest.fixture
def bundle_dir(work_root: Path, world: World) -> Path:
    folder = work_root / "app"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    (folder / "sealrun-app.toml").write_text(
        '[app]\nname = "poisoned"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    world.chain.add_app(
        AppRecord(
            address=world.app, owner=world.app_owner.address, fingerprint=load_bundle(folder).fingerprint
        )
    )
    return folder


def _push(client: SmsClient, world: World, *, recipient: bool = True) -> str:
    client.push_dataset_key(bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key))
    client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t")
    if recipient:
        client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
    return client.enclave_challenge(bytes(world.pool_owner.key), world.task)


def _source(client: SmsClient, world: World, enclave: str) -> SmsSecrets:
    return SmsSecrets(
        client=client,
        task_id=world.task,
        worker=world.worker.address,
        authorization=world.authorization(enclave),
    )


def _run(client: SmsClient, world: World, enclave: str, bundle_dir: Path, work: Path) -> RunReport:
    runtime = EnclaveRuntime(
        sandbox=BubblewrapSandbox(),
        make_quoter=lambda measurement: SimulatedQuoter(key=world.simulator, measurement=measurement),
    )
    started = time.monotonic()
    report = runtime.run(bundle_dir, _source(client, world, enclave), work)
    assert time.monotonic() - started < QUICK
    return report


def _assert_failed(report: RunReport, world: World, enclave: str, code: FailureCode) -> None:
    assert report.status == "failed"
    assert report.result is None
    assert report.exit_status is None  # the app never ran
    assert report.failure is not None
    assert (report.failure.code, report.failure.name) == (int(code), code.name)
    assert report.enclave == enclave
    receipt = bytes.fromhex(report.failure.receipt_digest[2:])
    digest = failure_digest(world.task, int(code), bytes.fromhex(report.failure.log_digest[2:]), receipt)
    assert recover_signer(digest, bytes.fromhex(report.failure.signature[2:])) == enclave


def test_a_unicode_digit_secret_index_ends_params_invalid(
    client: SmsClient, world: World, bundle_dir: Path, work_root: Path
) -> None:
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"²": "api"}}))
    enclave = _push(client, world)
    report = _run(client, world, enclave, bundle_dir, work_root / "work")
    _assert_failed(report, world, enclave, FailureCode.TASK_PARAMS_INVALID)
    sealed = Path(report.logs.sealed_path)
    assert report.failure is not None
    assert report.failure.log_digest == "0x" + hashlib.sha256(sealed.read_bytes()).hexdigest()
    enclave_log = open_tar(sealed, world.result_key)["enclave.log"]
    assert b"TASK_PARAMS_INVALID" in enclave_log
    assert enclave_log.startswith(b"TEE: simulated (SIMULATED: no hardware protection")  # labelled
    records = client.dataset_audit(bytes(world.dataset_owner.key), world.dataset)
    assert [(r.event, r.code) for r in records] == [("failure", "RELEASE_PARAMS_INVALID")]


def test_a_missing_requester_secret_ends_secret_missing(
    client: SmsClient, world: World, bundle_dir: Path, work_root: Path
) -> None:
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"1": "never-pushed"}}))
    enclave = _push(client, world)
    report = _run(client, world, enclave, bundle_dir, work_root / "work")
    _assert_failed(report, world, enclave, FailureCode.SECRET_MISSING)
    assert b"never-pushed" in open_tar(Path(report.logs.sealed_path), world.result_key)["enclave.log"]


def test_a_missing_recipient_ends_recipient_missing_with_a_zero_log_digest(
    client: SmsClient, world: World, bundle_dir: Path, work_root: Path
) -> None:
    enclave = _push(client, world, recipient=False)
    report = _run(client, world, enclave, bundle_dir, work_root / "work")
    _assert_failed(report, world, enclave, FailureCode.RECIPIENT_MISSING)
    assert report.failure is not None
    assert report.failure.log_digest == "0x" + "00" * 32


def test_the_fourth_attempt_ends_attempts_exhausted(
    client: SmsClient, world: World, bundle_dir: Path, work_root: Path
) -> None:
    enclave = _push(client, world)
    quoter = SimulatedQuoter(key=world.simulator, measurement=load_bundle(bundle_dir).fingerprint)
    for _ in range(3):  # three enclaves got the secrets and crashed before reporting
        assert _source(client, world, enclave).fetch(quoter).failure is None
    report = _run(client, world, enclave, bundle_dir, work_root / "work")
    _assert_failed(report, world, enclave, FailureCode.ATTEMPTS_EXHAUSTED)
