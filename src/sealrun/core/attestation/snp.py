"""AMD SEV-SNP attestation reports, verified with ``cryptography`` against pinned AMD roots.

Checks, in order: the report layout (exactly 1184 bytes, version 2 or later: fields a newer
version adds are reported when known and otherwise ignored, never refused; ECDSA P-384
signature algorithm); the VCEK/VLEK certificate (DER or PEM, given as collateral, optionally followed by
PEM intermediates); the chain VCEK/VLEK → ASK/ASVK → ARK, where the ARK must be one of the
pinned roots (by fingerprint) and every certificate must be valid at ``now``; the report's
ECDSA P-384 / SHA-384 signature with the VCEK key; the VCEK's TCB extensions (bootloader, TEE,
SNP, microcode SPLs) against the report's REPORTED_TCB and its hwID against CHIP_ID (unless the
chip id is masked); finally debug (guest policy bit 19).

Product lines: each (Milan, Genoa, Turin) has its own ARK, pinned by fingerprint. The chain
names its product (the ARK's common name, ``ARK-<product>``); a report of version 3 or later
also names it (CPUID family and model at 0x188-0x189): both must agree, so that a Genoa report
cannot be vouched for by a Milan chain (``ATTEST_UNTRUSTED_ROOT``). The product chooses the
TCB_VERSION layout.

Report layout (AMD SEV-SNP ABI, ``ATTESTATION_REPORT``, little-endian): see
``docs/attestation.md``. TCB_VERSION, Milan and Genoa: byte 0 bootloader, 1 TEE, 6 SNP, 7
microcode; Turin: byte 0 FMC, 1 bootloader, 2 TEE, 3 SNP, 7 microcode (the VCEK certifies FMC
too, extension ``1.3.6.1.4.1.3704.1.3.9``).
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sealrun.core.attestation.certificates import PARSE_ERRORS, parse_fully
from sealrun.core.attestation.claims import TCB_UNAPPRAISED, Claims, ExtraValue, _mint_claims
from sealrun.core.attestation.codes import (
    ATTEST_COLLATERAL,
    ATTEST_DEBUG,
    ATTEST_EXPIRED,
    ATTEST_MALFORMED,
    ATTEST_SIGNATURE,
    ATTEST_TCB_MISMATCH,
    ATTEST_TYPE_MISMATCH,
    ATTEST_UNTRUSTED_ROOT,
)
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.core.attestation.roots import (
    AMD_ARK_GENOA,
    AMD_ARK_MILAN,
    AMD_ARK_TURIN,
    AMD_ASK_MILAN,
    AMD_ASVK_GENOA,
    AMD_ASVK_TURIN,
    PinnedCertificate,
)
from sealrun.errors import AttestationError

__all__ = ["REPORT_SIZE", "SevSnpVerifier"]

REPORT_SIZE = 0x4A0
_SIGNED_SIZE = 0x2A0
_POLICY_DEBUG = 1 << 19
_SIGNING_VCEK, _SIGNING_VLEK = 0, 1
_OID = "1.3.6.1.4.1.3704.1."
_TCB_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
# TCB_VERSION byte of each component: Milan and Genoa share a layout, Turin adds FMC in front.
_TCB_LAYOUTS = {
    "classic": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "Turin": {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7},
}


def _tcb(value: int, product: str | None = None) -> dict[str, int]:
    raw = value.to_bytes(8, "little")
    layout = _TCB_LAYOUTS.get(product or "", _TCB_LAYOUTS["classic"])
    return {name: raw[index] for name, index in layout.items()}


def report_product(family: int, model: int) -> str | None:
    """The EPYC product line of a CPUID family and model (report v3+), or None if unknown.

    Family 19h models 00h-0Fh are Milan; 10h-1Fh and A0h-AFh (Bergamo, Siena) Genoa; family
    1Ah models 00h-1Fh Turin.
    """
    if family == 0x19 and model <= 0x0F:
        return "Milan"
    if family == 0x19 and (0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF):
        return "Genoa"
    if family == 0x1A and model <= 0x1F:
        return "Turin"
    return None


def _ark_product(ark: x509.Certificate) -> str | None:
    names = ark.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    name = str(names[0].value) if names else ""
    return name.removeprefix("ARK-") if name.startswith("ARK-") else None


@dataclass(frozen=True)
class _Report:
    raw: bytes

    def u32(self, offset: int) -> int:
        return int(struct.unpack_from("<I", self.raw, offset)[0])

    def u64(self, offset: int) -> int:
        return int(struct.unpack_from("<Q", self.raw, offset)[0])

    def bytes_at(self, offset: int, size: int) -> bytes:
        return self.raw[offset : offset + size]

    @property
    def version(self) -> int:
        return self.u32(0x00)

    @property
    def product(self) -> str | None:
        """The product line the report names (version 3 and later), else None."""
        if self.version < 3:
            return None
        return report_product(self.raw[0x188], self.raw[0x189])


def _parse_report(payload: bytes) -> _Report:
    if len(payload) != REPORT_SIZE:
        raise AttestationError(
            f"an SEV-SNP report is {REPORT_SIZE} bytes, not {len(payload)}", code=ATTEST_MALFORMED
        )
    report = _Report(payload)
    if report.version < 2:
        raise AttestationError(
            f"unsupported SEV-SNP report version {report.version} (2 and later)", code=ATTEST_MALFORMED
        )
    if report.u32(0x34) != 1:
        raise AttestationError("SEV-SNP report is not signed with ECDSA P-384/SHA-384", code=ATTEST_MALFORMED)
    return report


def _load_certificates(collateral: bytes | None) -> list[x509.Certificate]:
    if not collateral:
        raise AttestationError(
            "sev-snp evidence needs the VCEK or VLEK certificate as collateral", code=ATTEST_COLLATERAL
        )
    blocks = _PEM_BLOCK.findall(collateral)
    try:
        # AMD issues VCEKs with serial number 0, which cryptography parses with a deprecation
        # warning; the serial plays no part in this verification.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
            if blocks:
                certificates = [x509.load_pem_x509_certificate(block) for block in blocks]
            else:
                certificates = [x509.load_der_x509_certificate(collateral)]
            for certificate in certificates:
                parse_fully(certificate)
            return certificates
    except PARSE_ERRORS:
        raise AttestationError(
            "sev-snp collateral is not a DER or PEM certificate", code=ATTEST_COLLATERAL
        ) from None


def _check_validity(certificate: x509.Certificate, now: int, what: str) -> None:
    if not certificate.not_valid_before_utc.timestamp() <= now <= certificate.not_valid_after_utc.timestamp():
        raise AttestationError(f"sev-snp: the {what} certificate is not valid at {now}", code=ATTEST_EXPIRED)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _extension_int(certificate: x509.Certificate, suffix: str) -> int | None:
    try:
        value = certificate.extensions.get_extension_for_oid(x509.ObjectIdentifier(_OID + suffix)).value
    except x509.ExtensionNotFound:
        return None
    raw = getattr(value, "value", b"")
    # DER INTEGER, short form: 02 len value
    if len(raw) < 3 or raw[0] != 0x02 or raw[1] != len(raw) - 2 or raw[1] > 8:
        raise AttestationError(
            f"sev-snp: VCEK extension {_OID + suffix} is malformed", code=ATTEST_COLLATERAL
        )
    return int.from_bytes(raw[2:], "big", signed=True)


def _hardware_id(certificate: x509.Certificate) -> bytes | None:
    try:
        value = certificate.extensions.get_extension_for_oid(x509.ObjectIdentifier(_OID + "4")).value
    except x509.ExtensionNotFound:
        return None
    raw: bytes = getattr(value, "value", b"")
    if len(raw) == 66 and raw[:2] == b"\x04\x40":  # some VCEKs wrap the hwID in an OCTET STRING
        return raw[2:]
    return raw


@dataclass(frozen=True)
class SevSnpVerifier:
    """Verifies ``sev-snp`` evidence: a raw attestation report + its VCEK/VLEK as collateral.

    Args:
        roots: the pinned ARKs (default: Milan, Genoa and Turin).
        intermediates: shipped ASK/ASVK certificates (each still verified against an ARK).
        allow_debug: return claims for debug guests instead of raising ``ATTEST_DEBUG``.
    """

    roots: Sequence[PinnedCertificate] = field(
        default=(AMD_ARK_MILAN, AMD_ARK_GENOA, AMD_ARK_TURIN), kw_only=True
    )
    intermediates: Sequence[PinnedCertificate] = field(
        default=(AMD_ASK_MILAN, AMD_ASVK_GENOA, AMD_ASVK_TURIN), kw_only=True
    )
    allow_debug: bool = field(default=False, kw_only=True)
    evidence_type: EvidenceType = field(default=EvidenceType.SEV_SNP, init=False)

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify the report, its chain and its TCB binding at ``now``; mint the claims.

        Raises:
            AttestationError: ``ATTEST_TYPE_MISMATCH``, ``ATTEST_MALFORMED``, ``ATTEST_COLLATERAL``,
                ``ATTEST_UNTRUSTED_ROOT``, ``ATTEST_EXPIRED``, ``ATTEST_SIGNATURE``,
                ``ATTEST_TCB_MISMATCH`` or ``ATTEST_DEBUG``.
        """
        if evidence.type is not EvidenceType.SEV_SNP:
            raise AttestationError(
                f"the sev-snp verifier does not take {evidence.type.value} evidence",
                code=ATTEST_TYPE_MISMATCH,
            )
        report = _parse_report(evidence.payload)
        leaf, *extra_certificates = _load_certificates(evidence.collateral)
        signing_key = (report.u32(0x48) >> 2) & 0x7
        if signing_key not in (_SIGNING_VCEK, _SIGNING_VLEK):
            raise AttestationError(
                "sev-snp: the report is not signed by a VCEK or VLEK", code=ATTEST_SIGNATURE
            )
        chain_product = self._verify_chain(leaf, extra_certificates, now)
        self._verify_signature(report, leaf)
        product = _product(report, chain_product)
        self._verify_tcb(report, leaf, signing_key, product)
        policy = report.u64(0x08)
        debug = bool(policy & _POLICY_DEBUG)
        if debug and not self.allow_debug:
            raise AttestationError(
                f"sev-snp: guest policy {policy:#x} allows debugging (bit 19)", code=ATTEST_DEBUG
            )
        return self._claims(report, leaf, signing_key, debug, product)

    def _verify_chain(self, leaf: x509.Certificate, supplied: list[x509.Certificate], now: int) -> str | None:
        """Check VCEK → ASK → pinned ARK at ``now``; return the ARK's product line (if it names one)."""
        candidates = [pinned.certificate for pinned in self.intermediates] + supplied
        named = [ca for ca in candidates if ca.subject == leaf.issuer]
        signing = [ca for ca in named if _issued_by(leaf, ca)]
        if named and not signing:
            raise AttestationError(
                "sev-snp: the VCEK signature does not verify under its ASK", code=ATTEST_SIGNATURE
            )
        for intermediate in signing:
            for root in self.roots:
                ark = root.certificate  # fingerprint-checked
                if intermediate.issuer == ark.subject and _issued_by(intermediate, ark):
                    _check_validity(ark, now, "ARK")
                    _check_validity(intermediate, now, "ASK")
                    _check_validity(leaf, now, "VCEK")
                    return _ark_product(ark)
        raise AttestationError(
            f"sev-snp: no chain from the VCEK ({leaf.issuer.rfc4514_string()}) to a pinned AMD root",
            code=ATTEST_UNTRUSTED_ROOT,
        )

    @staticmethod
    def _verify_signature(report: _Report, leaf: x509.Certificate) -> None:
        key = leaf.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise AttestationError("sev-snp: the VCEK key is not ECDSA P-384", code=ATTEST_COLLATERAL)
        r = int.from_bytes(report.bytes_at(0x2A0, 72), "little")
        s = int.from_bytes(report.bytes_at(0x2E8, 72), "little")
        try:
            key.verify(
                encode_dss_signature(r, s), report.bytes_at(0, _SIGNED_SIZE), ec.ECDSA(hashes.SHA384())
            )
        except (InvalidSignature, ValueError):
            raise AttestationError(
                "sev-snp: the report signature is invalid", code=ATTEST_SIGNATURE
            ) from None

    @staticmethod
    def _verify_tcb(
        report: _Report, leaf: x509.Certificate, signing_key: int, product: str | None = None
    ) -> None:
        reported = _tcb(report.u64(0x180), product or report.product)
        for name in reported:
            certified = _extension_int(leaf, _TCB_OIDS[name])
            if certified != reported[name]:
                raise AttestationError(
                    f"sev-snp: the VCEK certifies {name} SPL {certified}, the report says {reported[name]}",
                    code=ATTEST_TCB_MISMATCH,
                )
        masked = bool(report.u32(0x48) & 0x2)
        if signing_key == _SIGNING_VCEK and not masked and _hardware_id(leaf) != report.bytes_at(0x1A0, 64):
            raise AttestationError("sev-snp: the VCEK was issued for another chip", code=ATTEST_TCB_MISMATCH)

    @staticmethod
    def _claims(
        report: _Report, leaf: x509.Certificate, signing_key: int, debug: bool, product: str | None
    ) -> Claims:
        extra: dict[str, ExtraValue] = {
            "report_version": report.u32(0x00),
            "guest_svn": report.u32(0x04),
            "policy": report.u64(0x08),
            "family_id": report.bytes_at(0x10, 16),
            "image_id": report.bytes_at(0x20, 16),
            "vmpl": report.u32(0x30),
            "current_tcb": _tcb(report.u64(0x38), product),
            "platform_info": report.u64(0x40),
            "host_data": report.bytes_at(0xC0, 32),
            "id_key_digest": report.bytes_at(0xE0, 48),
            "author_key_digest": report.bytes_at(0x110, 48),
            "report_id": report.bytes_at(0x140, 32),
            "reported_tcb": _tcb(report.u64(0x180), product),
            "chip_id": report.bytes_at(0x1A0, 64),
            "committed_tcb": _tcb(report.u64(0x1E0), product),
            "current_version": _firmware_version(report.bytes_at(0x1E8, 3)),
            "committed_version": _firmware_version(report.bytes_at(0x1EC, 3)),
            "launch_tcb": _tcb(report.u64(0x1F0), product),
            "signing_key": "vlek" if signing_key == _SIGNING_VLEK else "vcek",
            "vcek_issuer": leaf.issuer.rfc4514_string(),
            "product": product or "unknown",
        }
        if report.version >= 3:  # CPUID of the chip that made the report
            extra["cpuid_family"] = report.raw[0x188]
            extra["cpuid_model"] = report.raw[0x189]
            extra["cpuid_stepping"] = report.raw[0x18A]
        if report.version >= 5:  # mitigation vectors
            extra["launch_mit_vector"] = report.u64(0x1F8)
            extra["current_mit_vector"] = report.u64(0x200)
        return _mint_claims(
            tee=EvidenceType.SEV_SNP,
            measurement=report.bytes_at(0x90, 48),
            signer=None,
            product_id=None,
            svn=report.u32(0x04),
            debug=debug,
            tcb_status=TCB_UNAPPRAISED,
            advisories=(),
            report_data=report.bytes_at(0x50, 64),
            extra=extra,
            simulated=False,
        )


def _firmware_version(raw: bytes) -> str:
    build, minor, major = raw
    return f"{major}.{minor}.{build}"


def _product(report: _Report, chain_product: str | None) -> str | None:
    """The product line, from the report (v3+) and the chain's ARK, which must agree."""
    named = report.product
    if named is not None and chain_product is not None and named != chain_product:
        raise AttestationError(
            f"sev-snp: a {named} report does not chain to ARK-{named} (it chains to ARK-{chain_product})",
            code=ATTEST_UNTRUSTED_ROOT,
        )
    return named or chain_product
