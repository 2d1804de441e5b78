"""``sealrun attestation`` as a user runs it: every vector, policies, simulated evidence, bad input.

Each case is a real ``.venv/bin/sealrun`` subprocess. Starting the CLI is slow on a loaded machine,
so a module fixture launches every case at once (a few at a time) and the tests read the results.
"""

from __future__ import annotations

import base64
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sealrun.core.attestation import (
    APP_EVENT_NAME,
    EventLog,
    RuntimeEvent,
    SevSnpVerifier,
    SimulatorKey,
    make_simulated_evidence,
)
from tests.attestation.vectors import (
    REASON_CODES,
    actual_claim,
    collateral_path,
    evidence_for,
    required_vectors,
)
from tests.conftest import REPO, VECTORS

SEALRUN = str(REPO / ".venv" / "bin" / "sealrun")
ENTRIES = required_vectors(VECTORS)
SGX = next((e for e in ENTRIES if e["id"] == "sgx-dcapqvl-sample"), {})
SNP_DEBUG = next((e for e in ENTRIES if e["id"] == "snp-gosevguest-debug-policy"), {})
SNP = next((e for e in ENTRIES if e["id"] == "snp-virtee-milan"), {})
TDX = next((e for e in ENTRIES if e["id"] == "tdx-dcapqvl-sample"), {})


def _verify_args(entry: dict[str, Any], *extra: str) -> list[str]:
    args = ["attestation", "verify", str(VECTORS / entry["evidence"]), "--type", entry["evidence_type"]]
    collateral = collateral_path(VECTORS, entry)
    if collateral is not None:
        args += ["--collateral", str(collateral)]
    return [*args, "--at", str(entry["verify_at"]), *extra]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("attestation-cli")
    measurement = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    # The recorded collateral is 15 days old at verify_at: these policies allow 30 days.
    (folder / "strict.toml").write_text(
        f'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["{measurement}"]\n'
        "max_collateral_age = 2592000\n"
    )
    (folder / "lenient.json").write_text(
        json.dumps(
            {
                "version": 1,
                "allowed_tee_types": ["sgx-dcap"],
                "measurements": [measurement],
                "accepted_tcb_statuses": ["ConfigurationAndSWHardeningNeeded"],
                "max_collateral_age": 2592000,
            }
        )
    )
    (folder / "unknown-key.toml").write_text(
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasure = ["aa"]\n'
    )
    key = SimulatorKey.from_private_bytes(b"\x11" * 32)
    (folder / "simulator.pub").write_bytes(key.public_key.to_pem())
    evidence = make_simulated_evidence(key, measurement=b"\x01" * 32, report_data=b"\x02" * 64)
    (folder / "simulated.bin").write_bytes(evidence.payload)
    (folder / "simulated.b64").write_text(base64.b64encode(evidence.payload).decode())
    (folder / "garbage.bin").write_bytes(b"\x00\xff" * 100)
    launch = SevSnpVerifier().verify(evidence_for(VECTORS, SNP), now=SNP["verify_at"]).measurement
    images = {"version": 1, "images": [{"name": "milan base", "tee": "sev-snp", "measurement": launch.hex()}]}
    (folder / "images.json").write_text(json.dumps(images))
    log = EventLog((RuntimeEvent.measure(APP_EVENT_NAME, b"\x07" * 32),))
    (folder / "events.json").write_bytes(log.to_json())
    return folder


def _cases(work: Path) -> dict[str, list[str]]:
    cases = {f"vector:{entry['id']}": _verify_args(entry, "--json") for entry in ENTRIES}
    cases |= {
        "snp-allow-debug": _verify_args(SNP_DEBUG, "--allow-debug", "--json"),
        "policy-strict": _verify_args(SGX, "--policy", str(work / "strict.toml"), "--json"),
        "policy-lenient-human": _verify_args(SGX, "--policy", str(work / "lenient.json")),
        "policy-unknown-key": _verify_args(SGX, "--policy", str(work / "unknown-key.toml"), "--json"),
        "simulated": ["attestation", "verify", str(work / "simulated.b64"), "--type", "simulated",
                      "--simulator-key", str(work / "simulator.pub"), "--json"],
        "simulated-no-key": ["attestation", "verify", str(work / "simulated.bin"), "--type", "simulated",
                             "--json"],
        "unknown-type": ["attestation", "verify", str(work / "garbage.bin"), "--type", "sgx", "--json"],
        "real-clock": [*_verify_args(SGX)[:-2], "--json"],
        "keygen": ["attestation", "simulator-key", str(work / "new.pem"), "--json"],
        "cvm-snp": _verify_args(SNP, "--trusted-images", str(work / "images.json"), "--json"),
        "cvm-tdx-untrusted": _verify_args(TDX, "--trusted-images", str(work / "images.json"),
                                          "--event-log", str(work / "events.json"), "--json"),
        "cvm-tdx-no-log": _verify_args(TDX, "--trusted-images", str(work / "images.json"), "--json"),
    }  # fmt: skip
    return cases


@pytest.fixture(scope="module")
def results(work: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    cases = _cases(work)

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SEALRUN, *args], capture_output=True, text=True, timeout=300, check=False)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(cases, pool.map(run, cases.values()), strict=True))


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["id"] for entry in ENTRIES])
def test_every_vector_through_the_cli(results: dict[str, Any], entry: dict[str, Any]) -> None:
    result = results[f"vector:{entry['id']}"]
    document = _json(result)
    if entry["expected"] == "accept":
        assert result.returncode == 0, result.stdout
        assert document["verified_at"] == entry["verify_at"]
        for name, expected in entry["expected_claims"].items():
            assert actual_claim(document["claims"], name) == expected, name
    else:
        assert result.returncode == 1
        assert document["error"]["code"] == REASON_CODES[entry["expected_reason"]]


def test_debug_claims_are_shown_with_allow_debug(results: dict[str, Any]) -> None:
    document = _json(results["snp-allow-debug"])
    for name, expected in SNP_DEBUG["claims_if_debug_allowed"].items():
        assert actual_claim(document["claims"], name) == expected, name


def test_strict_policy_refuses_the_sgx_sample(results: dict[str, Any]) -> None:
    result = results["policy-strict"]
    document = _json(result)
    assert result.returncode == 1
    assert document["verdict"]["decision"] == "reject"
    assert document["error"]["code"] == "ATTEST_POLICY_TCB_STATUS"
    assert document["claims"]["tcb_status"] == "ConfigurationAndSWHardeningNeeded"


def test_a_policy_allowing_the_status_accepts_it_and_humans_read_it(results: dict[str, Any]) -> None:
    result = results["policy-lenient-human"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tcb_status: ConfigurationAndSWHardeningNeeded" in result.stdout
    assert "policy: accept" in result.stdout


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("policy-unknown-key", "ATTEST_POLICY_INVALID"),
        ("simulated-no-key", "CONFIG_INVALID"),
        ("unknown-type", "ATTEST_UNKNOWN_TYPE"),
        ("real-clock", "ATTEST_EXPIRED"),
    ],
)
def test_bad_input_gives_one_code_and_exit_1(results: dict[str, Any], case: str, code: str) -> None:
    result = results[case]
    assert result.returncode == 1, result.stdout + result.stderr
    assert _json(result) == {"error": {"code": code, "message": _json(result)["error"]["message"]}}
    assert "Traceback" not in result.stderr


def test_simulated_evidence_through_the_cli(results: dict[str, Any]) -> None:
    result = results["simulated"]
    assert result.returncode == 0, result.stdout
    claims = _json(result)["claims"]
    assert claims["simulated"] is True
    assert claims["measurement"] == "01" * 32


def test_simulator_key_generation_writes_a_private_file(results: dict[str, Any], work: Path) -> None:
    result = results["keygen"]
    assert result.returncode == 0, result.stderr
    key = SimulatorKey.parse((work / "new.pem").read_bytes())
    assert _json(result)["public_key"] == key.public_key.raw.hex()
    assert (work / "new.pem").stat().st_mode & 0o777 == 0o600


def test_confidential_vm_mode_through_the_cli(results: dict[str, Any]) -> None:
    snp = _json(results["cvm-snp"])
    assert results["cvm-snp"].returncode == 0
    assert snp["claims"]["measurement"] == "00" * 32  # the sample's HOST_DATA
    assert snp["claims"]["extra"]["image"] == "milan base"
    assert snp["claims"]["extra"]["app_fingerprint_source"] == "host-data"
    for case, code in (
        ("cvm-tdx-untrusted", "ATTEST_IMAGE_UNTRUSTED"),
        ("cvm-tdx-no-log", "ATTEST_EVENTLOG_MISSING"),
    ):
        assert results[case].returncode == 1
        assert _json(results[case])["error"]["code"] == code
