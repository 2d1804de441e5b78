"""Simulated evidence: round trip, trust root, tampering, debug, wire-format limits."""

from __future__ import annotations

import hashlib
import struct

import pytest

from sealrun.core.attestation import (
    Claims,
    Evidence,
    EvidenceType,
    SimulatedVerifier,
    SimulatorKey,
    SimulatorPublicKey,
    make_simulated_evidence,
    report_data_for,
)
from sealrun.errors import AttestationError

MEASUREMENT = hashlib.sha256(b"app bundle").digest()
REPORT_DATA = report_data_for(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32)


def _key(seed: int = 7) -> SimulatorKey:
    return SimulatorKey.from_private_bytes(bytes([seed]) * 32)


def _verify(evidence: Evidence, key: SimulatorKey | None = None, **kwargs: bool) -> Claims:
    return SimulatedVerifier((key or _key()).public_key, **kwargs).verify(evidence, now=0)


def test_round_trip_mints_simulated_claims() -> None:
    evidence = make_simulated_evidence(
        _key(),
        measurement=MEASUREMENT,
        report_data=REPORT_DATA,
        signer=b"\x05" * 32,
        product_id=3,
        svn=9,
        tcb_status="SWHardeningNeeded",
        advisories=["INTEL-SA-00615", "INTEL-SA-00289"],
        extra={"runtime": b"\xaa"},
    )
    assert evidence.type is EvidenceType.SIMULATED
    claims = _verify(evidence)
    assert claims.simulated is True
    assert claims.tee is EvidenceType.SIMULATED
    assert claims.measurement == MEASUREMENT
    assert claims.report_data == REPORT_DATA
    assert (claims.signer, claims.product_id, claims.svn) == (b"\x05" * 32, 3, 9)
    assert claims.tcb_status == "SWHardeningNeeded"
    assert claims.advisories == ("INTEL-SA-00289", "INTEL-SA-00615")
    assert claims.extra["runtime"] == b"\xaa"
    assert claims.debug is False


def test_defaults_claim_up_to_date_and_no_signer() -> None:
    claims = _verify(make_simulated_evidence(_key(), measurement=MEASUREMENT, report_data=REPORT_DATA))
    assert claims.tcb_status == "UpToDate"
    assert (claims.signer, claims.product_id, claims.svn, claims.advisories) == (None, None, None, ())


def test_another_deployments_key_is_an_untrusted_root() -> None:
    evidence = make_simulated_evidence(_key(1), measurement=MEASUREMENT, report_data=REPORT_DATA)
    with pytest.raises(AttestationError) as caught:
        _verify(evidence, _key(2))
    assert caught.value.code == "ATTEST_UNTRUSTED_ROOT"


@pytest.mark.parametrize("where", ["body", "signature"])
def test_a_tampered_byte_breaks_the_signature(where: str) -> None:
    payload = bytearray(
        make_simulated_evidence(_key(), measurement=MEASUREMENT, report_data=REPORT_DATA).payload
    )
    if where == "body":
        index = payload.index(b'"svn":null')
        payload[index : index + 10] = b'"svn":9999'  # same length, still valid JSON
    else:
        payload[-1] ^= 1
    with pytest.raises(AttestationError) as caught:
        _verify(Evidence(EvidenceType.SIMULATED, bytes(payload)))
    assert caught.value.code == "ATTEST_SIGNATURE"


def test_debug_is_rejected_unless_allowed() -> None:
    evidence = make_simulated_evidence(_key(), measurement=MEASUREMENT, report_data=REPORT_DATA, debug=True)
    with pytest.raises(AttestationError) as caught:
        _verify(evidence)
    assert caught.value.code == "ATTEST_DEBUG"
    assert _verify(evidence, allow_debug=True).debug is True


def test_other_types_are_refused_by_the_simulated_verifier() -> None:
    evidence = make_simulated_evidence(_key(), measurement=MEASUREMENT, report_data=REPORT_DATA)
    relabelled = Evidence(EvidenceType.SGX_DCAP, evidence.payload)
    with pytest.raises(AttestationError) as caught:
        _verify(relabelled)
    assert caught.value.code == "ATTEST_TYPE_MISMATCH"


def test_verifier_requires_an_explicit_public_key() -> None:
    with pytest.raises(TypeError):
        SimulatedVerifier(None)  # type: ignore[arg-type]


def test_claims_cannot_be_built_directly() -> None:
    with pytest.raises(TypeError):
        Claims(  # type: ignore[call-arg]
            tee=EvidenceType.SIMULATED,
            measurement=b"x",
            signer=None,
            product_id=None,
            svn=None,
            debug=False,
            tcb_status="UpToDate",
            advisories=(),
            report_data=REPORT_DATA,
            extra={},
            simulated=False,
        )


def test_keys_serialize_and_parse() -> None:
    key = SimulatorKey.generate()
    assert SimulatorKey.parse(key.to_pem()).public_key == key.public_key
    assert SimulatorKey.from_private_bytes(key.private_bytes()).public_key == key.public_key
    assert SimulatorPublicKey.parse(key.public_key.to_pem()) == key.public_key
    assert SimulatorPublicKey.parse(key.public_key.raw.hex().encode()) == key.public_key
    assert SimulatorKey.generate(entropy=lambda n: b"\x09" * n).public_key == _key(9).public_key
    with pytest.raises(AttestationError):
        SimulatorPublicKey.parse(b"not a key")
    with pytest.raises(AttestationError):
        SimulatorKey.parse(key.public_key.to_pem())


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"measurement": b""}, "measurement"),
        ({"report_data": b"\x00" * 63}, "report_data"),
        ({"svn": 70000}, "svn"),
        ({"product_id": -1}, "product_id"),
        ({"tcb_status": "Up To Date"}, "tcb_status"),
    ],
)
def test_out_of_range_fields_are_refused_when_making(kwargs: dict[str, object], what: str) -> None:
    arguments: dict[str, object] = {"measurement": MEASUREMENT, "report_data": REPORT_DATA} | kwargs
    with pytest.raises(AttestationError, match=what):
        make_simulated_evidence(_key(), **arguments)  # type: ignore[arg-type]


def test_wire_format_header_is_as_documented() -> None:
    payload = make_simulated_evidence(_key(), measurement=MEASUREMENT, report_data=REPORT_DATA).payload
    magic, version, length = struct.unpack_from(">11sBH", payload)
    assert (magic, version) == (b"sealrun-sim", 1)
    assert len(payload) == 14 + length + 64


def test_trailing_bytes_and_other_versions_are_malformed() -> None:
    payload = make_simulated_evidence(_key(), measurement=MEASUREMENT, report_data=REPORT_DATA).payload
    for bad in (payload + b"\x00", payload[:11] + b"\x02" + payload[12:], payload[:-1]):
        with pytest.raises(AttestationError) as caught:
            _verify(Evidence(EvidenceType.SIMULATED, bad))
        assert caught.value.code == "ATTEST_MALFORMED"
