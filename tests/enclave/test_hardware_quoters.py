"""The hardware quoters against fake guest interfaces whose quotes are the REAL shared vectors.

configfs-tsm in a temporary folder (the kernel's generation bump and races emulated by
``sealrun.testing.tee.FakeConfigfsTsm``), ``/dev/tdx_guest`` and ``/dev/sev-guest`` through
fake ioctls that follow the structs' pointers, Gramine's ``/dev/attestation`` as plain files.
The outblobs are fixed vectors, so their report data is the vector's, not the request's: the
verifier accepts the evidence at the vector's ``verify_at`` and the report-data check then
refuses it (that part is the SMS test's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.adapters.tee.devices import SevGuestQuoter, TdxGuestQuoter, qgs_quote_from_response
from sealrun.adapters.tee.hardware import hardware_quoter
from sealrun.adapters.tee.tsm import ConfigfsTsmQuoter, GramineQuoter, snp_certificate_from_table
from sealrun.core.attestation import EvidenceType, decode_evidence_text, standard_verifier
from sealrun.errors import EnclaveError
from sealrun.testing.tee import FakeConfigfsTsm, FakeSevGuest, FakeTdxGuest, snp_certificate_table
from tests.conftest import VECTORS

DATA = bytes(range(64))
FINGERPRINT = b"\x42" * 32
VCEK_GUID = "63da758d-e664-4564-adc5-f4b93be8accd"


def _entry(name: str) -> dict[str, Any]:
    for entry in json.loads((VECTORS / "vectors.json").read_text()):
        if entry["id"] == name:
            return dict(entry)
    raise AssertionError(f"no vector {name}")


def _payload(name: str) -> bytes:
    return decode_evidence_text((VECTORS / _entry(name)["evidence"]).read_bytes())


def _collateral(name: str) -> bytes:
    entry = _entry(name)
    return (VECTORS / (entry.get("collateral") or entry["vcek"])).read_bytes()


def _dcap_collateral(name: str) -> Any:
    blob = _collateral(name)
    return lambda kind, payload: blob


def _code(call: Any, *args: Any) -> str:
    with pytest.raises(EnclaveError) as caught:
        call(*args)
    return caught.value.code


# --- configfs-tsm -----------------------------------------------------------------------


def test_tdx_configfs_quote_of_the_real_vector_verifies(tmp_path: Path) -> None:
    fake = FakeConfigfsTsm(tmp_path / "tsm", provider="tdx_guest", outblob=_payload("tdx-dcapqvl-sample"))
    quoter = ConfigfsTsmQuoter(
        "tdx",
        FINGERPRINT,
        root=tmp_path / "tsm",
        files=fake,
        collateral=_dcap_collateral("tdx-dcapqvl-sample"),
    )
    evidence = quoter.evidence(DATA)
    assert evidence.type is EvidenceType.TDX_DCAP
    assert fake.inblobs == [DATA]
    assert fake.removed == fake.entries
    assert len(fake.entries) == 1
    assert not any((tmp_path / "tsm" / "report").iterdir())  # the entry is gone
    claims = standard_verifier().verify(evidence, now=_entry("tdx-dcapqvl-sample")["verify_at"])
    assert claims.tee == "tdx-dcap"
    assert claims.report_data != DATA  # a fixed vector: its own report data, not ours


def test_sev_snp_configfs_takes_the_vcek_from_the_auxblob(tmp_path: Path) -> None:
    vcek = _collateral("snp-virtee-milan")
    fake = FakeConfigfsTsm(
        tmp_path,
        provider="sev_guest",
        outblob=_payload("snp-virtee-milan"),
        auxblob=snp_certificate_table({VCEK_GUID: vcek}),
    )
    evidence = ConfigfsTsmQuoter("sev-snp", FINGERPRINT, root=tmp_path, files=fake).evidence(DATA)
    assert evidence.collateral == vcek
    claims = standard_verifier().verify(evidence, now=_entry("snp-virtee-milan")["verify_at"])
    assert claims.tee == "sev-snp"


def test_a_tdx_quote_carries_the_rtmr3_event_log_and_snp_none(tmp_path: Path) -> None:
    log = b'{"events": []}'
    fake = FakeConfigfsTsm(tmp_path / "t", provider="tdx_guest", outblob=_payload("tdx-dcapqvl-sample"))
    quoter = ConfigfsTsmQuoter("tdx", FINGERPRINT, root=tmp_path / "t", files=fake, event_log=lambda: log)
    assert quoter.evidence(DATA).event_log == log
    fake = FakeConfigfsTsm(tmp_path / "s", provider="sev_guest", outblob=_payload("snp-virtee-milan"))
    quoter = ConfigfsTsmQuoter("sev-snp", FINGERPRINT, root=tmp_path / "s", files=fake, event_log=lambda: log)
    assert quoter.evidence(DATA).event_log is None
    device = tmp_path / "tdx_guest"
    device.write_bytes(b"")
    kernel = FakeTdxGuest(quote=_payload("tdx-dcapqvl-sample"))
    assert (
        TdxGuestQuoter(FINGERPRINT, device=device, ioctl=kernel, event_log=lambda: log)
        .evidence(DATA)
        .event_log
        == log
    )


def test_a_racing_writer_is_retried_then_given_up_on(tmp_path: Path) -> None:
    fake = FakeConfigfsTsm(tmp_path, provider="tdx_guest", outblob=_payload("tdx-dcapqvl-sample"), races=2)
    ConfigfsTsmQuoter("tdx", FINGERPRINT, root=tmp_path, files=fake).evidence(DATA)
    assert fake.inblobs == [DATA, DATA, DATA]  # two raced attempts, the third clean
    fake = FakeConfigfsTsm(tmp_path, provider="tdx_guest", outblob=_payload("tdx-dcapqvl-sample"), races=9)
    quoter = ConfigfsTsmQuoter("tdx", FINGERPRINT, root=tmp_path, files=fake, attempts=3)
    assert _code(lambda: quoter.evidence(DATA)) == "QUOTE_GENERATION_CONFLICT"
    assert len(fake.inblobs) == 3
    assert fake.removed == fake.entries


def test_a_guest_below_vmpl0_asks_at_its_privilege_floor(tmp_path: Path) -> None:
    fake = FakeConfigfsTsm(
        tmp_path, provider="sev_guest", outblob=_payload("snp-virtee-milan"), privlevel_floor=2
    )
    ConfigfsTsmQuoter("sev-snp", FINGERPRINT, root=tmp_path, files=fake).evidence(DATA)
    assert fake.writes == [("privlevel", b"2"), ("inblob", DATA)]  # no retry: generation 2 expected
    fake = FakeConfigfsTsm(
        tmp_path / "x", provider="sev_guest", outblob=_payload("snp-virtee-milan"), races=1
    )
    ConfigfsTsmQuoter("sev-snp", FINGERPRINT, root=tmp_path / "x", files=fake).evidence(DATA)
    assert len(fake.inblobs) == 2


def test_missing_mismatched_provider_and_bad_outblobs_are_refused(tmp_path: Path) -> None:
    tdx = _payload("tdx-dcapqvl-sample")
    cases = [
        ({"provider": None, "outblob": tdx}, "tdx", "QUOTE_PROVIDER_MISSING"),
        ({"provider": "sev_guest", "outblob": tdx}, "tdx", "QUOTE_PROVIDER_MISMATCH"),
        ({"provider": "tdx_guest", "outblob": tdx}, "sev-snp", "QUOTE_PROVIDER_MISMATCH"),
        ({"provider": "arm_cca_guest", "outblob": tdx}, "tdx", "QUOTE_PROVIDER_MISMATCH"),
        ({"provider": "tdx_guest", "outblob": tdx[:700]}, "tdx", "QUOTE_MALFORMED"),
        ({"provider": "tdx_guest", "outblob": b""}, "tdx", "QUOTE_MALFORMED"),
        ({"provider": "tdx_guest", "outblob": _payload("sgx-dcapqvl-sample")}, "tdx", "QUOTE_MALFORMED"),
        (
            {"provider": "sev_guest", "outblob": _payload("snp-virtee-milan")[:-1]},
            "sev-snp",
            "QUOTE_MALFORMED",
        ),
        ({"provider": "tdx_guest", "outblob": tdx + b"\x01" * 40000}, "tdx", "QUOTE_MALFORMED"),
    ]
    for number, (tree, tee, code) in enumerate(cases):
        root = tmp_path / str(number)
        fake = FakeConfigfsTsm(root, **tree)  # type: ignore[arg-type]
        quoter = ConfigfsTsmQuoter(tee, FINGERPRINT, root=root, files=fake)
        assert _code(quoter.evidence, DATA) == code, (number, code)
        assert fake.removed == fake.entries


def test_bad_requests_and_absent_interfaces(tmp_path: Path) -> None:
    quoter = ConfigfsTsmQuoter("tdx", FINGERPRINT, root=tmp_path / "nothing")
    assert _code(lambda: quoter.evidence(DATA[:63])) == "QUOTE_REQUEST_INVALID"
    assert _code(lambda: quoter.evidence(DATA)) == "QUOTE_UNAVAILABLE"
    assert _code(lambda: ConfigfsTsmQuoter("gramine-sgx", FINGERPRINT)) == "QUOTE_TEE_UNSUPPORTED"
    (tmp_path / "tsm" / "report").mkdir(parents=True)  # a plain folder: mkdir works, no attributes
    quoter = ConfigfsTsmQuoter("tdx", FINGERPRINT, root=tmp_path / "tsm")
    assert _code(lambda: quoter.evidence(DATA)) == "QUOTE_FAILED"
    assert not any((tmp_path / "tsm" / "report").iterdir())


def test_certificate_table_parsing_is_defensive() -> None:
    table = snp_certificate_table({VCEK_GUID: b"vcek-der"})
    assert snp_certificate_from_table(table) == b"vcek-der"
    assert snp_certificate_from_table(table[:30]) is None
    assert snp_certificate_from_table(b"") is None
    broken = bytearray(table)
    broken[16:20] = (10_000).to_bytes(4, "little")  # offset beyond the table
    assert snp_certificate_from_table(bytes(broken)) is None


# --- device fallbacks -------------------------------------------------------------------


def test_tdx_guest_device_report_then_quote(tmp_path: Path) -> None:
    device = tmp_path / "tdx_guest"
    device.write_bytes(b"")
    kernel = FakeTdxGuest(quote=_payload("tdx-dcapqvl-sample"))
    quoter = TdxGuestQuoter(
        FINGERPRINT, device=device, ioctl=kernel, collateral=_dcap_collateral("tdx-dcapqvl-sample")
    )
    evidence = quoter.evidence(DATA)
    assert kernel.report_data == [DATA]
    assert [hex(call) for call in kernel.calls] == ["0xc4405401", "0x80105402"]
    claims = standard_verifier().verify(evidence, now=_entry("tdx-dcapqvl-sample")["verify_at"])
    assert claims.tee == "tdx-dcap"


def test_tdx_guest_device_failures(tmp_path: Path) -> None:
    device = tmp_path / "tdx_guest"
    device.write_bytes(b"")
    quote = _payload("tdx-dcapqvl-sample")
    for kernel, code in [
        (FakeTdxGuest(quote=quote, status=0x8000000000000001), "QUOTE_FAILED"),
        (FakeTdxGuest(quote=quote, status=0xFFFFFFFFFFFFFFFF), "QUOTE_FAILED"),
        (FakeTdxGuest(quote=quote, qgs_error=0x12), "QUOTE_FAILED"),
        (FakeTdxGuest(quote=quote[:100]), "QUOTE_MALFORMED"),
        (FakeTdxGuest(quote=b"\x00" * 40000), "QUOTE_FAILED"),  # beyond the buffer: ENOMEM
    ]:
        assert _code(TdxGuestQuoter(FINGERPRINT, device=device, ioctl=kernel).evidence, DATA) == code
    absent = TdxGuestQuoter(FINGERPRINT, device=tmp_path / "none", ioctl=FakeTdxGuest(quote=quote))
    assert _code(lambda: absent.evidence(DATA)) == "QUOTE_UNAVAILABLE"


def test_sev_guest_device_report(tmp_path: Path) -> None:
    device = tmp_path / "sev-guest"
    device.write_bytes(b"")
    vcek = _collateral("snp-virtee-milan")
    kernel = FakeSevGuest(report=_payload("snp-virtee-milan"))
    quoter = SevGuestQuoter(FINGERPRINT, device=device, ioctl=kernel, collateral=lambda kind, payload: vcek)
    evidence = quoter.evidence(DATA)
    assert kernel.requests == [(DATA, 0)]
    assert standard_verifier().verify(evidence, now=_entry("snp-virtee-milan")["verify_at"]).tee == "sev-snp"
    with pytest.raises(EnclaveError, match="firmware 0x16") as caught:
        SevGuestQuoter(FINGERPRINT, device=device, ioctl=FakeSevGuest(report=b"", fw_error=0x16)).evidence(
            DATA
        )
    assert caught.value.code == "QUOTE_FAILED"
    for bad, code in [
        (FakeSevGuest(report=_payload("snp-virtee-milan"), fw_error=0x16), "QUOTE_FAILED"),
        (FakeSevGuest(report=_payload("snp-virtee-milan"), status=0x16), "QUOTE_FAILED"),
        (FakeSevGuest(report=_payload("snp-virtee-milan")[:1000]), "QUOTE_MALFORMED"),
    ]:
        assert _code(SevGuestQuoter(FINGERPRINT, device=device, ioctl=bad).evidence, DATA) == code


# --- Gramine and the choice of quoter --------------------------------------------------


def test_gramine_attestation_files(tmp_path: Path) -> None:
    root = tmp_path / "attestation"
    root.mkdir()
    (root / "attestation_type").write_text("dcap")
    (root / "user_report_data").write_bytes(bytes(64))  # Gramine's pseudo-files all exist
    (root / "quote").write_bytes(_payload("sgx-dcapqvl-sample"))
    quoter = GramineQuoter(FINGERPRINT, root=root, collateral=_dcap_collateral("sgx-dcapqvl-sample"))
    evidence = quoter.evidence(DATA)
    assert (root / "user_report_data").read_bytes() == DATA
    assert (
        standard_verifier().verify(evidence, now=_entry("sgx-dcapqvl-sample")["verify_at"]).tee == "sgx-dcap"
    )
    (root / "attestation_type").write_text("epid")
    assert _code(lambda: quoter.evidence(DATA)) == "QUOTE_PROVIDER_MISMATCH"
    (root / "attestation_type").write_text("dcap")
    (root / "quote").write_bytes(_payload("tdx-dcapqvl-sample"))
    assert _code(lambda: quoter.evidence(DATA)) == "QUOTE_MALFORMED"
    assert (
        _code(lambda: GramineQuoter(FINGERPRINT, root=tmp_path / "none").evidence(DATA))
        == "QUOTE_UNAVAILABLE"
    )


def test_hardware_quoter_prefers_configfs_then_devices(tmp_path: Path) -> None:
    assert _code(lambda: hardware_quoter("tdx", FINGERPRINT, root=tmp_path)) == "QUOTE_UNAVAILABLE"
    assert _code(lambda: hardware_quoter("simulated", FINGERPRINT, root=tmp_path)) == "QUOTE_TEE_UNSUPPORTED"
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "sev-guest").write_bytes(b"")
    assert isinstance(hardware_quoter("sev-snp", FINGERPRINT, root=tmp_path), SevGuestQuoter)
    (tmp_path / "dev" / "tdx_guest").write_bytes(b"")
    assert isinstance(hardware_quoter("tdx", FINGERPRINT, root=tmp_path), TdxGuestQuoter)
    (tmp_path / "sys" / "kernel" / "config" / "tsm" / "report").mkdir(parents=True)
    chosen = hardware_quoter("tdx", FINGERPRINT, root=tmp_path)
    assert isinstance(chosen, ConfigfsTsmQuoter)
    assert chosen.tee == "tdx"
    assert isinstance(hardware_quoter("gramine-sgx", FINGERPRINT, root=tmp_path), GramineQuoter)


# --- hostile bytes from the host ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_a_hostile_quote_service_answer_is_refused_with_a_code(data: bytes) -> None:
    """Whatever the host's quote service writes back, only a QUOTE_* EnclaveError escapes."""
    code = None
    try:
        qgs_quote_from_response(data)
    except EnclaveError as error:
        code = error.code
    assert code in (None, "QUOTE_MALFORMED", "QUOTE_FAILED")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_a_hostile_certificate_table_gives_a_certificate_or_none(table: bytes) -> None:
    found = snp_certificate_from_table(table)
    assert found is None or (0 < len(found) <= len(table))


def test_a_hostile_outblob_never_escapes_as_another_exception(tmp_path: Path) -> None:
    real = _payload("tdx-dcapqvl-sample")
    # (the sample ends in 70 zero bytes the parser ignores: cut into the signature data)
    for number, blob in enumerate([real[:48], real[:632], bytes(5000), real[:-71], b"\xff" * 1184]):
        root = tmp_path / str(number)
        fake = FakeConfigfsTsm(root, provider="tdx_guest", outblob=blob)
        assert (
            _code(ConfigfsTsmQuoter("tdx", FINGERPRINT, root=root, files=fake).evidence, DATA)
            == "QUOTE_MALFORMED"
        )
