"""The deny-by-default policy: each rule's accept and reject, documents, and the SGX sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sealrun.core.attestation import (
    Claims,
    EvidenceType,
    Policy,
    SimulatedVerifier,
    SimulatorKey,
    make_simulated_evidence,
    standard_verifier,
)
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, load_vectors

KEY = SimulatorKey.from_private_bytes(b"\x07" * 32)
MEASUREMENT, SIGNER = b"\xaa" * 32, b"\xbb" * 32
SIM = frozenset({EvidenceType.SIMULATED})


def _claims(**overrides: Any) -> Claims:
    arguments: dict[str, Any] = {
        "measurement": MEASUREMENT,
        "report_data": b"\x00" * 64,
        "signer": SIGNER,
        "product_id": 4,
        "svn": 7,
        "extra": {"rtmr0": b"\x01" * 48},
    } | overrides
    evidence = make_simulated_evidence(KEY, **arguments)
    return SimulatedVerifier(KEY.public_key, allow_debug=True).verify(evidence, now=0)


def _code(policy: Policy, claims: Claims) -> str | None:
    try:
        policy.appraise(claims)
    except AttestationError as error:
        return error.code
    return None


BY_MEASUREMENT = Policy(allowed_tee_types=SIM, measurements=frozenset({MEASUREMENT}))
BY_SIGNER = Policy(allowed_tee_types=SIM, signer=SIGNER, product_id=4, min_svn=7)


@pytest.mark.parametrize(
    ("policy", "claims", "code"),
    [
        (BY_MEASUREMENT, _claims(), None),
        (BY_MEASUREMENT, _claims(measurement=b"\xac" * 32), "ATTEST_POLICY_MEASUREMENT"),
        (BY_SIGNER, _claims(measurement=b"\xac" * 32), None),
        (BY_SIGNER, _claims(signer=b"\xbc" * 32), "ATTEST_POLICY_SIGNER"),
        (BY_SIGNER, _claims(signer=None), "ATTEST_POLICY_SIGNER"),
        (BY_SIGNER, _claims(product_id=5), "ATTEST_POLICY_PRODUCT"),
        (BY_SIGNER, _claims(svn=8), None),
        (BY_SIGNER, _claims(svn=6), "ATTEST_POLICY_SVN"),
        (BY_SIGNER, _claims(svn=None), "ATTEST_POLICY_SVN"),
        (BY_MEASUREMENT, _claims(debug=True), "ATTEST_POLICY_DEBUG"),
        (BY_MEASUREMENT, _claims(tcb_status="OutOfDate"), "ATTEST_POLICY_TCB_STATUS"),
        (
            Policy(
                allowed_tee_types=SIM,
                measurements=frozenset({MEASUREMENT}),
                accepted_tcb_statuses=frozenset({"OutOfDate"}),
            ),
            _claims(tcb_status="OutOfDate"),
            None,
        ),
        (
            Policy(
                allowed_tee_types=SIM,
                measurements=frozenset({MEASUREMENT}),
                rejected_advisories=frozenset({"SA-1"}),
            ),
            _claims(advisories=["SA-1", "SA-2"]),
            "ATTEST_POLICY_ADVISORY",
        ),
        (
            Policy(
                allowed_tee_types=SIM,
                measurements=frozenset({MEASUREMENT}),
                rejected_advisories=frozenset({"SA-1"}),
            ),
            _claims(advisories=["SA-2"]),
            None,
        ),
        (
            Policy(
                allowed_tee_types=SIM,
                measurements=frozenset({MEASUREMENT}),
                registers={"rtmr0": b"\x01" * 48},
            ),
            _claims(),
            None,
        ),
        (
            Policy(
                allowed_tee_types=SIM,
                measurements=frozenset({MEASUREMENT}),
                registers={"rtmr0": b"\x02" * 48},
            ),
            _claims(),
            "ATTEST_POLICY_MEASUREMENT",
        ),
        (
            Policy(
                allowed_tee_types=SIM,
                measurements=frozenset({MEASUREMENT}),
                registers={"rtmr9": b"\x01" * 48},
            ),
            _claims(),
            "ATTEST_POLICY_MEASUREMENT",
        ),
        (
            Policy(
                allowed_tee_types=frozenset({EvidenceType.TDX_DCAP}), measurements=frozenset({MEASUREMENT})
            ),
            _claims(),
            "ATTEST_POLICY_SIMULATED",
        ),
    ],
)
def test_each_rule_accepts_and_rejects(policy: Policy, claims: Claims, code: str | None) -> None:
    assert _code(policy, claims) == code


def _sgx_claims(vectors_dir: Path) -> Claims:
    entry = next(e for e in load_vectors(vectors_dir) if e["id"] == "sgx-dcapqvl-sample")
    return standard_verifier().verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])


# The sample's recorded collateral is 15 days old at its verify_at: these policies allow 30 days
# (test_collateral_age.py checks the 7-day default refuses it).
MONTH = 30 * 24 * 3600


def test_strict_policy_refuses_the_sgx_sample_tcb_status(vectors_dir: Path) -> None:
    claims = _sgx_claims(vectors_dir)
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"
    policy = Policy.from_toml(
        f'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["{claims.measurement.hex()}"]\n'
        f"max_collateral_age = {MONTH}\n"
    )
    assert _code(policy, claims) == "ATTEST_POLICY_TCB_STATUS"


def test_a_policy_allowing_the_status_accepts_the_sgx_sample(vectors_dir: Path) -> None:
    claims = _sgx_claims(vectors_dir)
    policy = Policy.from_json(
        json.dumps(
            {
                "version": 1,
                "allowed_tee_types": ["sgx-dcap"],
                "signer": claims.signer.hex() if claims.signer else "",
                "product_id": 0,
                "min_svn": 0,
                "accepted_tcb_statuses": ["UpToDate", "ConfigurationAndSWHardeningNeeded"],
                "max_collateral_age": MONTH,
            }
        )
    )
    verdict = policy.appraise(claims)
    assert verdict.claims is claims
    assert "tcb_status" in verdict.rules


def test_an_advisory_deny_list_refuses_the_sgx_sample(vectors_dir: Path) -> None:
    claims = _sgx_claims(vectors_dir)
    policy = Policy(
        allowed_tee_types=frozenset({EvidenceType.SGX_DCAP}),
        measurements=frozenset({claims.measurement}),
        accepted_tcb_statuses=frozenset({"ConfigurationAndSWHardeningNeeded"}),
        rejected_advisories=frozenset({"INTEL-SA-00615"}),
        max_collateral_age=MONTH,
    )
    assert _code(policy, claims) == "ATTEST_POLICY_ADVISORY"


def test_snp_and_nitro_need_unappraised_named(vectors_dir: Path) -> None:
    for entry in load_vectors(vectors_dir):
        if entry["evidence_type"] not in ("sev-snp", "nitro") or entry["expected"] != "accept":
            continue
        claims = standard_verifier().verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
        strict = Policy(
            allowed_tee_types=frozenset({claims.tee}), measurements=frozenset({claims.measurement})
        )
        assert _code(strict, claims) == "ATTEST_POLICY_TCB_STATUS"
        named = Policy(
            allowed_tee_types=frozenset({claims.tee}),
            measurements=frozenset({claims.measurement}),
            accepted_tcb_statuses=frozenset({"Unappraised"}),
        )
        assert _code(named, claims) is None


@pytest.mark.parametrize(
    "document",
    [
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["aa"]\nallow_debug = true\n',
        'version = 2\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["aa"]\n',
        'allowed_tee_types = ["sgx-dcap"]\nmeasurements = ["aa"]\n',
        'version = 1\nmeasurements = ["aa"]\n',
        'version = 1\nallowed_tee_types = []\nmeasurements = ["aa"]\n',
        'version = 1\nallowed_tee_types = ["sgx"]\nmeasurements = ["aa"]\n',
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\n',
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["zz"]\n',
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\nsigner = "aa"\n',
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["aa"]\n'
        'accepted_tcb_statuses = ["Revoked"]\n',
        'version = 1\nallowed_tee_types = ["sgx-dcap"]\nmeasurements = ["aa"]\n'
        'accepted_tcb_statuses = ["uptodate"]\n',
        'version = 1\nallowed_tee_types = "sgx-dcap"\nmeasurements = ["aa"]\n',
        "version = 1\nallowed_tee_types = [\n",
        '{"version": 1, "allowed_tee_types": ["sgx-dcap"], "measurements": ["aa"], "extra": 1}',
        '{"version": true, "allowed_tee_types": ["sgx-dcap"], "measurements": ["aa"]}',
        "[1, 2]",
        "{",
    ],
)
def test_bad_documents_are_policy_invalid(document: str) -> None:
    with pytest.raises(AttestationError) as caught:
        Policy.from_text(document)
    assert caught.value.code == "ATTEST_POLICY_INVALID"


def test_a_policy_from_code_must_pin_an_identity() -> None:
    with pytest.raises(AttestationError) as caught:
        Policy(allowed_tee_types=SIM)
    assert caught.value.code == "ATTEST_POLICY_INVALID"


def test_toml_and_json_documents_are_equivalent() -> None:
    toml = Policy.from_text(
        'version = 1\nallowed_tee_types = ["tdx-dcap", "simulated"]\nmeasurements = ["0xAABB"]\n'
        'rejected_advisories = ["INTEL-SA-00615"]\n[registers]\nrtmr0 = "01"\n'
    )
    as_json = Policy.from_text(
        json.dumps(
            {
                "version": 1,
                "allowed_tee_types": ["simulated", "tdx-dcap"],
                "measurements": ["aabb"],
                "rejected_advisories": ["INTEL-SA-00615"],
                "registers": {"rtmr0": "01"},
            }
        )
    )
    assert toml == as_json
    assert toml.accepted_tcb_statuses == frozenset({"UpToDate"})
