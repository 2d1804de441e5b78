"""Hostile input: every parser lets only AttestationError escape (random bytes, truncations,
appended data, bit flips), and flips in signed regions are always refused.

The bit-flip sweeps are bounded to keep the run short: every offset of the simulated evidence
and of the SEV-SNP report, every offset of the DCAP quote header and report body plus every
7th byte after, every offset of the first 512 bytes of the Nitro document plus every 13th byte.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealrun.core.attestation import (
    Claims,
    Evidence,
    EvidenceType,
    Policy,
    SimulatorKey,
    SimulatorPublicKey,
    decode_evidence_text,
    make_simulated_evidence,
    standard_verifier,
)
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, required_vectors
from tests.conftest import VECTORS

KEY = SimulatorKey.from_private_bytes(b"\x03" * 32)
VERIFIER = standard_verifier(simulator_public_key=KEY.public_key)
ZERO_PADDING = {"tdx-dcap": 70}  # the upstream TDX sample ends with 70 zero bytes after the quote
HOSTILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _samples() -> dict[str, tuple[Evidence, int]]:
    samples: dict[str, tuple[Evidence, int]] = {}
    for entry in required_vectors(VECTORS):
        if entry["expected"] == "accept":
            samples[entry["evidence_type"]] = (evidence_for(VECTORS, entry), entry["verify_at"])
    simulated = make_simulated_evidence(KEY, measurement=b"\x01" * 32, report_data=b"\x02" * 64, svn=3)
    samples["simulated"] = (simulated, 0)
    return samples


SAMPLES = _samples()
TYPES = sorted(SAMPLES)


def _outcome(evidence: Evidence, now: int) -> Claims | AttestationError:
    """Verify; return the claims or the AttestationError. Any other exception fails the test."""
    try:
        return VERIFIER.verify(evidence, now=now)
    except AttestationError as error:
        return error


def _with_payload(evidence: Evidence, payload: bytes) -> Evidence | None:
    try:
        return Evidence(evidence.type, payload, evidence.collateral)
    except AttestationError:
        return None  # empty payload: the envelope itself refuses it


def test_every_sample_verifies(vectors_dir: Path) -> None:
    assert set(SAMPLES) == {"sgx-dcap", "tdx-dcap", "sev-snp", "nitro", "simulated"}
    for evidence, now in SAMPLES.values():
        assert isinstance(_outcome(evidence, now), Claims)


@pytest.mark.parametrize("kind", TYPES)
@HOSTILE
@given(data=st.binary(min_size=1, max_size=6000))
def test_random_bytes(kind: str, data: bytes) -> None:
    evidence, now = SAMPLES[kind]
    assert isinstance(_outcome(Evidence(evidence.type, data, evidence.collateral), now), AttestationError)


@pytest.mark.parametrize("kind", TYPES)
@HOSTILE
@given(fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncations(kind: str, fraction: float) -> None:
    evidence, now = SAMPLES[kind]
    size = int(len(evidence.payload) * fraction)
    cut = _with_payload(evidence, evidence.payload[:size])
    if cut is None:
        return
    outcome = _outcome(cut, now)
    if size >= len(evidence.payload) - ZERO_PADDING.get(kind, 0):
        # Only zero padding was cut (the TDX sample's 70 trailing zeros): still the signed quote.
        assert isinstance(outcome, Claims)
    else:
        assert isinstance(outcome, AttestationError)


@pytest.mark.parametrize("kind", TYPES)
@HOSTILE
@given(tail=st.binary(min_size=1, max_size=256))
def test_appended_data(kind: str, tail: bytes) -> None:
    evidence, now = SAMPLES[kind]
    outcome = _outcome(Evidence(evidence.type, evidence.payload + tail, evidence.collateral), now)
    if evidence.type in (EvidenceType.SGX_DCAP, EvidenceType.TDX_DCAP) and not any(tail):
        # Zero padding after a DCAP quote is tolerated (the upstream TDX sample carries 70 bytes).
        assert isinstance(outcome, Claims)
    else:
        assert isinstance(outcome, AttestationError)


def _flip_offsets(kind: str, size: int) -> list[int]:
    if kind in ("simulated", "sev-snp"):
        return list(range(size))
    if kind in ("sgx-dcap", "tdx-dcap"):
        dense = 48 + (384 if kind == "sgx-dcap" else 584)
        return list(range(dense)) + list(range(dense, size, 7))
    return list(range(512)) + list(range(512, size, 13))


@pytest.mark.parametrize("kind", TYPES)
def test_bit_flips(kind: str) -> None:
    evidence, now = SAMPLES[kind]
    original = _outcome(evidence, now)
    assert isinstance(original, Claims)
    accepted: list[int] = []
    for offset in _flip_offsets(kind, len(evidence.payload)):
        flipped = bytearray(evidence.payload)
        flipped[offset] ^= 1 << (offset % 8)
        outcome = _outcome(Evidence(evidence.type, bytes(flipped), evidence.collateral), now)
        if isinstance(outcome, Claims):
            accepted.append(offset)
    signed_end = {"sev-snp": 0x330, "simulated": len(evidence.payload), "sgx-dcap": 432, "tdx-dcap": 632}
    # Every byte of a signed region is covered by a signature: no flip there may verify.
    assert [offset for offset in accepted if offset < signed_end.get(kind, 0)] == []


@HOSTILE
@given(data=st.binary(max_size=2048))
def test_collateral_parsers(data: bytes) -> None:
    for kind in ("sgx-dcap", "tdx-dcap", "sev-snp"):
        evidence, now = SAMPLES[kind]
        assert isinstance(_outcome(Evidence(evidence.type, evidence.payload, data), now), AttestationError)


@HOSTILE
@given(data=st.one_of(st.binary(max_size=512), st.text(max_size=512).map(str.encode)))
def test_text_parsers(data: bytes) -> None:
    parsers: list[Any] = [
        Evidence.from_json,
        lambda d: Policy.from_text(d.decode("utf-8", "replace")),
        SimulatorPublicKey.parse,
        SimulatorKey.parse,
        decode_evidence_text,
    ]
    for parse in parsers:
        with contextlib.suppress(AttestationError):
            parse(data)


@HOSTILE
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.binary(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=20,
    )
)
def test_policy_mappings(document: object) -> None:
    with contextlib.suppress(AttestationError):
        Policy.from_mapping({"version": 1, "allowed_tee_types": ["simulated"], "measurements": document})
    with contextlib.suppress(AttestationError):
        Policy.from_mapping(document)  # type: ignore[arg-type]
