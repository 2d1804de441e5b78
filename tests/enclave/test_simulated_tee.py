"""The simulated TEE: a separate enclave process whose evidence names the bundle and binds the key."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.tee import EnclaveLaunch, Quoter, SimulatedQuoter, SimulatedTee
from sealrun.core.attestation import (
    EvidenceType,
    SimulatedVerifier,
    SimulatorKey,
    report_data_for,
    verify_report_data,
)
from sealrun.core.sealing import Identity
from sealrun.core.tasks import SecretsBundle
from sealrun.enclave import EnclaveRuntime
from sealrun.errors import AttestationError, EnclaveError
from tests.enclave.conftest import COMPUTED, TASK_ID, Task

NOW = 1_800_000_000


@pytest.fixture
def key_file(work_root: Path, simulator_key: SimulatorKey) -> Path:
    path = work_root / "simulator.pem"
    path.write_bytes(simulator_key.to_pem())
    return path


def test_enclave_process_evidence_verifies_and_binds_key_nonce_task(
    key_file: Path, simulator_key: SimulatorKey, make_bundle: Callable[..., Path]
) -> None:
    bundle = make_bundle({"app.py": "pass\n"})
    nonce, ephemeral = os.urandom(32), Identity.generate()
    task_id = bytes.fromhex(TASK_ID[2:])
    evidence = SimulatedTee(key_file).attest(
        bundle, nonce=nonce, public_key=ephemeral.recipient.public_bytes, task_id=task_id
    )
    assert evidence.type is EvidenceType.SIMULATED
    claims = SimulatedVerifier(simulator_key.public_key).verify(evidence, now=NOW)
    assert claims.measurement == load_bundle(bundle).fingerprint
    assert claims.simulated
    verify_report_data(
        claims, nonce=nonce, ephemeral_public_key=ephemeral.recipient.public_bytes, task_id=task_id
    )
    with pytest.raises(AttestationError):
        verify_report_data(
            claims,
            nonce=os.urandom(32),
            ephemeral_public_key=ephemeral.recipient.public_bytes,
            task_id=task_id,
        )
    other = Identity.generate().recipient.public_bytes
    with pytest.raises(AttestationError):
        verify_report_data(claims, nonce=nonce, ephemeral_public_key=other, task_id=task_id)
    with pytest.raises(AttestationError):
        SimulatedVerifier(SimulatorKey.generate().public_key).verify(evidence, now=NOW)


def test_changed_bundle_changes_the_measurement(
    simulator_key: SimulatorKey, make_bundle: Callable[..., Path]
) -> None:
    # In-process (the enclave process measures with the same load_bundle, tested above).
    verifier = SimulatedVerifier(simulator_key.public_key)
    measurements = set()
    for source in ("pass\n", "pass  # changed\n"):
        quoter = SimulatedQuoter(
            key=simulator_key, measurement=load_bundle(make_bundle({"app.py": source})).fingerprint
        )
        measurements.add(verifier.verify(quoter.evidence(bytes(64)), now=NOW).measurement)
    assert len(measurements) == 2


class _AttestingSource:
    """A test secrets source that performs the SMS's side of the handshake in-process."""

    def __init__(self, bundle: SecretsBundle, verifier: SimulatedVerifier, expected: bytes) -> None:
        self.bundle, self.verifier, self.expected = bundle, verifier, expected

    def fetch(self, quoter: Quoter) -> SecretsBundle:
        nonce, ephemeral = os.urandom(16), Identity.generate()
        task_id = bytes.fromhex(self.bundle.task_id[2:])
        evidence = quoter.evidence(report_data_for(nonce, ephemeral.recipient.public_bytes, task_id))
        claims = self.verifier.verify(evidence, now=NOW)
        verify_report_data(
            claims, nonce=nonce, ephemeral_public_key=ephemeral.recipient.public_bytes, task_id=task_id
        )
        if claims.measurement != self.expected:
            raise AttestationError("wrong measurement", code="ATTEST_POLICY_MEASUREMENT")
        return self.bundle


def test_runtime_attests_with_the_measured_fingerprint(
    runtime: EnclaveRuntime,
    simulator_key: SimulatorKey,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
) -> None:
    bundle = make_bundle({"app.py": COMPUTED})
    task = make_task()
    verifier = SimulatedVerifier(simulator_key.public_key)
    good = _AttestingSource(task.bundle, verifier, load_bundle(bundle).fingerprint)
    assert runtime.run(bundle, good, work_root / "w1").status == "completed"
    bad = _AttestingSource(task.bundle, verifier, bytes(32))
    with pytest.raises(AttestationError):
        runtime.run(bundle, bad, work_root / "w2")
    assert not (work_root / "w2" / "report.json").exists()


def test_backend_runs_a_task_in_a_separate_process(
    key_file: Path, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    bundle = make_bundle(
        {"app.py": "import os\nopen('/iexec_out/pid', 'w').write(str(os.getpid()))\n" + COMPUTED}
    )
    task = make_task()
    report = SimulatedTee(key_file).run(
        EnclaveLaunch(bundle, work_root / "w", secrets_file=task.secrets_file)
    )
    assert report.status == "completed"
    assert report.fingerprint == load_bundle(bundle).fingerprint_hex


def test_backend_reports_a_crash_without_a_report(
    key_file: Path, make_bundle: Callable[..., Path], work_root: Path
) -> None:
    bundle = make_bundle({"app.py": "pass\n"})
    with pytest.raises(EnclaveError) as caught:
        SimulatedTee(key_file).run(
            EnclaveLaunch(bundle, work_root / "w", secrets_file=work_root / "absent.json")
        )
    assert caught.value.code == "ENCLAVE_CRASHED"
    assert "BUNDLE_UNREADABLE" in caught.value.message


def test_backend_command_for_the_sms_source(key_file: Path) -> None:
    launch = EnclaveLaunch(
        Path("/b"), Path("/w"), sms_url="http://sms", task_id=b"\x01" * 32, worker="0x" + "11" * 20,
        authorization=b"\x02" * 65,
    )  # fmt: skip
    argv = SimulatedTee(key_file, python="python3").command(launch)
    assert argv[:4] == ["python3", "-m", "sealrun.enclave", "run"]
    joined = " ".join(argv)
    assert "--sms http://sms" in joined
    assert "--task-id 0x" + "01" * 32 in joined
    assert "--authorization 0x" + "02" * 65 in joined
    assert "--secrets-file" not in joined


def test_a_simulator_key_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    from sealrun.adapters.tee import load_simulator_key
    from sealrun.errors import EnclaveError

    for path in (tmp_path / "missing.pem", tmp_path):
        with pytest.raises(EnclaveError) as caught:
            load_simulator_key(path)
        assert caught.value.code == "SIMULATOR_KEY_UNREADABLE"
