"""Simulated and real evidence never stand in for each other, and the type alone picks the verifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.core.attestation import (
    Evidence,
    EvidenceType,
    EvidenceVerifier,
    NitroVerifier,
    Policy,
    SevSnpVerifier,
    SgxDcapVerifier,
    SimulatedVerifier,
    SimulatorKey,
    TdxDcapVerifier,
    make_simulated_evidence,
    standard_verifier,
)
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, load_vectors

KEY = SimulatorKey.from_private_bytes(b"\x05" * 32)
SIMULATED = make_simulated_evidence(KEY, measurement=b"\x01" * 32, report_data=b"\x02" * 64)
REAL_TYPES = [EvidenceType.SGX_DCAP, EvidenceType.TDX_DCAP, EvidenceType.SEV_SNP, EvidenceType.NITRO]


def test_without_a_simulator_key_simulated_evidence_has_no_verifier() -> None:
    with pytest.raises(AttestationError) as caught:
        standard_verifier().verify(SIMULATED, now=0)
    assert caught.value.code == "ATTEST_UNKNOWN_TYPE"
    assert EvidenceType.SIMULATED not in standard_verifier().types


def test_with_the_key_simulated_evidence_verifies_as_simulated() -> None:
    claims = standard_verifier(simulator_public_key=KEY.public_key).verify(SIMULATED, now=0)
    assert claims.simulated is True
    assert claims.tee is EvidenceType.SIMULATED


@pytest.mark.parametrize("declared", REAL_TYPES)
def test_every_real_verifier_rejects_simulated_bytes(declared: EvidenceType) -> None:
    relabelled = Evidence(declared, SIMULATED.payload, b"{}")
    with pytest.raises(AttestationError) as caught:
        standard_verifier(simulator_public_key=KEY.public_key).verify(relabelled, now=0)
    assert caught.value.code in {"ATTEST_MALFORMED", "ATTEST_COLLATERAL"}


@pytest.mark.parametrize(
    "verifier",
    [SgxDcapVerifier(), TdxDcapVerifier(), SevSnpVerifier(), NitroVerifier()],
    ids=lambda v: v.evidence_type,
)
def test_every_real_verifier_rejects_the_simulated_type(verifier: object) -> None:
    with pytest.raises(AttestationError) as caught:
        verifier.verify(SIMULATED, now=0)  # type: ignore[attr-defined]
    assert caught.value.code == "ATTEST_TYPE_MISMATCH"


def test_real_evidence_declared_simulated_is_refused(vectors_dir: Path) -> None:
    verifier = SimulatedVerifier(KEY.public_key)
    for entry in load_vectors(vectors_dir):
        real = evidence_for(vectors_dir, entry)
        with pytest.raises(AttestationError) as caught:
            verifier.verify(Evidence(EvidenceType.SIMULATED, real.payload), now=entry["verify_at"])
        assert caught.value.code == "ATTEST_MALFORMED", entry["id"]


def test_a_quote_declared_as_the_other_dcap_type_is_a_type_mismatch(vectors_dir: Path) -> None:
    for entry in load_vectors(vectors_dir):
        if entry["evidence_type"] not in ("sgx-dcap", "tdx-dcap"):
            continue
        real = evidence_for(vectors_dir, entry)
        other = EvidenceType.TDX_DCAP if real.type is EvidenceType.SGX_DCAP else EvidenceType.SGX_DCAP
        with pytest.raises(AttestationError) as caught:
            standard_verifier().verify(Evidence(other, real.payload, real.collateral), now=entry["verify_at"])
        assert caught.value.code == "ATTEST_TYPE_MISMATCH", entry["id"]


def test_real_evidence_under_another_real_type_never_verifies(vectors_dir: Path) -> None:
    for entry in load_vectors(vectors_dir):
        real = evidence_for(vectors_dir, entry)
        for declared in REAL_TYPES:
            if declared.value == entry["evidence_type"]:
                continue
            with pytest.raises(AttestationError):
                standard_verifier().verify(
                    Evidence(declared, real.payload, real.collateral), now=entry["verify_at"]
                )


def test_default_policy_for_real_types_refuses_simulated_claims() -> None:
    claims = SimulatedVerifier(KEY.public_key).verify(SIMULATED, now=0)
    policy = Policy(allowed_tee_types=frozenset(REAL_TYPES), measurements=frozenset({b"\x01" * 32}))
    with pytest.raises(AttestationError) as caught:
        policy.appraise(claims)
    assert caught.value.code == "ATTEST_POLICY_SIMULATED"


def test_a_policy_naming_simulated_does_not_accept_real_evidence_types_it_omits(vectors_dir: Path) -> None:
    entry = next(e for e in load_vectors(vectors_dir) if e["id"] == "tdx-dcapqvl-sample")
    claims = standard_verifier().verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
    policy = Policy(
        allowed_tee_types=frozenset({EvidenceType.SIMULATED}), measurements=frozenset({claims.measurement})
    )
    with pytest.raises(AttestationError) as caught:
        policy.appraise(claims)
    assert caught.value.code == "ATTEST_POLICY_TEE_TYPE"


def test_two_verifiers_for_one_type_are_refused() -> None:
    with pytest.raises(ValueError, match="two verifiers"):
        EvidenceVerifier([SgxDcapVerifier(), SgxDcapVerifier()])


def test_unknown_type_names_are_refused() -> None:
    for name in ("SGX-DCAP", "sgx", "", "tdx"):
        with pytest.raises(AttestationError) as caught:
            EvidenceType.parse(name)
        assert caught.value.code == "ATTEST_UNKNOWN_TYPE"
