"""Confidential-VM mode: trusted base images, the app fingerprint from RTMR3's log or HOST_DATA.

Real vectors where they can serve (the TDX sample quote's registers, the SEV-SNP Milan report
end to end), a register double (:mod:`tests.attestation.cvm_doubles`) for the TDX success path:
no public TDX quote with a matching RTMR3 event log is in the shared vectors.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sealrun.core.attestation import (
    APP_EVENT_NAME,
    ConfidentialVmVerifier,
    EventLog,
    Evidence,
    EvidenceType,
    RuntimeEvent,
    SevSnpVerifier,
    SgxDcapVerifier,
    TdxDcapVerifier,
    TrustedImages,
    standard_verifier,
)
from sealrun.core.attestation.cvm import SOURCE_EVENT_LOG, SOURCE_HOST_DATA
from sealrun.errors import AttestationError
from tests.attestation.cvm_doubles import RegistersVerifier
from tests.attestation.vectors import evidence_for, load_vectors

FINGERPRINT = hashlib.sha256(b"the app bundle").digest()
MR_TD, RTMR0, RTMR1, RTMR2 = (bytes([n]) * 48 for n in (0xA0, 0xA1, 0xA2, 0xA3))
SNP_LAUNCH = b"\x5e" * 48


def _images(*entries: dict[str, Any]) -> TrustedImages:
    return TrustedImages.from_text(json.dumps({"version": 1, "images": list(entries)}))


def _tdx_image(
    name: str = "base tdx", *, mr_td: bytes = MR_TD, rtmrs: tuple[bytes, ...] = (RTMR0, RTMR1, RTMR2)
) -> dict[str, Any]:
    return {"name": name, "tee": "tdx-dcap", "mr_td": mr_td.hex(), "rtmr0": rtmrs[0].hex(),
            "rtmr1": rtmrs[1].hex(), "rtmr2": rtmrs[2].hex()}  # fmt: skip


def _snp_image(name: str = "base snp", measurement: bytes = SNP_LAUNCH) -> dict[str, Any]:
    return {"name": name, "tee": "sev-snp", "measurement": measurement.hex()}


def _app_log(fingerprint: bytes = FINGERPRINT) -> EventLog:
    return EventLog(
        (RuntimeEvent.measure("sealrun.boot", b"1"), RuntimeEvent.measure(APP_EVENT_NAME, fingerprint))
    )


def _tdx_double(log: EventLog, *, mr_td: bytes = MR_TD) -> RegistersVerifier:
    extra = {"rtmr0": RTMR0, "rtmr1": RTMR1, "rtmr2": RTMR2, "rtmr3": log.replay(), "fmspc": "00906ED50000"}
    return RegistersVerifier(EvidenceType.TDX_DCAP, mr_td, extra)


def _tdx_evidence(log: bytes | None) -> Evidence:
    return Evidence(EvidenceType.TDX_DCAP, b"\x42" * 64, None, log)


def _code(verifier: ConfidentialVmVerifier, evidence: Evidence, now: int = 0) -> str:
    with pytest.raises(AttestationError) as caught:
        verifier.verify(evidence, now=now)
    return caught.value.code


def _vector(vectors_dir: Path, vector_id: str) -> tuple[Evidence, int]:
    entry = next(entry for entry in load_vectors(vectors_dir) if entry["id"] == vector_id)
    return evidence_for(vectors_dir, entry), entry["verify_at"]


# -- TDX ---------------------------------------------------------------------------------------


def test_tdx_claims_carry_the_app_fingerprint_from_the_replayed_log() -> None:
    log = _app_log()
    verifier = ConfidentialVmVerifier(_tdx_double(log), _images(_tdx_image("sealrun-cvm 2026.12")))
    claims = verifier.verify(_tdx_evidence(log.to_json()), now=7)
    assert claims.tee is EvidenceType.TDX_DCAP
    assert claims.measurement == FINGERPRINT
    assert claims.extra["base_measurement"] == MR_TD
    assert claims.extra["image"] == "sealrun-cvm 2026.12"
    assert claims.extra["app_fingerprint_source"] == SOURCE_EVENT_LOG
    assert claims.extra["event_log_events"] == 2
    assert claims.extra["fmspc"] == "00906ED50000"  # the hardware verifier's claims are kept
    assert claims.report_data == b"\x42" * 64
    assert claims.to_dict()["measurement"] == FINGERPRINT.hex()


def test_tdx_without_a_log_or_with_a_bad_one_is_refused_before_the_quote_is_verified() -> None:
    log = _app_log()
    inner = _tdx_double(log)
    verifier = ConfidentialVmVerifier(inner, _images(_tdx_image()))
    assert _code(verifier, _tdx_evidence(None)) == "ATTEST_EVENTLOG_MISSING"
    assert _code(verifier, _tdx_evidence(b'{"version": 2, "events": []}')) == "ATTEST_EVENTLOG_MALFORMED"
    assert inner.calls == []


@pytest.mark.parametrize(
    ("images", "code"),
    [
        ([_tdx_image(mr_td=b"\x01" * 48)], "ATTEST_IMAGE_UNTRUSTED"),
        ([_tdx_image(rtmrs=(RTMR0, RTMR1, b"\x01" * 48))], "ATTEST_IMAGE_UNTRUSTED"),
        ([_snp_image(measurement=MR_TD)], "ATTEST_IMAGE_UNTRUSTED"),  # an SNP image never matches TDX
    ],
)
def test_tdx_on_an_untrusted_base_image_is_refused(images: list[dict[str, Any]], code: str) -> None:
    log = _app_log()
    verifier = ConfidentialVmVerifier(_tdx_double(log), _images(*images))
    assert _code(verifier, _tdx_evidence(log.to_json())) == code


def test_tdx_with_a_log_that_does_not_replay_or_two_app_events_is_refused() -> None:
    log = _app_log()
    verifier = ConfidentialVmVerifier(_tdx_double(log), _images(_tdx_image()))
    other = _app_log(b"\x66" * 32)
    assert _code(verifier, _tdx_evidence(other.to_json())) == "ATTEST_EVENTLOG_REPLAY"
    twice = EventLog((*log.events, RuntimeEvent.measure(APP_EVENT_NAME, b"\x66" * 32)))
    twice_verifier = ConfidentialVmVerifier(_tdx_double(twice), _images(_tdx_image()))
    assert _code(twice_verifier, _tdx_evidence(twice.to_json())) == "ATTEST_EVENTLOG_APP_EVENT"


def test_the_real_tdx_sample_through_confidential_vm_mode(vectors_dir: Path) -> None:
    """The dcap-qvl TDX sample verifies; its registers pin an image; its RTMR3 is all zeros.

    So an empty log replays (and has no app event), and a log with an app event does not.
    """
    evidence, now = _vector(vectors_dir, "tdx-dcapqvl-sample")
    plain = TdxDcapVerifier().verify(evidence, now=now)
    assert plain.extra["rtmr3"] == bytes(48)
    registers = {name: plain.extra[name] for name in ("rtmr0", "rtmr1", "rtmr2")}
    rtmrs = (registers["rtmr0"], registers["rtmr1"], registers["rtmr2"])
    assert all(isinstance(value, bytes) for value in rtmrs)
    trusted = _images(_tdx_image("dcap-qvl sample", mr_td=plain.measurement, rtmrs=rtmrs))  # type: ignore[arg-type]
    verifier = ConfidentialVmVerifier(TdxDcapVerifier(), trusted)

    def with_log(log: EventLog) -> Evidence:
        return Evidence(evidence.type, evidence.payload, evidence.collateral, log.to_json())

    assert _code(verifier, with_log(EventLog()), now) == "ATTEST_EVENTLOG_APP_EVENT"
    assert _code(verifier, with_log(_app_log()), now) == "ATTEST_EVENTLOG_REPLAY"
    untrusted = ConfidentialVmVerifier(TdxDcapVerifier(), _images(_tdx_image()))
    assert _code(untrusted, with_log(_app_log()), now) == "ATTEST_IMAGE_UNTRUSTED"
    assert _code(verifier, with_log(_app_log()), now=1) == "ATTEST_EXPIRED"  # the quote first


# -- SEV-SNP -----------------------------------------------------------------------------------


def test_the_real_snp_report_yields_host_data_on_a_trusted_launch_measurement(vectors_dir: Path) -> None:
    evidence, now = _vector(vectors_dir, "snp-virtee-milan")
    plain = SevSnpVerifier().verify(evidence, now=now)
    verifier = ConfidentialVmVerifier(SevSnpVerifier(), _images(_snp_image("milan base", plain.measurement)))
    claims = verifier.verify(evidence, now=now)
    assert claims.measurement == plain.extra["host_data"]
    assert len(claims.measurement) == 32
    assert claims.extra["base_measurement"] == plain.measurement
    assert claims.extra["image"] == "milan base"
    assert claims.extra["app_fingerprint_source"] == SOURCE_HOST_DATA
    assert claims.report_data == plain.report_data
    assert claims.tcb_status == plain.tcb_status

    assert _code(ConfidentialVmVerifier(SevSnpVerifier(), _images(_snp_image())), evidence, now) == (
        "ATTEST_IMAGE_UNTRUSTED"
    )
    with_log = Evidence(evidence.type, evidence.payload, evidence.collateral, _app_log().to_json())
    assert _code(verifier, with_log, now) == "ATTEST_EVENTLOG_MALFORMED"


def test_snp_host_data_is_the_fingerprint() -> None:
    inner = RegistersVerifier(EvidenceType.SEV_SNP, SNP_LAUNCH, {"host_data": FINGERPRINT})
    claims = ConfidentialVmVerifier(inner, _images(_snp_image())).verify(
        Evidence(EvidenceType.SEV_SNP, b"\x01"), now=0
    )
    assert claims.measurement == FINGERPRINT
    no_host_data = RegistersVerifier(EvidenceType.SEV_SNP, SNP_LAUNCH, {})
    assert _code(
        ConfidentialVmVerifier(no_host_data, _images(_snp_image())), Evidence(EvidenceType.SEV_SNP, b"\x01")
    ) == ("ATTEST_MALFORMED")


# -- wiring ------------------------------------------------------------------------------------


def test_only_tdx_and_snp_have_a_confidential_vm_mode() -> None:
    with pytest.raises(ValueError, match="no meaning"):
        ConfidentialVmVerifier(SgxDcapVerifier(), _images(_tdx_image()))
    verifier = ConfidentialVmVerifier(TdxDcapVerifier(), _images(_tdx_image()))
    assert _code(verifier, Evidence(EvidenceType.SEV_SNP, b"\x01")) == "ATTEST_TYPE_MISMATCH"


def test_standard_verifier_wraps_tdx_and_snp_only_given_trusted_images(vectors_dir: Path) -> None:
    images = _images(_tdx_image())
    evidence, now = _vector(vectors_dir, "sgx-dcapqvl-sample")
    cvm = standard_verifier(trusted_images=images)
    assert cvm.verify(evidence, now=now) == standard_verifier().verify(evidence, now=now)  # SGX unchanged
    tdx, _ = _vector(vectors_dir, "tdx-dcapqvl-sample")
    with pytest.raises(AttestationError) as caught:
        cvm.verify(tdx, now=now)
    assert caught.value.code == "ATTEST_EVENTLOG_MISSING"


def test_the_envelope_carries_the_event_log_only_when_there_is_one() -> None:
    log = _app_log().to_json()
    evidence = _tdx_evidence(log)
    assert Evidence.from_json(evidence.to_json()) == evidence
    plain = _tdx_evidence(None)
    assert "event_log" not in json.loads(plain.to_json())
    assert Evidence.from_json(plain.to_json()) == plain
    with pytest.raises(AttestationError) as caught:
        _tdx_evidence(b" " * (64 * 1024 + 1))
    assert caught.value.code == "ATTEST_EVENTLOG_MALFORMED"
    document = json.loads(evidence.to_json()) | {"event_log": "not base64!"}
    with pytest.raises(AttestationError) as caught:
        Evidence.from_json(json.dumps(document))
    assert caught.value.code == "ATTEST_MALFORMED"


# -- the trusted image list ----------------------------------------------------------------------


TOML = f"""
version = 1

[[images]]
name = "sealrun-cvm 2026.12 tdx"
tee = "tdx-dcap"
mr_td = "{MR_TD.hex()}"
rtmr0 = "0x{RTMR0.hex()}"
rtmr1 = "{RTMR1.hex().upper()}"
rtmr2 = "{RTMR2.hex()}"

[[images]]
name = "sealrun-cvm 2026.12 snp milan"
tee = "sev-snp"
measurement = "{SNP_LAUNCH.hex()}"
"""


def test_the_documented_toml_parses() -> None:
    images = TrustedImages.from_text(TOML)
    assert [image.name for image in images.images] == [
        "sealrun-cvm 2026.12 tdx",
        "sealrun-cvm 2026.12 snp milan",
    ]
    registers = {"mr_td": MR_TD, "rtmr0": RTMR0, "rtmr1": RTMR1, "rtmr2": RTMR2}
    assert images.match(EvidenceType.TDX_DCAP, registers).name == "sealrun-cvm 2026.12 tdx"
    assert images.match(EvidenceType.SEV_SNP, {"measurement": SNP_LAUNCH}).tee is EvidenceType.SEV_SNP
    assert TrustedImages.from_text(TOML.encode()) == images


@pytest.mark.parametrize(
    "document",
    [
        {"version": 2, "images": [_snp_image()]},
        {"version": True, "images": [_snp_image()]},
        {"version": 1, "images": []},
        {"version": 1},
        {"version": 1, "images": [_snp_image()], "extra": 1},
        {"version": 1, "images": [_snp_image(), _snp_image()]},
        {"version": 1, "images": [_snp_image("a"), _snp_image("b")]},
        {"version": 1, "images": [_snp_image() | {"tee": "sgx-dcap"}]},
        {"version": 1, "images": [_snp_image() | {"mr_td": MR_TD.hex()}]},
        {"version": 1, "images": [_snp_image() | {"measurement": "00" * 32}]},
        {"version": 1, "images": [_snp_image() | {"measurement": "zz" * 48}]},
        {"version": 1, "images": [_snp_image() | {"name": ""}]},
        {"version": 1, "images": [_snp_image() | {"name": "tab\there"}]},
        {"version": 1, "images": [{k: v for k, v in _tdx_image().items() if k != "rtmr2"}]},
        {"version": 1, "images": ["not a table"]},
        {"version": 1, "images": [_snp_image(str(n), bytes([n]) * 48) for n in range(256)] * 4},
    ],
)
def test_invalid_image_lists_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(AttestationError) as caught:
        TrustedImages.from_text(json.dumps(document))
    assert caught.value.code == "ATTEST_POLICY_INVALID"


@pytest.mark.parametrize(
    "text", ["", "not = [toml", "{not json", b"\xff", "[[images]]\n" * 10, " " * ((1 << 20) + 1)]
)
def test_unparsable_image_lists_are_refused(text: str | bytes) -> None:
    with pytest.raises(AttestationError) as caught:
        TrustedImages.from_text(text)
    assert caught.value.code == "ATTEST_POLICY_INVALID"
