"""The enclave runtime obtains its secrets only by attesting to the SMS."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.chainstate import AppRecord, DatasetRecord
from sealrun.core.netpolicy import FetchPolicy
from sealrun.core.sealing import open_bytes, seal_bytes
from sealrun.enclave import EnclaveRuntime
from sealrun.enclave.runtime import RuntimeSettings
from sealrun.enclave.smssecrets import SmsSecrets
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from tests.sms.conftest import World, free_port, make_settings, serve

UPLOAD_KEY = "u" * 32

APP = """
import json, os
with open(os.path.join(os.environ["IEXEC_IN"], os.environ["IEXEC_DATASET_FILENAME"])) as f:
    data = f.read()
with open(os.path.join(os.environ["IEXEC_OUT"], "result.json"), "w") as f:
    json.dump({
        "upper": data.upper(),
        "secret": os.environ.get("IEXEC_REQUESTER_SECRET_1"),
        "filename": os.environ["IEXEC_DATASET_FILENAME"],
        "address": os.environ["IEXEC_DATASET_ADDRESS"],
    }, f)
with open(os.path.join(os.environ["IEXEC_OUT"], "computed.json"), "w") as f:
    json.dump({"deterministic-output-path": os.path.join(os.environ["IEXEC_OUT"], "result.json")}, f)
"""


@pytest.fixture
def store_url(work_root: Path) -> Iterator[str]:
    """A real blob store on loopback, sharing the upload token key with the SMS."""
    from sealrun.services.store.app import create_app as create_store
    from sealrun.services.store.settings import StoreSettings

    port = free_port()
    store = create_store(StoreSettings(root=work_root / "store", upload_token_key=UPLOAD_KEY, port=port))
    with serve(store, port) as url:
        yield url


@pytest.fixture
def client(tmp_path: Path, simulator: SimulatorKey, world: World, store_url: str) -> Iterator[SmsClient]:
    settings = make_settings(
        tmp_path, simulator, upload_token_key=UPLOAD_KEY, result_upload_url=f"{store_url}/v1/blobs"
    )
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
        yield SmsClient("http://testserver", domain=world.domain, http=http, clock=world.clock)


def _serve_once(body: bytes) -> tuple[str, str]:
    """Serve ``body`` over http on loopback (a daemon thread); return its URL and origin."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    return f"{origin}/dataset.age", origin


def _prepare(client: SmsClient, world: World) -> str:
    client.push_dataset_key(
        bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key), filename="words.txt"
    )
    client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t")
    client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
    return client.enclave_challenge(bytes(world.pool_owner.key), world.task)


def _source(client: SmsClient, world: World, enclave: str) -> SmsSecrets:
    return SmsSecrets(client=client, task_id=world.task, worker=world.worker.address,
                      authorization=world.authorization(enclave))  # fmt: skip


def test_the_source_attests_and_opens_its_bundle(client: SmsClient, world: World) -> None:
    enclave = _prepare(client, world)
    bundle = _source(client, world, enclave).fetch(
        SimulatedQuoter(key=world.simulator, measurement=world.fingerprint)
    )
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)
    assert bundle.requester_secrets == {1: "s3cr3t"}


def test_an_enclave_running_other_code_gets_nothing(client: SmsClient, world: World) -> None:
    enclave = _prepare(client, world)
    quoter = SimulatedQuoter(key=world.simulator, measurement=hashlib.sha256(b"other code").digest())
    with pytest.raises(SealrunError) as caught:
        _source(client, world, enclave).fetch(quoter)
    assert caught.value.code == "ATTEST_POLICY_MEASUREMENT"


def test_the_runtime_runs_a_task_with_secrets_from_the_sms(
    client: SmsClient, world: World, work_root: Path
) -> None:
    bundle_dir = work_root / "app"
    bundle_dir.mkdir()
    (bundle_dir / "app.py").write_text(textwrap.dedent(APP))
    (bundle_dir / "sealrun-app.toml").write_text(
        '[app]\nname = "upper"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    fingerprint = load_bundle(bundle_dir).fingerprint
    sealed = seal_bytes(b"private words", [world.dataset_key.recipient])
    dataset_url, origin = _serve_once(sealed)
    world.chain.add_app(AppRecord(address=world.app, owner=world.app_owner.address, fingerprint=fingerprint))
    world.chain.add_dataset(
        DatasetRecord(
            address=world.dataset, owner=world.dataset_owner.address, url=dataset_url,
            checksum=hashlib.sha256(sealed).digest(),
        )
    )  # fmt: skip
    enclave = _prepare(client, world)
    runtime = EnclaveRuntime(
        sandbox=BubblewrapSandbox(),
        make_quoter=lambda measurement: SimulatedQuoter(key=world.simulator, measurement=measurement),
        # Inputs come from the network only; this loopback origin is named like the devnet's store.
        settings=RuntimeSettings(fetch=FetchPolicy(allowed_http_origins=frozenset({origin}))),
    )
    report: Any = runtime.run(bundle_dir, _source(client, world, enclave), work_root / "work")
    assert report.status == "completed", (report.failure, report.exit_status)
    assert report.enclave == enclave
    assert report.result is not None
    # The sealed result went to the store, and only the beneficiary's key opens it.
    import httpx

    assert report.result.upload_url is not None
    # A task's blob is served to the deal's beneficiary only (this store has no chain: nobody).
    assert httpx.get(report.result.upload_url).status_code == 401
    checksum = report.result.sealed_checksum.removeprefix("0x")
    sealed_result = (work_root / "store" / "blobs" / checksum[:2] / checksum).read_bytes()
    assert b"private words" not in sealed_result
    with tarfile.open(fileobj=io.BytesIO(open_bytes(sealed_result, [world.result_key]))) as archive:
        member = archive.extractfile("result.json")
        assert member is not None
        # The owner's file name travelled with her key; the address is the dataset's own.
        result = json.loads(member.read())
    assert (result["upper"], result["filename"], result["address"]) == (
        "PRIVATE WORDS",
        "words.txt",
        world.dataset,
    )
    records = client.dataset_audit(bytes(world.dataset_owner.key), world.dataset)
    assert [r.code for r in records] == ["RELEASED"]
    assert records[0].measurement == fingerprint.hex()
    assert json.dumps([r.model_dump() for r in records])  # the audit is plain JSON


@pytest.mark.parametrize(
    ("vector", "tee", "provider"),
    [("tdx-dcapqvl-sample", "tdx", "tdx_guest"), ("snp-virtee-milan", "sev-snp", "sev_guest")],
)
def test_a_configfs_quote_goes_through_the_release_up_to_the_verifiers_verdict(
    client: SmsClient, world: World, tmp_path: Path, vector: str, tee: str, provider: str
) -> None:
    """A confidential VM's quoter (a fake configfs-tsm tree serving a REAL quote) attests.

    What fixed vectors can drive: the enclave asks for a fresh nonce, binds it with its
    ephemeral key and the task into report data, the quoter writes it to ``inblob`` and hands
    the vector's outblob to the SMS, which verifies it against the pinned vendor roots. The
    vector's report data is not ours, so the release stops at ATTEST_REPORT_DATA_MISMATCH, after
    the verifier accepted the quote; before the vector's validity window the verifier itself
    refuses (ATTEST_EXPIRED). A release that succeeds needs a quote made over our report data: real hardware.
    """
    from sealrun.adapters.tee.tsm import ConfigfsTsmQuoter
    from sealrun.core.attestation import decode_evidence_text
    from sealrun.testing.tee import FakeConfigfsTsm, snp_certificate_table
    from tests.conftest import VECTORS

    entry = next(e for e in json.loads((VECTORS / "vectors.json").read_text()) if e["id"] == vector)
    collateral = (VECTORS / (entry.get("collateral") or entry["vcek"])).read_bytes()
    fake = FakeConfigfsTsm(
        tmp_path / "tsm",
        provider=provider,
        outblob=decode_evidence_text((VECTORS / entry["evidence"]).read_bytes()),
        auxblob=snp_certificate_table({"63da758d-e664-4564-adc5-f4b93be8accd": collateral})
        if tee == "sev-snp"
        else None,
    )
    quoter = ConfigfsTsmQuoter(
        tee,
        world.fingerprint,
        root=tmp_path / "tsm",
        files=fake,
        collateral=None if tee == "sev-snp" else (lambda kind, payload: collateral),
    )
    enclave = _prepare(client, world)
    world.clock.now = entry["validity_window"]["not_before"] - 86400
    with pytest.raises(SealrunError) as caught:
        _source(client, world, enclave).fetch(quoter)
    assert caught.value.code == "ATTEST_EXPIRED"  # outside the certificates' and collateral's validity
    world.clock.now = entry["verify_at"]
    with pytest.raises(SealrunError) as caught:
        _source(client, world, enclave).fetch(quoter)
    assert caught.value.code == "ATTEST_REPORT_DATA_MISMATCH"  # verified, then not bound to us
    assert len(fake.inblobs) == 2
    assert all(len(blob) == 64 for blob in fake.inblobs)
    assert fake.inblobs[0] != fake.inblobs[1]  # each attempt bound a fresh nonce and key
