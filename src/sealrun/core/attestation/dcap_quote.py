"""The layout of Intel DCAP quotes (v3, v4, v5), parsed in pure Python before any crypto runs.

``dcap-qvl`` checks the signatures; this module decides what the bytes *are* and refuses what
cannot be verified, each time with a stable code, so no library error and no missing key ever
reaches the caller. The layouts follow Intel's "SGX ECDSA Quote Library API" and "TDX DCAP
Quoting Library API" (little-endian throughout):

* header, 48 bytes: version (u16), attestation key type (u16, 2 = ECDSA P-256), TEE type (u32,
  0 = SGX, 0x81 = TDX; reserved 0 in v3), QE SVN, PCE SVN, QE vendor id (16), user data (20);
* v5 only: a body descriptor, body type (u16: 1 SGX, 2 TD 1.0, 3 TD 1.5) and body size (u32);
* the report body: SGX enclave report (384), TD report 1.0 (584) or TD report 1.5 (648 = 1.0 +
  TEE_TCB_SVN_2 (16) + MRSERVICETD (48));
* signature data length (u32) and signature data: ECDSA signature (64), attestation key (64),
  then in v3 the QE report (384), its signature (64), QE auth data (u16 size + bytes) and the QE
  certification data; in v4/v5 the certification data directly, which must be type 6 (QE report
  certification data: QE report, signature, auth data, and nested certification data).

Certification data types (Intel): 1-3 PCK identifiers (PPID plain / RSA-2048-OAEP / RSA-3072-OAEP,
CPUSVN, PCESVN, PCEID), 4 PCK leaf certificate, 5 PCK certificate chain, 6 QE report
certification data, 7 platform manifest. Only a chain (5) lets a verifier reach Intel's root from
the quote alone; 1-4 and 7 are parsed and refused with ``ATTEST_COLLATERAL`` (the PCK chain is
missing: it must be fetched from Intel's PCS). Nested 6, or a type outside 1-7, is
``ATTEST_MALFORMED``. Every length must account for its bytes exactly; zero bytes may follow the
quote (as in the wild), anything else is ``ATTEST_MALFORMED``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from sealrun.core.attestation.codes import ATTEST_COLLATERAL, ATTEST_MALFORMED
from sealrun.errors import AttestationError

__all__ = ["CertificationType", "DcapQuote", "ReportBody", "parse_dcap_quote"]

HEADER_SIZE = 48
TEE_SGX, TEE_TDX = 0x00, 0x81
ATTESTATION_KEY_P256 = 2
QE_REPORT_SIZE = 384
_SIGNATURE_AND_KEY = 128


class CertificationType(IntEnum):
    """QE certification data types, as Intel numbers them."""

    PPID_CLEARTEXT = 1
    PPID_RSA2048 = 2
    PPID_RSA3072 = 3
    PCK_LEAF = 4
    PCK_CHAIN = 5
    QE_REPORT = 6
    PLATFORM_MANIFEST = 7


# Fixed sizes of the PCK identifier types: encrypted or plain PPID + CPUSVN (16) + PCESVN (2) + PCEID (2).
_PCK_ID_SIZES = {
    CertificationType.PPID_CLEARTEXT: 16 + 20,
    CertificationType.PPID_RSA2048: 256 + 20,
    CertificationType.PPID_RSA3072: 384 + 20,
}

# Body kinds: (name, size). v5 names them by type; v3/v4 by the header's TEE type.
_BODIES = {1: ("SGX", 384), 2: ("TD10", 584), 3: ("TD15", 648)}

# Field offsets and sizes inside the bodies.
_SGX_FIELDS = {
    "cpu_svn": (0, 16),
    "misc_select": (16, 4),
    "attributes": (48, 16),
    "mr_enclave": (64, 32),
    "mr_signer": (128, 32),
    "config_id": (192, 64),
    "isv_prod_id": (256, 2),
    "isv_svn": (258, 2),
    "config_svn": (260, 2),
    "isv_family_id": (304, 16),
    "report_data": (320, 64),
}
_TD10_FIELDS = {
    "tee_tcb_svn": (0, 16),
    "mr_seam": (16, 48),
    "mr_signer_seam": (64, 48),
    "seam_attributes": (112, 8),
    "td_attributes": (120, 8),
    "xfam": (128, 8),
    "mr_td": (136, 48),
    "mr_config_id": (184, 48),
    "mr_owner": (232, 48),
    "mr_owner_config": (280, 48),
    "rtmr0": (328, 48),
    "rtmr1": (376, 48),
    "rtmr2": (424, 48),
    "rtmr3": (472, 48),
    "report_data": (520, 64),
}
_TD15_FIELDS = {**_TD10_FIELDS, "tee_tcb_svn2": (584, 16), "mr_service_td": (600, 48)}
_FIELDS = {"SGX": _SGX_FIELDS, "TD10": _TD10_FIELDS, "TD15": _TD15_FIELDS}


def _malformed(message: str) -> AttestationError:
    return AttestationError(f"DCAP quote: {message}", code=ATTEST_MALFORMED)


@dataclass(frozen=True)
class ReportBody:
    """A quote's report body: its kind (``SGX``, ``TD10``, ``TD15``) and its raw bytes."""

    kind: str
    raw: bytes

    def field(self, name: str) -> bytes:
        """The bytes of field ``name`` of this kind of body (names as in ``docs/attestation.md``)."""
        offset, size = _FIELDS[self.kind][name]
        return self.raw[offset : offset + size]

    def number(self, name: str) -> int:
        """Field ``name`` read as a little-endian unsigned integer."""
        return int.from_bytes(self.field(name), "little")

    @property
    def names(self) -> tuple[str, ...]:
        """The field names this kind of body has."""
        return tuple(_FIELDS[self.kind])


@dataclass(frozen=True)
class DcapQuote:
    """The parsed layout of a DCAP quote (nothing here is verified yet).

    Attributes:
        version: 3, 4 or 5.
        tee_type: ``0`` (SGX) or ``0x81`` (TDX).
        body: the report body.
        certification_types: the certification data types, outermost first (``(5,)`` or ``(6, 5)``).
        size: the quote's length; only zero bytes follow it in the input.
    """

    version: int
    tee_type: int
    body: ReportBody
    certification_types: tuple[int, ...]
    size: int

    @property
    def is_tdx(self) -> bool:
        """Whether this is a TDX quote."""
        return self.tee_type == TEE_TDX


class _Reader:
    """Bounds-checked little-endian reads over a window of the input."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.at, self.end = data, start, end

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > self.end:
            raise _malformed(f"truncated {what} ({self.end - self.at} bytes left, {size} needed)")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])

    def done(self, what: str) -> None:
        if self.at != self.end:
            raise _malformed(f"{self.end - self.at} unexpected bytes at the end of the {what}")


def parse_dcap_quote(payload: bytes) -> DcapQuote:
    """Parse the layout of an SGX or TDX DCAP quote (v3, v4 or v5).

    Args:
        payload: the quote, optionally followed by zero padding.

    Returns:
        The parsed quote.

    Raises:
        AttestationError: ``ATTEST_MALFORMED`` for anything that does not follow Intel's layout
            (unknown version, TEE type, body type, key type; a length that does not add up;
            non-zero trailing bytes); ``ATTEST_COLLATERAL`` for certification data that does
            not carry the PCK certificate chain (types 1-4 and 7).
    """
    reader = _Reader(payload, 0, len(payload))
    header = _Reader(reader.take(HEADER_SIZE, "header"), 0, HEADER_SIZE)
    version = header.u16("header")
    key_type = header.u16("header")
    tee_type = header.u32("header")
    if version not in (3, 4, 5):
        raise _malformed(f"unsupported quote version {version} (3, 4 and 5 are known)")
    if key_type != ATTESTATION_KEY_P256:
        raise _malformed(f"unsupported attestation key type {key_type} (2 = ECDSA P-256 is supported)")
    if tee_type not in (TEE_SGX, TEE_TDX) or (version == 3 and tee_type != TEE_SGX):
        raise _malformed(f"unsupported TEE type {tee_type:#x} for a v{version} quote")
    body = _read_body(reader, version, tee_type)
    signature_size = reader.u32("signature data length")
    signature = _Reader(payload, reader.at, reader.at + signature_size)
    reader.take(signature_size, "signature data")
    signature.take(_SIGNATURE_AND_KEY, "quote signature and attestation key")
    types: tuple[int, ...]
    if version == 3:
        _read_qe_report(signature)
        types = (_read_certification(signature, "certification data"),)
    else:
        outer = _read_certification_header(signature)
        if outer != CertificationType.QE_REPORT:
            raise _malformed(f"a v{version} quote must carry certification data type 6, not {outer}")
        inner = _Reader(payload, signature.at, signature.end)
        _read_qe_report(inner)
        types = (outer, _read_certification(inner, "QE report certification data"))
        signature.at = inner.at
    signature.done("signature data")
    if any(payload[reader.at :]):
        raise _malformed("non-zero bytes follow the signature data")
    return DcapQuote(version, tee_type, body, types, reader.at)


def _read_body(reader: _Reader, version: int, tee_type: int) -> ReportBody:
    if version == 5:
        body_type = reader.u16("body descriptor")
        body_size = reader.u32("body descriptor")
        if body_type not in _BODIES:
            raise _malformed(f"unsupported v5 body type {body_type} (1 SGX, 2 TD 1.0, 3 TD 1.5)")
        kind, expected = _BODIES[body_type]
        if (kind == "SGX") != (tee_type == TEE_SGX):
            raise _malformed(f"body type {body_type} does not match TEE type {tee_type:#x}")
        if body_size != expected:
            raise _malformed(f"a {kind} body is {expected} bytes, not {body_size}")
    else:
        kind, expected = _BODIES[1 if tee_type == TEE_SGX else 2]
    return ReportBody(kind, reader.take(expected, f"{kind} report body"))


def _read_qe_report(reader: _Reader) -> None:
    reader.take(QE_REPORT_SIZE, "QE report")
    reader.take(64, "QE report signature")
    reader.take(reader.u16("QE auth data size"), "QE auth data")


def _read_certification_header(reader: _Reader) -> int:
    kind = reader.u16("certification data type")
    size = reader.u32("certification data size")
    if reader.end - reader.at != size:
        raise _malformed(
            f"certification data size {size} does not match the {reader.end - reader.at} bytes left"
        )
    return kind


def _read_certification(reader: _Reader, what: str) -> int:
    """Read a certification data block that must end its enclosing structure; return its type."""
    kind = _read_certification_header(reader)
    data = reader.take(reader.end - reader.at, what)
    if kind == CertificationType.PCK_CHAIN:
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise _malformed("the PCK certificate chain holds no PEM certificate")
        return kind
    if kind == CertificationType.QE_REPORT:
        # v3 carries the QE report inline; v4/v5 wrap it once: type 6 is never valid here.
        raise _malformed(f"QE report certification data (type 6) cannot appear as the {what}")
    if kind in _PCK_ID_SIZES:
        if len(data) != _PCK_ID_SIZES[CertificationType(kind)]:
            raise _malformed(
                f"certification data type {kind} must be {_PCK_ID_SIZES[CertificationType(kind)]} bytes"
            )
        raise AttestationError(
            f"DCAP quote: certification data type {kind} identifies the PCK certificate (PPID, CPUSVN, "
            "PCESVN, PCEID) but does not carry its chain; fetch it from Intel's PCS",
            code=ATTEST_COLLATERAL,
        )
    if kind in (CertificationType.PCK_LEAF, CertificationType.PLATFORM_MANIFEST):
        name = "a PCK leaf certificate" if kind == CertificationType.PCK_LEAF else "a platform manifest"
        raise AttestationError(
            f"DCAP quote: certification data type {kind} ({name}) does not carry the PCK chain to "
            "Intel's root",
            code=ATTEST_COLLATERAL,
        )
    raise _malformed(f"unknown certification data type {kind} (Intel defines 1-7)")
