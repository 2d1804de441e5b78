"""SEV-SNP: the VCEK's certified TCB and chip id must be the report's (``ATTEST_TCB_MISMATCH``).

AMD's signatures cannot be re-made, so the binding is tested two ways:

* on the real vectors, the binding check itself (``SevSnpVerifier._verify_tcb``) with one
  field of a real report changed, and with a real report paired with the other chip's VCEK;
* through :meth:`SevSnpVerifier.verify` end to end, on a chain made here (a test ARK pinned
  by its own fingerprint, an ASK, a VCEK with AMD's TCB and hwID extensions) over a real
  report's bytes re-signed with that VCEK: everything else verifies, so only the binding can
  refuse. This is what fails if the binding is dropped from ``verify``.
"""

from __future__ import annotations

import datetime
import hashlib
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sealrun.core.attestation import Evidence, EvidenceType, PinnedCertificate, SevSnpVerifier
from sealrun.core.attestation.snp import _parse_report
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, load_vectors

TCB_OFFSET, CHIP_OFFSET, KEY_INFO_OFFSET = 0x180, 0x1A0, 0x48
# TCB_VERSION bytes (Milan): 0 bootloader, 1 TEE, 6 SNP, 7 microcode.
TCB_BYTES = {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7}
AMD = "1.3.6.1.4.1.3704.1."
TCB_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}
NOW = 1_800_000_000


def _entry(vectors_dir: Path, entry_id: str) -> dict[str, Any]:
    return next(entry for entry in load_vectors(vectors_dir) if entry["id"] == entry_id)


def _real(vectors_dir: Path, entry_id: str) -> tuple[bytes, x509.Certificate]:
    evidence = evidence_for(vectors_dir, _entry(vectors_dir, entry_id))
    with warnings.catch_warnings():
        # AMD VCEKs have serial number 0, which cryptography parses with a deprecation warning.
        warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
        leaf = x509.load_der_x509_certificate(evidence.collateral or b"")
    return evidence.payload, leaf


def _changed(report: bytes, offset: int, value: int | None = None) -> bytes:
    raw = bytearray(report)
    raw[offset] = (raw[offset] + 1) % 256 if value is None else value
    return bytes(raw)


def _bind(report: bytes, leaf: x509.Certificate) -> None:
    parsed = _parse_report(report)
    SevSnpVerifier._verify_tcb(parsed, leaf, (parsed.u32(KEY_INFO_OFFSET) >> 2) & 0x7)


# -- the binding check on real AMD data -------------------------------------------------------------
def test_a_real_report_is_bound_to_its_own_vcek(vectors_dir: Path) -> None:
    report, leaf = _real(vectors_dir, "snp-virtee-milan")
    _bind(report, leaf)  # raises on a mismatch


@pytest.mark.parametrize("component", sorted(TCB_BYTES))
def test_a_reported_tcb_the_vcek_does_not_certify_is_refused(vectors_dir: Path, component: str) -> None:
    report, leaf = _real(vectors_dir, "snp-virtee-milan")
    with pytest.raises(AttestationError) as caught:
        _bind(_changed(report, TCB_OFFSET + TCB_BYTES[component]), leaf)
    assert caught.value.code == "ATTEST_TCB_MISMATCH"
    assert caught.value.message.startswith(f"sev-snp: the VCEK certifies {component} SPL ")


def test_a_report_from_another_chip_is_refused(vectors_dir: Path) -> None:
    report, leaf = _real(vectors_dir, "snp-virtee-milan")
    with pytest.raises(AttestationError) as caught:
        _bind(_changed(report, CHIP_OFFSET + 17), leaf)
    assert (caught.value.code, caught.value.message) == (
        "ATTEST_TCB_MISMATCH",
        "sev-snp: the VCEK was issued for another chip",
    )


def test_a_real_report_with_the_other_real_chips_vcek_is_refused(vectors_dir: Path) -> None:
    report, _own = _real(vectors_dir, "snp-gosevguest-debug-policy")
    _report, other = _real(vectors_dir, "snp-virtee-milan")
    assert report[CHIP_OFFSET : CHIP_OFFSET + 64] != _report[CHIP_OFFSET : CHIP_OFFSET + 64]
    _bind(report, _own)
    with pytest.raises(AttestationError) as caught:
        _bind(report, other)
    assert caught.value.code == "ATTEST_TCB_MISMATCH"


# -- end to end through verify(), on a chain made here ---------------------------------------------
def _ca(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None
) -> Any:
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    issuer_name = (
        subject if issuer is None else x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, issuer[0])])
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2090, 1, 1, tzinfo=datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )


def _der_int(value: int) -> bytes:
    return bytes([0x02, 1, value]) if value < 0x80 else bytes([0x02, 2, 0, value])


@dataclass(frozen=True)
class SnpChain:
    """A test ARK (pinned by fingerprint), its ASK and a VCEK key; makes VCEKs and signed reports."""

    ark: PinnedCertificate
    ask: x509.Certificate
    ask_key: ec.EllipticCurvePrivateKey
    vcek_key: ec.EllipticCurvePrivateKey

    @classmethod
    def make(cls, product: str | None = None) -> SnpChain:
        """A chain whose ARK is named ``ARK-<product>`` (as AMD's are) or ``Test ARK``."""
        ark_key, ask_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
        ark_name = f"ARK-{product}" if product else "Test ARK"
        ark = _ca(ark_name, ark_key, None).sign(ark_key, hashes.SHA384())
        ask = _ca("Test ASK", ask_key, (ark_name, ark_key)).sign(ark_key, hashes.SHA384())
        pem = ark.public_bytes(serialization.Encoding.PEM).decode()
        fingerprint = hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest()
        return cls(
            PinnedCertificate("test ARK", pem, fingerprint),
            ask,
            ask_key,
            ec.generate_private_key(ec.SECP384R1()),
        )

    def vcek(self, tcb: dict[str, int], chip_id: bytes) -> bytes:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Test VCEK")]))
            .issuer_name(self.ask.subject)
            .public_key(self.vcek_key.public_key())
            .serial_number(1)
            .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
            .not_valid_after(datetime.datetime(2090, 1, 1, tzinfo=datetime.UTC))
            .add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(AMD + "4"), chip_id), critical=False
            )
        )
        for name, value in tcb.items():
            extension = x509.UnrecognizedExtension(
                x509.ObjectIdentifier(AMD + TCB_OIDS[name]), _der_int(value)
            )
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(self.ask_key, hashes.SHA384()).public_bytes(serialization.Encoding.DER)

    def signed(self, report: bytes) -> bytes:
        signature = self.vcek_key.sign(report[:0x2A0], ec.ECDSA(hashes.SHA384()))
        r, s = decode_dss_signature(signature)
        raw = bytearray(report)
        raw[0x2A0 : 0x2A0 + 72] = r.to_bytes(72, "little")
        raw[0x2E8 : 0x2E8 + 72] = s.to_bytes(72, "little")
        return bytes(raw)

    def verifier(self) -> SevSnpVerifier:
        pinned_ask = PinnedCertificate(
            "test ASK",
            self.ask.public_bytes(serialization.Encoding.PEM).decode(),
            hashlib.sha256(self.ask.public_bytes(serialization.Encoding.DER)).hexdigest(),
        )
        return SevSnpVerifier(roots=(self.ark,), intermediates=(pinned_ask,))


@pytest.fixture(scope="module")
def chain() -> SnpChain:
    return SnpChain.make()


@pytest.fixture
def template(vectors_dir: Path) -> bytes:
    """The real Milan report's bytes (to be re-signed by the test VCEK)."""
    report, _leaf = _real(vectors_dir, "snp-virtee-milan")
    return report


def _tcb_of(report: bytes) -> dict[str, int]:
    raw = report[TCB_OFFSET : TCB_OFFSET + 8]
    return {name: raw[index] for name, index in TCB_BYTES.items()}


def _verify(chain: SnpChain, report: bytes, vcek: bytes) -> Any:
    return chain.verifier().verify(Evidence(EvidenceType.SEV_SNP, chain.signed(report), vcek), now=NOW)


def test_a_report_bound_to_its_vcek_verifies(chain: SnpChain, template: bytes) -> None:
    vcek = chain.vcek(_tcb_of(template), template[CHIP_OFFSET : CHIP_OFFSET + 64])
    claims = _verify(chain, template, vcek)
    assert claims.extra["chip_id"] == template[CHIP_OFFSET : CHIP_OFFSET + 64]
    assert claims.extra["reported_tcb"] == _tcb_of(template)


@pytest.mark.parametrize("component", sorted(TCB_BYTES))
def test_verify_refuses_a_vcek_certifying_another_tcb(
    chain: SnpChain, template: bytes, component: str
) -> None:
    certified = dict(_tcb_of(template))
    certified[component] = (certified[component] + 1) % 128
    vcek = chain.vcek(certified, template[CHIP_OFFSET : CHIP_OFFSET + 64])
    with pytest.raises(AttestationError) as caught:
        _verify(chain, template, vcek)
    assert caught.value.code == "ATTEST_TCB_MISMATCH"
    assert caught.value.message == (
        f"sev-snp: the VCEK certifies {component} SPL {certified[component]}, "
        f"the report says {_tcb_of(template)[component]}"
    )


def test_verify_refuses_a_vcek_of_another_chip(chain: SnpChain, template: bytes) -> None:
    vcek = chain.vcek(_tcb_of(template), b"\x5a" * 64)
    with pytest.raises(AttestationError) as caught:
        _verify(chain, template, vcek)
    assert (caught.value.code, caught.value.message) == (
        "ATTEST_TCB_MISMATCH",
        "sev-snp: the VCEK was issued for another chip",
    )


def test_a_masked_chip_id_is_not_compared(chain: SnpChain, template: bytes) -> None:
    # MASK_CHIP_ID (KEY_INFO bit 1): the guest asked for a zeroed chip id; the TCB still binds.
    key_info = struct.unpack_from("<I", template, KEY_INFO_OFFSET)[0] | 0x2
    masked = bytearray(template)
    struct.pack_into("<I", masked, KEY_INFO_OFFSET, key_info)
    masked[CHIP_OFFSET : CHIP_OFFSET + 64] = bytes(64)
    vcek = chain.vcek(_tcb_of(template), b"\x5a" * 64)
    assert _verify(chain, bytes(masked), vcek).extra["chip_id"] == bytes(64)
    other_tcb = {**_tcb_of(template), "snp": (_tcb_of(template)["snp"] + 1) % 128}
    with pytest.raises(AttestationError) as caught:
        _verify(chain, bytes(masked), chain.vcek(other_tcb, b"\x5a" * 64))
    assert caught.value.code == "ATTEST_TCB_MISMATCH"
