"""Roots are trusted by fingerprint, never by name; chains must end at the pinned root."""

from __future__ import annotations

import datetime
import hashlib
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from sealrun.core.attestation import (
    Evidence,
    EvidenceType,
    NitroVerifier,
    PinnedCertificate,
    SevSnpVerifier,
    SgxDcapVerifier,
)
from sealrun.core.attestation import roots as pinned
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, load_vectors


def _entry(vectors_dir: Path, entry_id: str) -> dict[str, Any]:
    return next(entry for entry in load_vectors(vectors_dir) if entry["id"] == entry_id)


def _impostor(real: x509.Certificate, *, rsa_key: bool = False) -> PinnedCertificate:
    """A self-signed certificate carrying exactly the real root's name, pinned by its own fingerprint."""
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2090, 1, 1, tzinfo=datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return PinnedCertificate("impostor", pem, fingerprint)


def _load_vcek(der: bytes) -> x509.Certificate:
    with warnings.catch_warnings():
        # AMD VCEKs have serial number 0, which cryptography parses with a deprecation warning.
        warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
        return x509.load_der_x509_certificate(der)


@pytest.mark.parametrize(
    "root",
    [pinned.INTEL_SGX_ROOT_CA, pinned.AMD_ARK_MILAN, pinned.AMD_ARK_GENOA, pinned.AWS_NITRO_ROOT_G1,
     pinned.AMD_ASK_MILAN, pinned.AMD_ASVK_GENOA, pinned.AMD_ARK_TURIN, pinned.AMD_ASVK_TURIN],
    ids=lambda root: root.name,
)  # fmt: skip
def test_shipped_certificates_match_their_pins(root: PinnedCertificate) -> None:
    assert root.matches(root.der)


def test_shipped_roots_equal_the_vectors_roots(vectors_dir: Path) -> None:
    for entry in load_vectors(vectors_dir):
        certificate = x509.load_pem_x509_certificate((vectors_dir / entry["root"]).read_bytes())
        der = certificate.public_bytes(serialization.Encoding.DER)
        shipped = {
            r.sha256: r for r in (pinned.INTEL_SGX_ROOT_CA, pinned.AMD_ARK_MILAN, pinned.AWS_NITRO_ROOT_G1)
        }
        assert shipped[entry["root_sha256"]].der == der


def test_intermediates_are_issued_by_their_pinned_arks() -> None:
    pinned.AMD_ASK_MILAN.certificate.verify_directly_issued_by(pinned.AMD_ARK_MILAN.certificate)
    pinned.AMD_ASVK_GENOA.certificate.verify_directly_issued_by(pinned.AMD_ARK_GENOA.certificate)
    pinned.AMD_ASVK_TURIN.certificate.verify_directly_issued_by(pinned.AMD_ARK_TURIN.certificate)


@pytest.mark.parametrize(
    ("ark", "product"),
    [(pinned.AMD_ARK_MILAN, "Milan"), (pinned.AMD_ARK_GENOA, "Genoa"), (pinned.AMD_ARK_TURIN, "Turin")],
)
def test_each_product_line_has_its_own_self_signed_ark(ark: PinnedCertificate, product: str) -> None:
    ark.certificate.verify_directly_issued_by(ark.certificate)
    common_name = ark.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert common_name == f"ARK-{product}"
    others = {pinned.AMD_ARK_MILAN.sha256, pinned.AMD_ARK_GENOA.sha256, pinned.AMD_ARK_TURIN.sha256}
    assert len(others) == 3


def test_a_certificate_with_intels_name_but_another_fingerprint_is_refused() -> None:
    impostor = _impostor(pinned.INTEL_SGX_ROOT_CA.certificate)
    wrongly_pinned = PinnedCertificate("Intel SGX Root CA", impostor.pem, pinned.INTEL_SGX_ROOT_CA.sha256)
    with pytest.raises(AttestationError) as caught:
        _ = wrongly_pinned.der
    assert caught.value.code == "ATTEST_UNTRUSTED_ROOT"


def test_real_dcap_evidence_does_not_verify_under_an_intel_named_impostor(vectors_dir: Path) -> None:
    entry = _entry(vectors_dir, "sgx-dcapqvl-sample")
    verifier = SgxDcapVerifier(root=_impostor(pinned.INTEL_SGX_ROOT_CA.certificate))
    with pytest.raises(AttestationError) as caught:
        verifier.verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
    assert caught.value.code == "ATTEST_UNTRUSTED_ROOT"


def test_real_snp_evidence_does_not_verify_under_an_amd_named_impostor(vectors_dir: Path) -> None:
    entry = _entry(vectors_dir, "snp-virtee-milan")
    verifier = SevSnpVerifier(roots=(_impostor(pinned.AMD_ARK_MILAN.certificate, rsa_key=True),))
    with pytest.raises(AttestationError) as caught:
        verifier.verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
    assert caught.value.code == "ATTEST_UNTRUSTED_ROOT"


def test_real_nitro_evidence_does_not_verify_under_an_aws_named_impostor(vectors_dir: Path) -> None:
    entry = _entry(vectors_dir, "nitro-nitrite-attestation")
    verifier = NitroVerifier(root=_impostor(pinned.AWS_NITRO_ROOT_G1.certificate))
    with pytest.raises(AttestationError) as caught:
        verifier.verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
    assert caught.value.code == "ATTEST_UNTRUSTED_ROOT"


def test_snp_vcek_signed_by_a_fake_ask_is_refused(vectors_dir: Path) -> None:
    """A VCEK from an impostor 'SEV-Milan' ASK (not under the pinned ARK) has no chain."""
    entry = _entry(vectors_dir, "snp-virtee-milan")
    real = evidence_for(vectors_dir, entry)
    vcek = _load_vcek(real.collateral or b"")
    fake_ask_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = (
        x509.CertificateBuilder()
        .subject_name(vcek.subject)
        .issuer_name(vcek.issuer)
        .public_key(vcek.public_key())
        .serial_number(1)
        .not_valid_before(vcek.not_valid_before_utc)
        .not_valid_after(vcek.not_valid_after_utc)
        .sign(fake_ask_key, hashes.SHA384(), rsa_padding=padding.PSS(padding.MGF1(hashes.SHA384()), 48))
    )
    evidence = Evidence(EvidenceType.SEV_SNP, real.payload, forged.public_bytes(serialization.Encoding.DER))
    with pytest.raises(AttestationError) as caught:
        SevSnpVerifier().verify(evidence, now=entry["verify_at"])
    assert caught.value.code == "ATTEST_SIGNATURE"


def test_snp_accepts_the_vcek_as_pem_followed_by_the_vendor_chain(vectors_dir: Path) -> None:
    entry = _entry(vectors_dir, "snp-virtee-milan")
    real = evidence_for(vectors_dir, entry)
    vcek = _load_vcek(real.collateral or b"")
    bundle = (
        vcek.public_bytes(serialization.Encoding.PEM) + (vectors_dir / str(entry["cert_chain"])).read_bytes()
    )
    claims = SevSnpVerifier().verify(
        Evidence(EvidenceType.SEV_SNP, real.payload, bundle), now=entry["verify_at"]
    )
    assert claims.measurement.hex() == entry["expected_claims"]["measurement"]
