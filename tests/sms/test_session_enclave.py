"""Isolation mode ``session`` end to end on one machine: a real SMS, a real store, real
session enclave processes (:class:`SessionTee`, ``python -m sealrun.enclave session``), the
isolated launch and bwrap (decision 0080).

One enclave attests once and runs several tasks, each in a fresh sandbox with an empty
workspace, each signed with its own task's enclave key; the receipts name the mode.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.receipts import release_isolation
from sealrun.adapters.tee import EnclaveLaunch, SessionTee
from sealrun.adapters.tee.sessions import split_task_arguments
from sealrun.core.attestation import SimulatorKey
from sealrun.core.chainstate import ZERO_ADDRESS, AppRecord
from sealrun.core.receipts import parse_receipt
from sealrun.core.releases.sessions import session_report_data
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle
from sealrun.core.tasks.secretsbundle import ResultUpload
from sealrun.enclave.runtime import RuntimeSettings
from sealrun.enclave.secrets import ReleaseInfo
from sealrun.enclave.sessionloop import SessionLoop
from sealrun.enclave.sessions import EnclaveSession, SessionQuoter, SessionReleased
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from tests.sms.conftest import World, free_port, make_settings, serve

UPLOAD_KEY = "u" * 32

# Reports what it finds (a fresh sandbox finds nothing), then leaves traces for the next task.
APP = """
import json, os
out = os.environ["IEXEC_OUT"]
found = {"out": sorted(os.listdir(out)), "tmp": sorted(os.listdir("/tmp")), "uid": os.getuid()}
open("/tmp/left-behind", "w").write("x")
json.dump({"found": found, "task": os.environ["IEXEC_TASK_ID"]}, open(os.path.join(out, "result.json"), "w"))
computed = {"deterministic-output-path": os.path.join(out, "result.json")}
json.dump(computed, open(os.path.join(out, "computed.json"), "w"))
"""


@pytest.fixture
def store_url(work_root: Path) -> Iterator[str]:
    from sealrun.services.store.app import create_app as create_store
    from sealrun.services.store.settings import StoreSettings

    port = free_port()
    store = create_store(StoreSettings(root=work_root / "store", upload_token_key=UPLOAD_KEY, port=port))
    with serve(store, port) as url:
        yield url


def _bundle(work_root: Path, *, strict: bool = False) -> Path:
    bundle = work_root / ("strict-app" if strict else "app")
    bundle.mkdir()
    (bundle / "app.py").write_text(textwrap.dedent(APP))
    isolation = '\n[isolation]\nrequire = "strict"\n' if strict else ""
    (bundle / "sealrun-app.toml").write_text(
        '[app]\nname = "traces"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n' + isolation
    )
    return bundle


def _launch(
    world: World, client: SmsClient, task: bytes, bundle: Path, work: Path, url: str
) -> EnclaveLaunch:
    enclave = client.enclave_challenge(bytes(world.pool_owner.key), task)
    authorization = "0x" + world.authorization(enclave, task=task).hex()
    args = (
        "--task-id",
        "0x" + task.hex(),
        "--worker",
        world.worker.address,
        "--authorization",
        authorization,
    )
    return EnclaveLaunch(bundle_dir=bundle, work_dir=work, sms_url=url, extra_args=args)


def test_one_attested_session_runs_tasks_in_fresh_sandboxes(
    tmp_path: Path, work_root: Path, world: World, simulator: SimulatorKey, store_url: str
) -> None:
    bundle = _bundle(work_root)
    world.chain.add_app(
        AppRecord(
            address=world.app, owner=world.app_owner.address, fingerprint=load_bundle(bundle).fingerprint
        )
    )
    tasks = [world.add_deal(bytes([n]) * 32, dataset=ZERO_ADDRESS, params="{}") for n in (1, 2, 3)]
    settings = make_settings(
        tmp_path, simulator, upload_token_key=UPLOAD_KEY, result_upload_url=f"{store_url}/v1/blobs"
    )
    key_file = work_root / "simulator.pem"
    key_file.write_bytes(world.simulator.to_pem())
    key_file.chmod(0o600)
    app = create_app(settings, chain=world.chain, clock=world.clock)
    tee = SessionTee(simulator_key_file=key_file, timeout_s=120, stderr_dir=work_root / "enclaves")
    with serve(app) as url, SmsClient(url, domain=world.domain, clock=world.clock) as client:
        client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
        reports = []
        for index, task in enumerate(tasks):
            reports.append(tee.run(_launch(world, client, task, bundle, work_root / f"task{index}", url)))
        tee.close()
    assert tee.started == 1  # one warm enclave served every task
    assert [r.status for r in reports] == ["completed"] * 3, [r.failure for r in reports]
    assert len({r.enclave for r in reports}) == 3  # each task's own enclave key signs its result
    audit = [(r.event, r.code) for r in app.state.sms.repository.audit_records()]
    assert audit.count(("session", "SESSION_OPENED")) == 1  # attested once
    assert audit.count(("release", "RELEASED")) == 3  # audited per task
    for report in reports:
        receipt = parse_receipt(Path(report.receipt_path).read_bytes())
        signed = receipt.body["release"]
        assert isinstance(signed, dict)
        record = json.loads(str(signed["record"]))
        assert record["isolation"] == "session"
        assert record["session"] is not None
        assert release_isolation(receipt) == ("session", record["session"])  # what `task show` prints
        assert receipt.field("tee", "evidence") is not None  # the session's evidence
        checksum = str(report.result.sealed_checksum).removeprefix("0x")  # type: ignore[union-attr]
        sealed = (work_root / "store" / "blobs" / checksum[:2] / checksum).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(open_bytes(sealed, [world.result_key]))) as archive:
            member = archive.extractfile("result.json")
            assert member is not None
            result: Any = json.loads(member.read())
        # Nothing of the previous task: no outputs, no /tmp traces.
        assert result["found"]["out"] == []
        assert result["found"]["tmp"] == []


def test_an_app_that_requires_strict_gets_no_secrets_in_session_mode(
    tmp_path: Path, work_root: Path, world: World, simulator: SimulatorKey
) -> None:
    bundle = _bundle(work_root, strict=True)
    assert load_bundle(bundle).manifest.requires_strict
    world.chain.add_app(
        AppRecord(
            address=world.app, owner=world.app_owner.address, fingerprint=load_bundle(bundle).fingerprint
        )
    )
    task = world.add_deal(b"\x09" * 32, dataset=ZERO_ADDRESS, params="{}")
    key_file = work_root / "simulator.pem"
    key_file.write_bytes(world.simulator.to_pem())
    key_file.chmod(0o600)
    app = create_app(make_settings(tmp_path, simulator), chain=world.chain, clock=world.clock)
    tee = SessionTee(simulator_key_file=key_file, timeout_s=120)
    with serve(app) as url, SmsClient(url, domain=world.domain, clock=world.clock) as client:
        client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
        with pytest.raises(SealrunError) as caught:
            tee.run(_launch(world, client, task, bundle, work_root / "task", url))
        tee.close()
    assert caught.value.code == "ENCLAVE_CRASHED"
    assert "error [RELEASE_ISOLATION_STRICT_REQUIRED]" in caught.value.message


def test_a_launch_without_its_task_is_refused() -> None:
    launch = EnclaveLaunch(
        bundle_dir=Path("/b"), work_dir=Path("/w"), sms_url="http://sms", extra_args=("--worker", "0x1")
    )
    with pytest.raises(SealrunError) as caught:
        split_task_arguments(launch)
    assert caught.value.code == "ENCLAVE_TASK_INVALID"


@pytest.mark.parametrize(
    "line",
    ["not json", "[]", '{"task_id": "0x00", "authorization": "0x00", "work": "/w"}',
     json.dumps({"task_id": "0x" + "11" * 32, "authorization": "0x" + "22" * 65, "work": "relative"})],
)  # fmt: skip
def test_a_task_line_that_is_not_a_task_is_refused(line: str) -> None:
    loop = SessionLoop(session=None, bundle_dir=Path("/b"), tee="simulated", settings=RuntimeSettings())  # type: ignore[arg-type]
    with pytest.raises(SealrunError) as caught:
        loop.run_task(line)
    assert caught.value.code == "ENCLAVE_TASK_INVALID"


def _bundle_for(task: str) -> SecretsBundle:
    return SecretsBundle(
        task_id=task, worker="0x" + "ab" * 20, enclave_key="0x" + "01" * 32,
        beneficiary_recipient=str(Identity.generate().recipient),
        result_upload=ResultUpload(url="", token=""), max_time=60,
    )  # fmt: skip


def test_a_session_task_measures_the_bundle_the_session_attested() -> None:
    released = SessionReleased(
        bundle=_bundle_for("0x" + "11" * 32), info=ReleaseInfo(None, None, None), measurement=b"\x01" * 32
    )
    assert released.fetch(SessionQuoter(tee="simulated", measurement=b"\x01" * 32)).max_time == 60
    with pytest.raises(SealrunError) as caught:
        released.fetch(SessionQuoter(tee="simulated", measurement=b"\x02" * 32))
    assert caught.value.code == "BUNDLE_MISMATCH"


def test_a_session_task_makes_no_evidence_of_its_own() -> None:
    with pytest.raises(SealrunError) as caught:
        SessionQuoter(tee="simulated", measurement=b"\x01" * 32).evidence(b"\x00" * 64)
    assert caught.value.code == "ENCLAVE_SESSION_NO_QUOTE"


def test_forgetting_the_session_key_zeroes_it() -> None:
    session = EnclaveSession(client=None, worker="0x" + "ab" * 20, measurement=b"", requires_strict=False,  # type: ignore[arg-type]
                             quote=lambda data: None)  # type: ignore[arg-type,return-value]  # fmt: skip
    session._key = bytearray(b"\x07" * 32)
    session.forget_key()
    assert bytes(session._key) == b"\x00" * 32
    assert (
        len(session_report_data(b"n", signer="0x" + "ab" * 20, worker="0x" + "cd" * 20, requires_strict=True))
        == 64
    )
