"""Collateral answers from Intel's PCS (or a PCCS) and AMD's KDS, checked before anything keeps them.

Pure: each function takes the bytes (and headers) a server answered and either returns the
checked part or raises a code; the fetching and the cache are in
``sealrun.adapters.collateral``. Every check here runs *before* an answer is cached, so a
hostile server (or a tampered cache file, which is checked again on every read) gets nothing
stored and nothing trusted:

* Intel TCB info / QE identity (PCS API v4, ``{"tcbInfo": {...}, "signature": "<hex>"}``): JSON
  of the right shape, the right ``id`` (``SGX``/``TDX``, ``QE``/``TD_QE``) and, for TCB info,
  the FMSPC asked for (collateral for another platform is ``ATTEST_COLLATERAL``); the issuer
  chain header (URL-encoded PEM) must end at the pinned Intel SGX Root CA
  (``ATTEST_UNTRUSTED_ROOT``), each certificate signed by the next and valid at ``now``; the
  ECDSA P-256 signature over the *raw* bytes of the inner object must verify
  (``ATTEST_SIGNATURE``). The raw text is kept byte for byte: it is what Intel signed.
* CRLs (DER, PEM or hex of DER, as PCS and PCCS serve them): signed by the expected issuer.
* AMD ASK+ARK chain (PEM): the ARK is the pinned root of that product line; the ASK is signed
  by it. A VCEK (DER): signed by that ASK, and its hwID and TCB extensions are the ones asked
  for (``ATTEST_TCB_MISMATCH`` otherwise).

:func:`assemble_dcap_collateral` joins the Intel parts into the ``QuoteCollateralV3`` JSON the
DCAP verifier takes; :func:`dcap_collateral_times` reads back its issue and ``nextUpdate`` times.
"""

from __future__ import annotations

import binascii
import itertools
import json
import re
import urllib.parse
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from sealrun.core.attestation.certificates import PARSE_ERRORS, parse_fully
from sealrun.core.attestation.codes import (
    ATTEST_COLLATERAL,
    ATTEST_EXPIRED,
    ATTEST_SIGNATURE,
    ATTEST_TCB_MISMATCH,
    ATTEST_UNTRUSTED_ROOT,
)
from sealrun.core.attestation.freshness import parse_utc
from sealrun.core.attestation.roots import (
    AMD_ARK_GENOA,
    AMD_ARK_MILAN,
    AMD_ARK_TURIN,
    INTEL_SGX_ROOT_CA,
    PinnedCertificate,
)
from sealrun.errors import AttestationError

__all__ = [
    "AMD_PRODUCTS",
    "MAX_COLLATERAL_BYTES",
    "AmdChain",
    "Crl",
    "SignedJson",
    "Tee",
    "assemble_dcap_collateral",
    "collateral_times",
    "dcap_collateral_times",
    "parse_amd_chain",
    "parse_crl",
    "parse_intel_issuer_chain",
    "parse_qe_identity",
    "parse_tcb_info",
    "parse_vcek",
    "raw_member",
]

Tee = Literal["sgx", "tdx"]
MAX_COLLATERAL_BYTES = 1 << 20
"""The largest answer taken (real ones: TCB info ~10 KiB, a PCK CRL a few KiB)."""
AMD_PRODUCTS: Mapping[str, PinnedCertificate] = {
    "Milan": AMD_ARK_MILAN,
    "Genoa": AMD_ARK_GENOA,
    "Turin": AMD_ARK_TURIN,
}
_FMSPC = re.compile(r"^[0-9A-Fa-f]{12}$")
_SIGNATURE_HEX = re.compile(r"^[0-9A-Fa-f]{128}$")
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_HEX_TEXT = re.compile(rb"^\s*((?:[0-9A-Fa-f]{2})+)\s*$")
_IDS: Mapping[tuple[str, Tee], str] = {
    ("tcbInfo", "sgx"): "SGX",
    ("tcbInfo", "tdx"): "TDX",
    ("enclaveIdentity", "sgx"): "QE",
    ("enclaveIdentity", "tdx"): "TD_QE",
}
_AMD_TCB_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}
_AMD_OID = "1.3.6.1.4.1.3704.1."
_CRL_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, binascii.Error)
_DATE_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, TypeError, RecursionError)


def _bad(message: str) -> AttestationError:
    return AttestationError(message, code=ATTEST_COLLATERAL)


def raw_member(text: str, key: str) -> str:
    """The raw JSON text of member ``key`` of the top-level object in ``text`` (byte for byte).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` if ``text`` is not a JSON object with that member.
    """
    decoder = json.JSONDecoder()
    index = _skip(text, 0)
    if not text.startswith("{", index):
        raise _bad("the answer is not a JSON object")
    index = _skip(text, index + 1)
    try:
        while index < len(text) and text[index] != "}":
            name, index = decoder.raw_decode(text, index)
            index = _skip(text, index)
            if not isinstance(name, str) or not text.startswith(":", index):
                break
            start = _skip(text, index + 1)
            _, end = decoder.raw_decode(text, start)
            if name == key:
                return text[start:end]
            index = _skip(text, end)
            if text.startswith(",", index):
                index = _skip(text, index + 1)
    except (ValueError, RecursionError):
        raise _bad("the answer is not valid JSON") from None
    raise _bad(f"the answer has no {key}")


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _load_pem_chain(data: bytes, what: str) -> list[x509.Certificate]:
    blocks = _PEM_BLOCK.findall(data)
    if not 1 <= len(blocks) <= 4:
        raise _bad(f"the {what} must hold 1 to 4 PEM certificates, not {len(blocks)}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
            certificates = [x509.load_pem_x509_certificate(block) for block in blocks]
            for certificate in certificates:
                parse_fully(certificate)
    except PARSE_ERRORS:
        raise _bad(f"the {what} does not parse") from None
    return certificates


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _valid_at(certificate: x509.Certificate, now: int, what: str) -> None:
    if not certificate.not_valid_before_utc.timestamp() <= now <= certificate.not_valid_after_utc.timestamp():
        raise AttestationError(f"the {what} certificate is not valid at {now}", code=ATTEST_EXPIRED)


def parse_intel_issuer_chain(header: str | None, *, now: int, what: str) -> tuple[x509.Certificate, str]:
    """Check an Intel issuer-chain header (URL-encoded PEM, signing certificate first).

    Returns:
        The signing certificate and the chain as plain PEM text.

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` (missing, does not parse), ``ATTEST_UNTRUSTED_ROOT``
            (does not end at the pinned Intel root), ``ATTEST_SIGNATURE``, ``ATTEST_EXPIRED``.
    """
    if not header or len(header) > 64 * 1024:
        raise _bad(f"the {what} issuer chain header is missing or too long")
    pem = urllib.parse.unquote(header)
    chain = _load_pem_chain(pem.encode("utf-8", "replace"), f"{what} issuer chain")
    if not INTEL_SGX_ROOT_CA.matches(chain[-1].public_bytes(Encoding.DER)):
        raise AttestationError(
            f"the {what} issuer chain does not end at the pinned Intel SGX Root CA",
            code=ATTEST_UNTRUSTED_ROOT,
        )
    for certificate, issuer in itertools.pairwise(chain):
        if not _issued_by(certificate, issuer):
            raise AttestationError(f"the {what} issuer chain does not verify", code=ATTEST_SIGNATURE)
    for certificate in chain:
        _valid_at(certificate, now, f"{what} issuer")
    return chain[0], pem


@dataclass(frozen=True)
class SignedJson:
    """Intel TCB info or QE identity, checked.

    Attributes:
        raw: the signed object's JSON text, exactly as served.
        signature: its signature (lowercase hex, 64 bytes r||s).
        issuer_chain: the issuer chain (PEM).
        issued_at: ``issueDate`` (UNIX seconds).
        next_update: ``nextUpdate`` (UNIX seconds).
        fmspc: the FMSPC (TCB info), else None.
    """

    raw: str
    signature: str
    issuer_chain: str
    issued_at: int
    next_update: int
    fmspc: str | None = None


def _parse_signed(
    body: bytes, issuer_chain: str | None, *, member: str, tee: Tee, now: int
) -> tuple[SignedJson, dict[str, Any]]:
    if len(body) > MAX_COLLATERAL_BYTES:
        raise _bad(f"the {member} answer is larger than {MAX_COLLATERAL_BYTES} bytes")
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad(f"the {member} answer is not JSON") from None
    if not isinstance(document, dict) or set(document) != {member, "signature"}:
        raise _bad(f"the {member} answer must hold exactly {member} and signature")
    inner, signature = document[member], document["signature"]
    if not isinstance(inner, dict) or not isinstance(signature, str) or not _SIGNATURE_HEX.match(signature):
        raise _bad(f"the {member} answer has a malformed {member} or signature")
    expected_id = _IDS[(member, tee)]
    if inner.get("id") != expected_id:
        raise _bad(f"the {member} is for {inner.get('id')!r}, not {expected_id}")
    issued_at = parse_utc(inner.get("issueDate"), f"{member}.issueDate")
    next_update = parse_utc(inner.get("nextUpdate"), f"{member}.nextUpdate")
    raw = raw_member(text, member)
    leaf, pem = parse_intel_issuer_chain(issuer_chain, now=now, what=member)
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AttestationError(f"the {member} signing key is not ECDSA", code=ATTEST_SIGNATURE)
    raw_signature = bytes.fromhex(signature)
    der = encode_dss_signature(
        int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big")
    )
    try:
        key.verify(der, raw.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AttestationError(f"the {member} signature is invalid", code=ATTEST_SIGNATURE) from None
    signed = SignedJson(
        raw=raw, signature=signature.lower(), issuer_chain=pem, issued_at=issued_at, next_update=next_update
    )
    return signed, inner


def parse_tcb_info(body: bytes, issuer_chain: str | None, *, tee: Tee, fmspc: str, now: int) -> SignedJson:
    """Check a PCS ``/{sgx,tdx}/certification/v4/tcb?fmspc=`` answer (see the module docs).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` (shape, id, another FMSPC), ``ATTEST_UNTRUSTED_ROOT``,
            ``ATTEST_SIGNATURE`` or ``ATTEST_EXPIRED``.
    """
    if not _FMSPC.match(fmspc):
        raise _bad(f"FMSPC {fmspc!r} is not 6 bytes of hex")
    signed, inner = _parse_signed(body, issuer_chain, member="tcbInfo", tee=tee, now=now)
    served = inner.get("fmspc")
    if not isinstance(served, str) or served.upper() != fmspc.upper():
        raise _bad(f"the TCB info is for FMSPC {served!r}, not {fmspc.upper()}")
    return SignedJson(**{**signed.__dict__, "fmspc": fmspc.upper()})


def parse_qe_identity(body: bytes, issuer_chain: str | None, *, tee: Tee, now: int) -> SignedJson:
    """Check a PCS ``/{sgx,tdx}/certification/v4/qe/identity`` answer (see the module docs).

    Raises:
        AttestationError: as :func:`parse_tcb_info`.
    """
    signed, _ = _parse_signed(body, issuer_chain, member="enclaveIdentity", tee=tee, now=now)
    return signed


@dataclass(frozen=True)
class Crl:
    """A CRL whose signature was checked: its DER, ``thisUpdate`` and ``nextUpdate``."""

    der: bytes
    issued_at: int
    next_update: int | None


def parse_crl(body: bytes, *, issuer: x509.Certificate, what: str) -> Crl:
    """Check a CRL (DER, PEM, or hex of DER) signed by ``issuer``.

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` (does not parse, wrong issuer name) or
            ``ATTEST_SIGNATURE``.
    """
    if len(body) > MAX_COLLATERAL_BYTES:
        raise _bad(f"the {what} is larger than {MAX_COLLATERAL_BYTES} bytes")
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(body.strip())
        elif (match := _HEX_TEXT.match(body)) is not None:
            crl = x509.load_der_x509_crl(binascii.unhexlify(match.group(1)))
        else:
            crl = x509.load_der_x509_crl(body)
        der = crl.public_bytes(Encoding.DER)
        this_update = int(crl.last_update_utc.timestamp())
        next_update = crl.next_update_utc
        issuer_name = crl.issuer
    except _CRL_ERRORS:
        raise _bad(f"the {what} is not a CRL") from None
    if issuer_name != issuer.subject:
        raise _bad(f"the {what} is issued by {issuer_name.rfc4514_string()}, not the expected CA")
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise AttestationError(f"the {what} signature is invalid", code=ATTEST_SIGNATURE)
    return Crl(
        der=der,
        issued_at=this_update,
        next_update=None if next_update is None else int(next_update.timestamp()),
    )


def assemble_dcap_collateral(
    *,
    tcb_info: SignedJson,
    qe_identity: SignedJson,
    pck_crl: Crl,
    pck_crl_issuer_chain: str,
    root_ca_crl: Crl,
) -> bytes:
    """The ``QuoteCollateralV3`` JSON (as dcap-qvl reads it) of checked parts."""
    document = {
        "pck_crl_issuer_chain": pck_crl_issuer_chain,
        "root_ca_crl": root_ca_crl.der.hex(),
        "pck_crl": pck_crl.der.hex(),
        "tcb_info_issuer_chain": tcb_info.issuer_chain,
        "tcb_info": tcb_info.raw,
        "tcb_info_signature": tcb_info.signature,
        "qe_identity_issuer_chain": qe_identity.issuer_chain,
        "qe_identity": qe_identity.raw,
        "qe_identity_signature": qe_identity.signature,
    }
    return json.dumps(document, indent=1).encode("utf-8")


def dcap_collateral_times(collateral: bytes) -> tuple[int, int]:
    """``(issued_at, next_update)`` of ``QuoteCollateralV3`` JSON (see :func:`collateral_times`).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` if a part does not parse.
    """
    try:
        document = json.loads(collateral)
        parts = (document["tcb_info"], document["qe_identity"])
        crls = (bytes.fromhex(document["pck_crl"]), bytes.fromhex(document["root_ca_crl"]))
    except _DATE_ERRORS:
        raise _bad("the DCAP collateral does not parse") from None
    return collateral_times(tcb_info=parts[0], qe_identity=parts[1], pck_crl=crls[0], root_ca_crl=crls[1])


def _top_date(text: object, name: str, what: str) -> int:
    # Intel's TCB info and QE identity carry issueDate and nextUpdate once, at the top level;
    # this runs on collateral whose signature already verified, so the first match is the one.
    match = re.search(rf'"{name}"\s*:\s*"([^"]{{1,40}})"', text) if isinstance(text, str) else None
    return parse_utc(None if match is None else match.group(1), f"{what}.{name}")


def collateral_times(
    *, tcb_info: str, qe_identity: str, pck_crl: bytes, root_ca_crl: bytes
) -> tuple[int, int]:
    """``(issued_at, next_update)`` of DCAP collateral parts (TCB info / QE identity JSON, CRL DER).

    ``issued_at`` is the oldest of the TCB info's and QE identity's ``issueDate`` and the PCK
    CRL's ``thisUpdate`` (the root CA CRL is issued yearly and does not count towards the age);
    ``next_update`` is the earliest ``nextUpdate`` of all four.

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` if a part does not parse.
    """
    crl_times = [_crl_dates(pck_crl, "PCK CRL"), _crl_dates(root_ca_crl, "root CA CRL")]
    issued = [
        _top_date(tcb_info, "issueDate", "tcbInfo"),
        _top_date(qe_identity, "issueDate", "enclaveIdentity"),
        crl_times[0][0],
    ]
    updates = [
        _top_date(tcb_info, "nextUpdate", "tcbInfo"),
        _top_date(qe_identity, "nextUpdate", "enclaveIdentity"),
    ] + [update for _, update in crl_times if update is not None]
    return min(issued), min(updates)


def _der_header(der: bytes, index: int) -> tuple[int, int, int]:
    """(tag, start of the content, end of the content) of the DER element at ``index``."""
    tag, length = der[index], der[index + 1]
    index += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("DER length")
        length = int.from_bytes(der[index : index + count], "big")
        index += count
    if index + length > len(der):
        raise ValueError("DER truncated")
    return tag, index, index + length


def _der_time(der: bytes, tag: int, start: int, end: int) -> int:
    text = der[start:end].decode("ascii")
    if tag == 0x17 and len(text) == 13 and text.endswith("Z"):  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18 or len(text) != 15 or not text.endswith("Z"):  # GeneralizedTime
        raise ValueError("CRL time")
    iso = f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"
    return parse_utc(iso, "CRL time")


def _crl_dates(der: bytes, what: str) -> tuple[int, int | None]:
    """``thisUpdate`` and ``nextUpdate`` of a DER CRL, read without parsing its revoked list.

    (``cryptography`` parses every entry of a CRL on load: tens of µs for a PCK CRL, on every
    verification.) TBSCertList: [version INTEGER], signature SEQUENCE, issuer SEQUENCE,
    thisUpdate Time, [nextUpdate Time].
    """
    try:
        _, start, _ = _der_header(der, 0)  # CertificateList
        tag, index, end = _der_header(der, start)  # tbsCertList
        if tag != 0x30:
            raise ValueError("tbsCertList")
        tag, _, after = _der_header(der, index)
        if tag == 0x02:  # version
            index = after
            tag, _, after = _der_header(der, index)
        for _ in range(2):  # signature algorithm, issuer
            if tag != 0x30:
                raise ValueError("CRL layout")
            index = after
            tag, content, after = _der_header(der, index)
        this_update = _der_time(der, tag, content, after)
        next_update = None
        if after < end:
            tag, content, stop = _der_header(der, after)
            if tag in (0x17, 0x18):
                next_update = _der_time(der, tag, content, stop)
    except (ValueError, IndexError, UnicodeDecodeError, AttestationError):
        raise _bad(f"the {what} does not parse") from None
    return this_update, next_update


@dataclass(frozen=True)
class AmdChain:
    """AMD's ASK (or ASVK) and ARK of one product line, the ARK pinned."""

    product: str
    ask: x509.Certificate
    ark: x509.Certificate

    def pem(self) -> bytes:
        """ASK then ARK, PEM (as KDS serves ``cert_chain``)."""
        return self.ask.public_bytes(Encoding.PEM) + self.ark.public_bytes(Encoding.PEM)


def parse_amd_chain(body: bytes, *, product: str, now: int) -> AmdChain:
    """Check a KDS ``/vcek/v1/{product}/cert_chain`` answer (ASK then ARK, PEM).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL``, ``ATTEST_UNTRUSTED_ROOT`` (not the pinned ARK of
            ``product``), ``ATTEST_SIGNATURE`` or ``ATTEST_EXPIRED``.
    """
    pinned = AMD_PRODUCTS.get(product)
    if pinned is None:
        raise _bad(f"unknown AMD product {product!r} (one of {', '.join(AMD_PRODUCTS)})")
    if len(body) > MAX_COLLATERAL_BYTES:
        raise _bad("the AMD certificate chain is too large")
    chain = _load_pem_chain(body, "AMD certificate chain")
    if len(chain) != 2:
        raise _bad("the AMD certificate chain must be the ASK then the ARK")
    ask, ark = chain
    if not pinned.matches(ark.public_bytes(Encoding.DER)):
        raise AttestationError(
            f"the AMD chain's ARK is not the pinned {product} root", code=ATTEST_UNTRUSTED_ROOT
        )
    if not _issued_by(ask, ark):
        raise AttestationError("the AMD ASK is not signed by the ARK", code=ATTEST_SIGNATURE)
    _valid_at(ask, now, "ASK")
    _valid_at(ark, now, "ARK")
    return AmdChain(product=product, ask=ask, ark=ark)


def _vcek_extension(certificate: x509.Certificate, suffix: str) -> bytes | None:
    try:
        value = certificate.extensions.get_extension_for_oid(x509.ObjectIdentifier(_AMD_OID + suffix)).value
    except x509.ExtensionNotFound:
        return None
    raw: bytes = getattr(value, "value", b"")
    return raw


def parse_vcek(
    body: bytes, *, chain: AmdChain, hwid: bytes, tcb: Mapping[str, int], now: int
) -> x509.Certificate:
    """Check a KDS ``/vcek/v1/{product}/{hwid}?...`` answer (a DER VCEK).

    Args:
        chain: the product's checked chain.
        hwid: the chip id asked for (64 bytes).
        tcb: the SPLs asked for (``bootloader``, ``tee``, ``snp``, ``microcode``, and ``fmc`` on Turin).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL``, ``ATTEST_SIGNATURE``, ``ATTEST_EXPIRED`` or
            ``ATTEST_TCB_MISMATCH`` (another chip or TCB than asked for).
    """
    if len(body) > MAX_COLLATERAL_BYTES:
        raise _bad("the VCEK is too large")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
            vcek = x509.load_der_x509_certificate(body)
            parse_fully(vcek)
    except PARSE_ERRORS:
        raise _bad("the VCEK is not a DER certificate") from None
    if not _issued_by(vcek, chain.ask):
        raise AttestationError("the VCEK is not signed by the product's ASK", code=ATTEST_SIGNATURE)
    _valid_at(vcek, now, "VCEK")
    served = _vcek_extension(vcek, "4") or b""
    if len(served) == 66 and served[:2] == b"\x04\x40":
        served = served[2:]
    if served != hwid:
        raise AttestationError("the VCEK is for another chip than asked for", code=ATTEST_TCB_MISMATCH)
    for name, value in tcb.items():
        raw = _vcek_extension(vcek, _AMD_TCB_OIDS[name])
        if raw is None or len(raw) < 3 or raw[0] != 0x02 or int.from_bytes(raw[2:], "big") != value:
            raise AttestationError(
                f"the VCEK's {name} SPL is not the {value} asked for", code=ATTEST_TCB_MISMATCH
            )
    return vcek
