"""Nitro: the document's timestamp must lie inside its leaf certificate's validity (and not after now).

The real document is checked at its documented time; the refusals use documents made here under
a test root pinned by its own fingerprint (AWS's signatures cannot be re-made), so everything
but the timestamp verifies and only the timestamp check can refuse.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sealrun.core.attestation import Evidence, EvidenceType, NitroVerifier, PinnedCertificate
from sealrun.core.attestation.nitro import CLOCK_SKEW
from sealrun.errors import AttestationError
from tests.attestation.vectors import evidence_for, load_vectors

Chain = tuple[PinnedCertificate, bytes, ec.EllipticCurvePrivateKey, bytes]
START = datetime.datetime(2025, 1, 1, 12, 0, tzinfo=datetime.UTC)
LEAF_FROM, LEAF_TO = START, START + datetime.timedelta(hours=3)
INSIDE = int((START + datetime.timedelta(hours=1)).timestamp())


def _certificate(name: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
                 valid: tuple[datetime.datetime, datetime.datetime]) -> x509.Certificate:  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=name == issuer, path_length=None), critical=True)
        .sign(signer, hashes.SHA384())
    )


@pytest.fixture(scope="module")
def chain() -> Chain:
    root_key, leaf_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    year = datetime.timedelta(days=365)
    root = _certificate(
        "test nitro root", root_key, "test nitro root", root_key, (START - year, START + year)
    )
    leaf = _certificate("test enclave", leaf_key, "test nitro root", root_key, (LEAF_FROM, LEAF_TO))
    root_der = root.public_bytes(serialization.Encoding.DER)
    pinned = PinnedCertificate(
        "test nitro root",
        root.public_bytes(serialization.Encoding.PEM).decode(),
        hashlib.sha256(root_der).hexdigest(),
    )
    return pinned, root_der, leaf_key, leaf.public_bytes(serialization.Encoding.DER)


def _document(chain: Chain, timestamp_ms: int) -> bytes:
    _pinned, root_der, leaf_key, leaf_der = chain
    body = cbor2.dumps(
        {
            "module_id": "i-test-enc",
            "timestamp": timestamp_ms,
            "digest": "SHA384",
            "pcrs": {0: b"\x01" * 48, 1: b"\x02" * 48},
            "certificate": leaf_der,
            "cabundle": [root_der],
            "public_key": None,
            "user_data": b"\x07" * 64,
            "nonce": None,
        }
    )
    protected = cbor2.dumps({1: -35})
    der = leaf_key.sign(cbor2.dumps(["Signature1", protected, b"", body]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    return cbor2.dumps(
        cbor2.CBORTag(18, [protected, {}, body, r.to_bytes(48, "big") + s.to_bytes(48, "big")])
    )


def _verify(chain: Chain, timestamp_ms: int,
            now: int = INSIDE) -> object:  # fmt: skip
    return NitroVerifier(root=chain[0]).verify(
        Evidence(EvidenceType.NITRO, _document(chain, timestamp_ms)), now=now
    )


def test_the_real_document_is_dated_inside_its_certificate(vectors_dir: Path) -> None:
    entry = next(e for e in load_vectors(vectors_dir) if e["id"] == "nitro-nitrite-attestation")
    claims = NitroVerifier().verify(evidence_for(vectors_dir, entry), now=entry["verify_at"])
    assert abs(claims.extra["timestamp_ms"] / 1000 - entry["verify_at"]) < 1


def test_a_document_dated_inside_the_validity_verifies(chain: Chain) -> None:
    assert _verify(chain, INSIDE * 1000 - 5000) is not None


@pytest.mark.parametrize(
    "when",
    [LEAF_FROM - datetime.timedelta(seconds=1), LEAF_TO + datetime.timedelta(seconds=1),
     datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)],
    ids=["before", "after", "epoch"],
)  # fmt: skip
def test_a_document_dated_outside_its_certificate_is_refused(chain: Chain, when: datetime.datetime) -> None:
    with pytest.raises(AttestationError) as caught:
        _verify(chain, int(when.timestamp() * 1000))
    assert caught.value.code == "ATTEST_EXPIRED"
    assert "outside its certificate's validity" in caught.value.message


def test_a_document_dated_after_now_is_refused(chain: Chain) -> None:
    _verify(chain, (INSIDE + CLOCK_SKEW) * 1000)  # within the tolerated skew
    with pytest.raises(AttestationError) as caught:
        _verify(chain, (INSIDE + CLOCK_SKEW + 1) * 1000)
    assert caught.value.code == "ATTEST_EXPIRED"


def test_a_negative_timestamp_is_malformed(chain: Chain) -> None:
    with pytest.raises(AttestationError) as caught:
        _verify(chain, -1)
    assert caught.value.code == "ATTEST_MALFORMED"
