"""Every shared vector, verified at its verify_at, gives its expected decision, reason and claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sealrun.core.attestation import SevSnpVerifier, standard_verifier
from sealrun.errors import AttestationError
from tests.attestation.vectors import REASON_CODES, actual_claim, evidence_for, load_vectors, required_vectors
from tests.conftest import VECTORS

ENTRIES = required_vectors(VECTORS)


def test_the_vectors_folder_is_present(vectors_dir: Path) -> None:
    # A missing folder must fail the run, not silently parametrize zero cases.
    assert len(load_vectors(vectors_dir)) >= 8


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["id"] for entry in ENTRIES])
def test_vector_gives_its_expected_result(vectors_dir: Path, entry: dict[str, Any]) -> None:
    evidence = evidence_for(vectors_dir, entry)
    verifier = standard_verifier()
    if entry["expected"] == "accept":
        claims = verifier.verify(evidence, now=entry["verify_at"]).to_dict()
        assert claims["simulated"] is False
        assert claims["tee"] == entry["evidence_type"]
        for name, expected in entry["expected_claims"].items():
            assert actual_claim(claims, name) == expected, name
    else:
        with pytest.raises(AttestationError) as caught:
            verifier.verify(evidence, now=entry["verify_at"])
        assert caught.value.code == REASON_CODES[entry["expected_reason"]]


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if "claims_if_debug_allowed" in e], ids=lambda e: e["id"]
)
def test_debug_vectors_verify_when_debug_is_allowed(vectors_dir: Path, entry: dict[str, Any]) -> None:
    claims = SevSnpVerifier(allow_debug=True).verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
    rendered = claims.to_dict()
    for name, expected in entry["claims_if_debug_allowed"].items():
        assert actual_claim(rendered, name) == expected, name


@pytest.mark.parametrize(
    "entry",
    [e for e in ENTRIES if e["evidence_type"] in ("sgx-dcap", "tdx-dcap", "nitro")],
    ids=lambda e: e["id"],
)
@pytest.mark.parametrize("when", ["before", "after"])
def test_outside_the_validity_window_is_expired(vectors_dir: Path, entry: dict[str, Any], when: str) -> None:
    window = entry["validity_window"]
    now = window["not_before"] - 86400 if when == "before" else window["not_after"] + 86400
    with pytest.raises(AttestationError) as caught:
        standard_verifier().verify(evidence_for(vectors_dir, entry), now=now)
    expected = {"ATTEST_EXPIRED"}
    if entry.get("expected") == "reject":
        expected.add(REASON_CODES[entry["expected_reason"]])
    assert caught.value.code in expected


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["evidence_type"] == "sev-snp"], ids=lambda e: e["id"]
)
def test_snp_certificates_expire_too(vectors_dir: Path, entry: dict[str, Any]) -> None:
    with pytest.raises(AttestationError) as caught:
        SevSnpVerifier(allow_debug=True).verify(
            evidence_for(vectors_dir, entry), now=entry["validity_window"]["not_after"] + 1
        )
    assert caught.value.code == "ATTEST_EXPIRED"
