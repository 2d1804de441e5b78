"""Every DCAP quote format: v3, v4, v5; SGX, TD 1.0 and TD 1.5 bodies; certification data 1-7.

Known answers: the layout parser reads the real quotes exactly as dcap-qvl 0.7.0 does. Shapes:
real quotes re-assembled in every version / body / certification type parse or are refused with
their documented code, through the parser and through the verifier (no other exception).
"""

from __future__ import annotations

import struct
from pathlib import Path

import dcap_qvl
import pytest

from sealrun.core.attestation import Evidence, EvidenceType, SgxDcapVerifier, TdxDcapVerifier
from sealrun.core.attestation.dcap_quote import parse_dcap_quote
from sealrun.errors import AttestationError
from tests.attestation.quotes import SGX_QUOTE, TDX_V4_QUOTE, TDX_V5_QUOTE, as_kind, real, split
from tests.conftest import VECTORS

COLLATERAL = (VECTORS / "tdx/dcap-qvl/tdx_quote_outdated_collateral.json").read_bytes()
SGX_COLLATERAL = (VECTORS / "sgx/dcap-qvl/sgx_quote_collateral.json").read_bytes()
AT = 1772707803  # verify_at of the v5 vector
PEM_CHAIN = split((VECTORS / SGX_QUOTE).read_bytes()).certification[1]
# Certification data of every type Intel defines, at the sizes Intel gives them.
CERTIFICATION = {
    1: (b"\x11" * 16 + b"\x22" * 16 + b"\x01\x00" + b"\x00\x00", "ATTEST_COLLATERAL"),
    2: (b"\x33" * 256 + b"\x22" * 16 + b"\x01\x00" + b"\x00\x00", "ATTEST_COLLATERAL"),
    3: (b"\x44" * 384 + b"\x22" * 16 + b"\x01\x00" + b"\x00\x00", "ATTEST_COLLATERAL"),
    4: (
        PEM_CHAIN.split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n",
        "ATTEST_COLLATERAL",
    ),
    5: (PEM_CHAIN, None),
    6: (b"\x00" * 512, "ATTEST_MALFORMED"),
    7: (b"\x55" * 300, "ATTEST_COLLATERAL"),
}


def _code(payload: bytes) -> str | None:
    try:
        parse_dcap_quote(payload)
    except AttestationError as error:
        return error.code
    return None


def _verify_code(payload: bytes, tdx: bool) -> str:
    verifier = TdxDcapVerifier() if tdx else SgxDcapVerifier()
    kind = EvidenceType.TDX_DCAP if tdx else EvidenceType.SGX_DCAP
    with pytest.raises(AttestationError) as caught:
        verifier.verify(Evidence(kind, payload, COLLATERAL if tdx else SGX_COLLATERAL), now=AT)
    return caught.value.code


@pytest.mark.parametrize("name", [SGX_QUOTE, TDX_V4_QUOTE, TDX_V5_QUOTE, "tdx/trustee/tdx_quote_4.dat"])
def test_the_parser_reads_real_quotes_as_dcap_qvl_does(vectors_dir: Path, name: str) -> None:
    payload = real(vectors_dir, name)
    ours = parse_dcap_quote(payload)
    theirs = dcap_qvl.parse_quote(payload)
    assert ours.version == theirs.header.version
    assert ours.tee_type == theirs.header.tee_type
    assert ours.is_tdx == theirs.is_tdx()
    report = theirs.report
    fields = {"rtmr0": "rt_mr0", "rtmr1": "rt_mr1", "rtmr2": "rt_mr2", "rtmr3": "rt_mr3"}
    compared = 0
    for field in ours.body.names:
        attribute = fields.get(field, field)
        if hasattr(report, attribute):
            expected = getattr(report, attribute)
            actual = ours.body.field(field) if isinstance(expected, bytes) else ours.body.number(field)
            assert actual == expected, field
            compared += 1
    assert compared >= 5
    assert ours.body.kind == {3: "SGX", 4: "TD10", 5: "TD15"}[ours.version]
    assert ours.certification_types == ((5,) if ours.version == 3 else (6, 5))


def test_a_td15_v5_quote_gives_its_claims(vectors_dir: Path) -> None:
    # The verifier reads the body itself: a TD 1.5 body has no key dcap-qvl's TD 1.0 JSON had.
    quote = parse_dcap_quote(real(vectors_dir, TDX_V5_QUOTE))
    claims = TdxDcapVerifier()._claims(quote, "B0C06F000000", {"status": "UpToDate", "advisory_ids": []})
    report = dcap_qvl.parse_quote(real(vectors_dir, TDX_V5_QUOTE)).report
    assert claims.measurement == report.mr_td
    assert claims.report_data == report.report_data
    assert claims.extra["td_report"] == "TD15"
    assert claims.extra["quote_version"] == 5
    assert claims.extra["tee_tcb_svn2"] == report.tee_tcb_svn2
    assert claims.extra["mr_service_td"] == report.mr_service_td
    assert claims.extra["rtmr3"] == report.rt_mr3
    assert claims.extra["certification_types"] == "6,5"


def test_a_td15_v5_quote_is_judged_not_crashed_on(vectors_dir: Path) -> None:
    evidence = Evidence(EvidenceType.TDX_DCAP, real(vectors_dir, TDX_V5_QUOTE), COLLATERAL)
    with pytest.raises(AttestationError) as caught:
        TdxDcapVerifier().verify(evidence, now=AT)
    assert caught.value.code == "ATTEST_NO_MATCHING_TCB"


@pytest.mark.parametrize(
    ("name", "version", "kind"),
    [
        (SGX_QUOTE, 3, "SGX"),
        (SGX_QUOTE, 4, "SGX"),
        (SGX_QUOTE, 5, "SGX"),
        (TDX_V4_QUOTE, 4, "TD10"),
        (TDX_V4_QUOTE, 5, "TD10"),
        (TDX_V5_QUOTE, 5, "TD15"),
        (TDX_V4_QUOTE, 5, "TD15"),
    ],
)
def test_every_version_and_body_parses(vectors_dir: Path, name: str, version: int, kind: str) -> None:
    parts = as_kind(split(real(vectors_dir, name)), kind)
    payload = parts.assemble(version)
    quote = parse_dcap_quote(payload)
    assert (quote.version, quote.body.kind, quote.size) == (version, kind, len(payload))
    report_data_at = 320 if kind == "SGX" else 520
    assert quote.body.field("report_data") == parts.body[report_data_at : report_data_at + 64]
    if kind != "SGX":
        assert quote.body.field("mr_td") == parts.body[136:184]
    # Re-assembled from real parts, the quote no longer matches its signatures: refused, not crashed.
    if (version, kind, name) not in (
        (3, "SGX", SGX_QUOTE),
        (4, "TD10", TDX_V4_QUOTE),
        (5, "TD15", TDX_V5_QUOTE),
    ):
        assert _verify_code(payload, kind != "SGX") in {"ATTEST_SIGNATURE", "ATTEST_MALFORMED"}


@pytest.mark.parametrize("version", [3, 4, 5])
@pytest.mark.parametrize("cert_type", sorted(CERTIFICATION))
def test_every_certification_type_parses_or_is_refused(
    vectors_dir: Path, version: int, cert_type: int
) -> None:
    name = SGX_QUOTE if version == 3 else TDX_V4_QUOTE
    data, code = CERTIFICATION[cert_type]
    payload = split(real(vectors_dir, name)).assemble(version, certification=(cert_type, data))
    assert _code(payload) == code
    if code is not None:
        assert _verify_code(payload, version != 3) == code


@pytest.mark.parametrize("cert_type", [0, 8, 0xFFFF])
def test_an_unknown_certification_type_is_malformed(vectors_dir: Path, cert_type: int) -> None:
    payload = split(real(vectors_dir, TDX_V4_QUOTE)).assemble(4, certification=(cert_type, b"\x01" * 40))
    assert _code(payload) == "ATTEST_MALFORMED"


@pytest.mark.parametrize("cert_type", [1, 2, 3])
def test_a_pck_identifier_of_the_wrong_size_is_malformed(vectors_dir: Path, cert_type: int) -> None:
    data = CERTIFICATION[cert_type][0] + b"\x00"
    payload = split(real(vectors_dir, SGX_QUOTE)).assemble(3, certification=(cert_type, data))
    assert _code(payload) == "ATTEST_MALFORMED"


@pytest.mark.parametrize("outer", [1, 2, 3, 4, 5, 7, 0, 9])
def test_v4_and_v5_must_wrap_the_qe_report_in_type_6(vectors_dir: Path, outer: int) -> None:
    for version in (4, 5):
        payload = split(real(vectors_dir, TDX_V4_QUOTE)).assemble(version, outer_type=outer)
        assert _code(payload) == "ATTEST_MALFORMED"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": 2}, "ATTEST_MALFORMED"),
        ({"version": 6}, "ATTEST_MALFORMED"),
        ({"version": 5, "body_type": 4}, "ATTEST_MALFORMED"),  # TD 1.5 "ex": not supported
        ({"version": 5, "body_type": 1}, "ATTEST_MALFORMED"),  # SGX body type on a TDX quote
        ({"version": 5, "body_type": 3}, "ATTEST_MALFORMED"),  # TD 1.5 type over a 584-byte body
        ({"version": 5, "body_type": 0}, "ATTEST_MALFORMED"),
        ({"version": 4, "tee_type": 0x80}, "ATTEST_MALFORMED"),
        ({"version": 3, "tee_type": 0x81}, "ATTEST_MALFORMED"),  # v3 is SGX only
    ],
)
def test_wrong_versions_and_types_are_malformed(
    vectors_dir: Path, change: dict[str, int], expected: str
) -> None:
    version = change.pop("version")
    payload = split(real(vectors_dir, TDX_V4_QUOTE)).assemble(version, **change)
    assert _code(payload) == expected
    assert _verify_code(payload, True) in (expected, "ATTEST_TYPE_MISMATCH")


def test_an_unsupported_attestation_key_type_is_malformed(vectors_dir: Path) -> None:
    payload = bytearray(real(vectors_dir, TDX_V4_QUOTE))
    struct.pack_into("<H", payload, 2, 3)  # ECDSA P-384: defined by Intel, produced by no QE
    assert _code(bytes(payload)) == "ATTEST_MALFORMED"


def test_lengths_must_add_up(vectors_dir: Path) -> None:
    parts = split(real(vectors_dir, TDX_V4_QUOTE))
    good = parts.assemble(4)
    assert _code(good) is None
    assert _code(good + bytes(70)) is None  # zero padding, as in the upstream sample
    assert _code(good + b"\x01") == "ATTEST_MALFORMED"
    longer = bytearray(good)
    struct.pack_into("<I", longer, 48 + 584, struct.unpack_from("<I", good, 48 + 584)[0] + 1)
    assert _code(bytes(longer) + b"\x00") == "ATTEST_MALFORMED"
    assert _code(good[:-1]) == "ATTEST_MALFORMED"


def test_the_formats_table_is_documented(repo_root: Path) -> None:
    text = (repo_root / "docs" / "attestation.md").read_text()
    for needle in ("TD 1.5", "MRSERVICETD", "TEE_TCB_SVN_2", "QE report certification data", "ARK-Turin"):
        assert needle in text, needle
