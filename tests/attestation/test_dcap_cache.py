"""The DCAP verifier keeps recent collateral and FMSPCs parsed: the verdicts stay the same.

A verifier sees one collateral per platform model and one PCK chain per machine in quote after
quote, so it parses each once (``dcap._Recent``). These tests hold the guard that a cache must
never change an answer: interleaved quotes of two machines keep their own FMSPC and TCB
status, a collateral that does not parse is never kept (and a good one cached before does not
make a broken one pass), and the cache stays bounded.
"""

from __future__ import annotations

import json

import dcap_qvl
import pytest

from sealrun.core.attestation import Evidence, EvidenceType, dcap, decode_evidence_text, standard_verifier
from sealrun.errors import AttestationError
from tests.conftest import VECTORS


def _case(entry_id: str) -> tuple[Evidence, int]:
    entries = {entry["id"]: entry for entry in json.loads((VECTORS / "vectors.json").read_text())}
    entry = entries[entry_id]
    kind = EvidenceType.TDX_DCAP if entry_id.startswith("tdx") else EvidenceType.SGX_DCAP
    evidence = Evidence(
        kind,
        decode_evidence_text((VECTORS / entry["evidence"]).read_bytes()),
        (VECTORS / entry["collateral"]).read_bytes(),
    )
    return evidence, int(entry["verify_at"])


def test_interleaved_machines_keep_their_own_fmspc_and_status() -> None:
    verifier = standard_verifier()
    sgx, sgx_at = _case("sgx-dcapqvl-sample")
    tdx, tdx_at = _case("tdx-dcapqvl-sample")
    first = [verifier.verify(sgx, now=sgx_at).to_dict(), verifier.verify(tdx, now=tdx_at).to_dict()]
    again = [verifier.verify(sgx, now=sgx_at).to_dict(), verifier.verify(tdx, now=tdx_at).to_dict()]
    assert first == again
    for claims, evidence in zip(first, (sgx, tdx), strict=True):
        assert claims["extra"]["fmspc"] == str(dcap_qvl.parse_quote(evidence.payload).fmspc()).upper()


def test_a_broken_collateral_is_refused_after_a_good_one_and_never_kept() -> None:
    verifier = standard_verifier()
    good, at = _case("sgx-dcapqvl-sample")
    verifier.verify(good, now=at)
    assert good.collateral is not None
    document = json.loads(good.collateral)
    signature = document["tcb_info_signature"]
    document["tcb_info_signature"] = ("00" if signature[:2] != "00" else "11") + signature[2:]
    tampered = Evidence(good.type, good.payload, json.dumps(document).encode())
    with pytest.raises(AttestationError):
        verifier.verify(tampered, now=at)
    garbage = Evidence(good.type, good.payload, b"{not json")
    for _ in range(2):
        with pytest.raises(AttestationError) as caught:
            verifier.verify(garbage, now=at)
        assert caught.value.code == "ATTEST_COLLATERAL"
    assert b"{not json" not in dcap._COLLATERALS._entries


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    recent = dcap._Recent(2)
    calls: list[bytes] = []

    def value(key: bytes) -> bytes:
        calls.append(key)
        return key.upper()

    for key in (b"a", b"b", b"a", b"c", b"b"):
        assert recent.get(key, lambda key=key: value(key)) == key.upper()  # type: ignore[misc]
    # b"a" was used again before b"c" came, so b"b" went out first and had to be recomputed.
    assert calls == [b"a", b"b", b"c", b"b"]
    assert list(recent._entries) == [b"c", b"b"]


def test_a_value_that_raises_is_not_kept() -> None:
    recent = dcap._Recent(4)

    def boom() -> bytes:
        raise AttestationError("bad", code="ATTEST_COLLATERAL")

    with pytest.raises(AttestationError):
        recent.get(b"k", boom)
    assert recent.get(b"k", lambda: b"ok") == b"ok"
