"""Structure-aware fuzzing of every evidence parser, starting from the real vectors.

Each example applies one to three mutations to a real quote, report or document: a structural
field (version, key/TEE/body type, a length, a certification data type or size, an SEV-SNP
version or key info, a Nitro payload entry) set to an arbitrary or boundary value, a byte flipped,
the bytes truncated or extended. Whatever comes out, verification returns claims or raises
AttestationError with a documented verification code: never KeyError, IndexError, struct.error,
ValueError or a library's own exception.
"""

from __future__ import annotations

import datetime
import os
import struct
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealrun.core.attestation import Claims, Evidence, codes, standard_verifier
from sealrun.core.attestation.dcap_quote import parse_dcap_quote
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, required_vectors
from tests.conftest import VECTORS

FUZZ = settings(
    max_examples=int(os.environ.get("SEALRUN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
VERIFIER = standard_verifier()
DOCUMENTED = {getattr(codes, name) for name in codes.__all__ if "POLICY" not in name}
ENTRIES = {entry["id"]: entry for entry in required_vectors(VECTORS)}


def _sample(entry_id: str) -> tuple[Evidence, int]:
    entry = ENTRIES[entry_id]
    return evidence_for(VECTORS, entry), entry["verify_at"]


SGX_V3, TDX_V4, TDX_V5 = (
    _sample("sgx-dcapqvl-sample"),
    _sample("tdx-dcapqvl-sample"),
    _sample("tdx-dcapqvl-outdated"),
)
SNP = _sample("snp-virtee-milan")
NITRO = _sample("nitro-nitrite-attestation")


def _dcap_fields(quote: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every structural field of a real quote."""
    version, _key, _tee = struct.unpack_from("<HHI", quote, 0)
    fields = [(0, 2), (2, 2), (4, 4)]
    body_at = 48
    if version == 5:
        fields += [(48, 2), (50, 4)]
        body_at = 54
    body_size = struct.unpack_from("<I", quote, 50)[0] if version == 5 else (584 if _tee == 0x81 else 384)
    at = body_at + body_size
    fields.append((at, 4))  # signature data length
    at += 4 + 128
    if version != 3:
        fields += [(at, 2), (at + 2, 4)]  # type 6 and its size
        at += 6
    fields.append((at + 448, 2))  # QE auth data size
    at += 450 + struct.unpack_from("<H", quote, at + 448)[0]
    fields += [(at, 2), (at + 2, 4)]  # (inner) certification data type and size
    return fields


BOUNDARIES = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 0x81, 0x7F, 0xFF, 0xFFFF, 0xFFFFFFFF, 384, 584, 648])


@st.composite
def mutated(draw: st.DrawFn, payload: bytes, fields: list[tuple[int, int]]) -> bytes:
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["field", "field", "flip", "truncate", "extend"]))
        if kind == "field" and fields:
            offset, width = draw(st.sampled_from(fields))
            if offset + width > len(data):
                continue
            value = draw(st.one_of(BOUNDARIES, st.integers(0, (1 << (8 * width)) - 1))) % (1 << (8 * width))
            data[offset : offset + width] = value.to_bytes(width, "little")
        elif kind == "flip" and data:
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= draw(st.integers(1, 255))
        elif kind == "truncate" and len(data) > 1:
            del data[draw(st.integers(1, len(data) - 1)) :]
        else:
            data += draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


def _judged(sample: tuple[Evidence, int], payload: bytes) -> None:
    evidence, now = sample
    try:
        outcome: Claims | AttestationError = VERIFIER.verify(
            Evidence(evidence.type, payload, evidence.collateral), now=now
        )
    except AttestationError as error:
        outcome = error
    if isinstance(outcome, AttestationError):
        assert outcome.code in DOCUMENTED, outcome.code


def _dcap_case(sample: tuple[Evidence, int]) -> Any:
    return mutated(sample[0].payload, _dcap_fields(sample[0].payload))


@FUZZ
@given(payload=_dcap_case(SGX_V3))
def test_sgx_v3_quotes(payload: bytes) -> None:
    _judged(SGX_V3, payload)


@FUZZ
@given(payload=_dcap_case(TDX_V4))
def test_tdx_v4_quotes(payload: bytes) -> None:
    _judged(TDX_V4, payload)


@FUZZ
@given(payload=_dcap_case(TDX_V5))
def test_tdx_v5_td15_quotes(payload: bytes) -> None:
    _judged(TDX_V5, payload)


@FUZZ
@given(payload=st.one_of(_dcap_case(SGX_V3), _dcap_case(TDX_V4), _dcap_case(TDX_V5)))
def test_the_quote_layout_parser_alone(payload: bytes) -> None:
    try:
        parse_dcap_quote(payload)
    except AttestationError as error:
        code = error.code
    else:
        code = None
    assert code in {None, "ATTEST_MALFORMED", "ATTEST_COLLATERAL"}


SNP_FIELDS = [(0x00, 4), (0x34, 4), (0x48, 4), (0x180, 8), (0x188, 1), (0x189, 1), (0x1A0, 8), (0x2A0, 8)]


@FUZZ
@given(payload=mutated(SNP[0].payload, SNP_FIELDS))
def test_snp_reports(payload: bytes) -> None:
    _judged(SNP, payload)


@FUZZ
@given(collateral=mutated(SNP[0].collateral or b"", [(0, 2), (2, 2), (4, 4)]))
def test_snp_vcek_certificates(collateral: bytes) -> None:
    _judged((Evidence(SNP[0].type, SNP[0].payload, collateral), SNP[1]), SNP[0].payload)


_NITRO_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.text(max_size=8),
    st.binary(max_size=64),
    st.lists(st.binary(max_size=8), max_size=3),
    st.dictionaries(st.integers(-2, 40), st.binary(max_size=64), max_size=3),
)


@st.composite
def nitro_documents(draw: st.DrawFn) -> bytes:
    """The real document with its payload map, header or envelope changed, re-encoded as CBOR."""
    tag = cbor2.loads(NITRO[0].payload)
    protected, unprotected, body, signature = tag.value if isinstance(tag, cbor2.CBORTag) else tag
    fields = cbor2.loads(body)
    choice = draw(st.sampled_from(["set", "drop", "header", "envelope", "bytes"]))
    if choice == "set":
        fields[draw(st.sampled_from(sorted(fields)))] = draw(_NITRO_VALUES)
    elif choice == "drop":
        del fields[draw(st.sampled_from(sorted(fields)))]
    elif choice == "header":
        protected = cbor2.dumps({1: draw(st.integers(-40, 5))})
    elif choice == "envelope":
        return cbor2.dumps(
            cbor2.CBORTag(
                draw(st.sampled_from([18, 98, 0])), [protected, unprotected, body][: draw(st.integers(0, 3))]
            )
        )
    else:
        return draw(mutated(NITRO[0].payload, []))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(fields), signature]))


@FUZZ
@given(payload=nitro_documents())
def test_nitro_documents(payload: bytes) -> None:
    _judged(NITRO, payload)


def test_a_nitro_document_without_a_ca_bundle_is_malformed() -> None:
    # A payload without a required field is malformed (no KeyError on the way).
    document = cbor2.loads(NITRO[0].payload)
    items = document.value if isinstance(document, cbor2.CBORTag) else document
    protected, unprotected, body, signature = items
    fields = cbor2.loads(body)
    del fields["cabundle"]
    payload = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(fields), signature]))
    try:
        VERIFIER.verify(Evidence(NITRO[0].type, payload), now=NITRO[1])
    except AttestationError as error:
        code = error.code
    assert code == "ATTEST_MALFORMED"  # cabundle is a required payload field


def test_a_certificate_name_of_unknown_string_tag_is_malformed() -> None:
    # Found by the fuzzer: cryptography parses names lazily and raises KeyError for a string
    # of an unknown ASN.1 tag (here RELATIVE-OID, 13) when the issuer is first read.
    document = cbor2.loads(NITRO[0].payload)
    protected, unprotected, body, signature = (
        document.value if isinstance(document, cbor2.CBORTag) else document
    )
    fields = cbor2.loads(body)
    leaf = bytearray(fields["certificate"])
    at = leaf.find(bytes([0x06, 0x03, 0x55, 0x04]))  # the first name attribute's OID (2.5.4.x)
    assert at > 0
    assert leaf[at + 5] in (0x0C, 0x13)  # followed by a UTF8String or PrintableString
    leaf[at + 5] = 0x0D
    fields["certificate"] = bytes(leaf)
    payload = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(fields), signature]))
    try:
        VERIFIER.verify(Evidence(NITRO[0].type, payload), now=NITRO[1])
    except AttestationError as error:
        code = error.code
    assert code == "ATTEST_MALFORMED"


def _vcek_like_der() -> bytes:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "VCEK")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=datetime.UTC))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .sign(key, hashes.SHA384())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def _snp_collateral_code(collateral: bytes) -> str:
    evidence, now = SNP
    try:
        VERIFIER.verify(Evidence(evidence.type, evidence.payload, collateral), now=now)
    except AttestationError as error:
        return error.code
    raise AssertionError("the collateral was accepted")


def test_a_certificate_with_a_duplicated_extension_is_refused_with_a_code() -> None:
    # Found by the SEV-SNP fuzzer: cryptography raises DuplicateExtension (no ValueError) when the
    # extensions are first read. Two extensions whose OIDs differ in one byte are made equal.
    der = _vcek_like_der()
    basic_constraints = bytes([0x06, 0x03, 0x55, 0x1D, 0x13])
    assert der.count(basic_constraints) == 1
    duplicated = der.replace(basic_constraints, bytes([0x06, 0x03, 0x55, 0x1D, 0x0E]))
    assert _snp_collateral_code(duplicated) == "ATTEST_COLLATERAL"


def test_a_certificate_of_an_unknown_x509_version_is_refused_with_a_code() -> None:
    # Found by the SEV-SNP fuzzer at 3000 examples: cryptography raises InvalidVersion at load.
    der = _vcek_like_der()
    version_3 = bytes([0xA0, 0x03, 0x02, 0x01, 0x02])  # [0] EXPLICIT INTEGER 2, i.e. X.509 v3
    assert der.count(version_3) == 1
    assert (
        _snp_collateral_code(der.replace(version_3, bytes([0xA0, 0x03, 0x02, 0x01, 0x03])))
        == "ATTEST_COLLATERAL"
    )
