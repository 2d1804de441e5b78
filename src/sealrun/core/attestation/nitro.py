"""AWS Nitro Enclaves attestation documents (COSE_Sign1, ES384), verified against the pinned root.

A document is ``COSE_Sign1 = [protected, unprotected, payload, signature]`` (CBOR, optionally
tag 18). The protected header must name ES384 (``{1: -35}``); the payload is a CBOR map with
``module_id``, ``timestamp``, ``digest``, ``pcrs``, ``certificate``, ``cabundle``,
``public_key``, ``user_data`` and ``nonce``. Checks, in order: the structure; ``cabundle[0]`` is
the pinned AWS Nitro Enclaves root (by fingerprint), each further bundle certificate is issued by
the one before, the leaf by the last, all valid at ``now``; the ES384 signature over the COSE
``Sig_structure`` with the leaf key; the document's ``timestamp`` (milliseconds) inside the leaf
certificate's validity and not after ``now`` (with :data:`CLOCK_SKEW` seconds of tolerance),
else ``ATTEST_EXPIRED``: AWS issues a leaf per document, valid for hours, so a document dated
outside it was not made by that certificate; debug (PCR0 all zero, as in debug-mode enclaves).

Report data: sealrun enclaves on Nitro put the 64 bytes of report data in ``user_data``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, TypedDict

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sealrun.core.attestation.certificates import PARSE_ERRORS, parse_fully
from sealrun.core.attestation.claims import TCB_UNAPPRAISED, Claims, ExtraValue, _mint_claims
from sealrun.core.attestation.codes import (
    ATTEST_DEBUG,
    ATTEST_EXPIRED,
    ATTEST_MALFORMED,
    ATTEST_SIGNATURE,
    ATTEST_TYPE_MISMATCH,
    ATTEST_UNTRUSTED_ROOT,
)
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.core.attestation.roots import AWS_NITRO_ROOT_G1, PinnedCertificate
from sealrun.errors import AttestationError

__all__ = ["CLOCK_SKEW", "NitroVerifier"]

CLOCK_SKEW = 300  # seconds a document may be dated after the verifier's now (clocks drift)

_ES384 = -35
_COSE_SIGN1_TAG = 18
_PAYLOAD_KEYS = frozenset(
    {
        "module_id",
        "timestamp",
        "digest",
        "pcrs",
        "certificate",
        "cabundle",
        "public_key",
        "user_data",
        "nonce",
    }
)


def _malformed(message: str) -> AttestationError:
    return AttestationError(f"nitro: {message}", code=ATTEST_MALFORMED)


def _decode_cbor(data: bytes, what: str) -> Any:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except Exception:  # cbor2 raises many types on hostile input; all of them mean "malformed"
        raise _malformed(f"{what} is not valid CBOR") from None
    if stream.tell() != len(data):
        raise _malformed(f"{what} has trailing bytes")
    return value


def _parse_cose(payload: bytes) -> tuple[bytes, bytes, bytes]:
    document = _decode_cbor(payload, "the document")
    if isinstance(document, cbor2.CBORTag):
        if document.tag != _COSE_SIGN1_TAG:
            raise _malformed(f"unexpected CBOR tag {document.tag}")
        document = document.value
    if not isinstance(document, list) or len(document) != 4:
        raise _malformed("not a COSE_Sign1 array of 4 items")
    protected, unprotected, body, signature = document
    if not isinstance(protected, bytes) or not isinstance(body, bytes) or not isinstance(signature, bytes):
        raise _malformed("COSE_Sign1 items have the wrong types")
    if unprotected is not None and not isinstance(unprotected, dict):
        raise _malformed("the unprotected header is not a map")
    header = _decode_cbor(protected, "the protected header")
    if not isinstance(header, dict) or header.get(1) != _ES384:
        raise _malformed("the protected header does not name ES384")
    return protected, body, signature


class _Payload(TypedDict):
    """The attestation document's payload, its fields' types checked."""

    module_id: str
    timestamp: int
    digest: str
    pcrs: dict[int, bytes]
    certificate: bytes
    cabundle: object  # checked link by link in _verify_chain
    public_key: bytes | None
    user_data: bytes | None
    nonce: bytes | None


def _parse_body(body: bytes) -> _Payload:
    fields = _decode_cbor(body, "the payload")
    if not isinstance(fields, dict) or not set(fields) >= _PAYLOAD_KEYS:
        raise _malformed("the payload lacks required fields")
    kinds: dict[str, type | tuple[type, ...]] = {
        "module_id": str,
        "timestamp": int,
        "digest": str,
        "pcrs": dict,
        "certificate": bytes,
        "public_key": (bytes, type(None)),
        "user_data": (bytes, type(None)),
        "nonce": (bytes, type(None)),
    }
    for key, kind in kinds.items():
        if not isinstance(fields[key], kind) or isinstance(fields[key], bool):
            raise _malformed(f"payload field {key!r} has the wrong type")
    if fields["timestamp"] < 0:
        raise _malformed("the timestamp is negative")
    if fields["digest"] != "SHA384":
        raise _malformed(f"unsupported PCR digest {fields['digest']!r}")
    pcrs = fields["pcrs"]
    if not pcrs or not all(
        isinstance(index, int)
        and not isinstance(index, bool)
        and 0 <= index < 32
        and isinstance(value, bytes)
        for index, value in pcrs.items()
    ):
        raise _malformed("pcrs must map indexes 0-31 to bytes")
    if 0 not in pcrs or len(pcrs[0]) not in (32, 48, 64):
        raise _malformed("PCR0 is missing or has a wrong size")
    return _Payload(
        module_id=fields["module_id"],
        timestamp=fields["timestamp"],
        digest=fields["digest"],
        pcrs=pcrs,
        certificate=fields["certificate"],
        cabundle=fields["cabundle"],
        public_key=fields["public_key"],
        user_data=fields["user_data"],
        nonce=fields["nonce"],
    )


def _load(der: object, what: str) -> x509.Certificate:
    if not isinstance(der, bytes):
        raise _malformed(f"{what} is not a DER certificate")
    try:
        certificate = x509.load_der_x509_certificate(der)
        parse_fully(certificate)
    except PARSE_ERRORS:
        raise _malformed(f"{what} does not parse") from None
    return certificate


def _check_validity(certificate: x509.Certificate, now: int, what: str) -> None:
    if not certificate.not_valid_before_utc.timestamp() <= now <= certificate.not_valid_after_utc.timestamp():
        raise AttestationError(f"nitro: the {what} is not valid at {now}", code=ATTEST_EXPIRED)


def _check_issued(certificate: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    try:
        certificate.verify_directly_issued_by(issuer)
    except ValueError:
        raise AttestationError(
            f"nitro: the {what} is not issued by the certificate before it", code=ATTEST_UNTRUSTED_ROOT
        ) from None
    except (TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise AttestationError(f"nitro: the {what} signature is invalid", code=ATTEST_SIGNATURE) from None


def _check_timestamp(timestamp_ms: int, leaf: x509.Certificate, now: int) -> None:
    seconds = timestamp_ms / 1000
    valid_from = leaf.not_valid_before_utc.timestamp()
    valid_to = leaf.not_valid_after_utc.timestamp()
    if not valid_from <= seconds <= valid_to:
        raise AttestationError(
            f"nitro: the document is dated {timestamp_ms} ms, outside its certificate's validity",
            code=ATTEST_EXPIRED,
        )
    if seconds > now + CLOCK_SKEW:
        raise AttestationError(
            f"nitro: the document is dated {timestamp_ms} ms, after the verification time {now}",
            code=ATTEST_EXPIRED,
        )


@dataclass(frozen=True)
class NitroVerifier:
    """Verifies ``nitro`` evidence: an AWS Nitro Enclaves attestation document (no collateral).

    Args:
        root: the pinned AWS Nitro Enclaves root.
        allow_debug: return claims for debug enclaves (all-zero PCR0) instead of ``ATTEST_DEBUG``.
    """

    root: PinnedCertificate = field(default=AWS_NITRO_ROOT_G1, kw_only=True)
    allow_debug: bool = field(default=False, kw_only=True)
    evidence_type: EvidenceType = field(default=EvidenceType.NITRO, init=False)

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify the document's chain and signature at ``now``; mint the claims.

        Raises:
            AttestationError: ``ATTEST_TYPE_MISMATCH``, ``ATTEST_MALFORMED``,
                ``ATTEST_UNTRUSTED_ROOT``, ``ATTEST_EXPIRED``, ``ATTEST_SIGNATURE`` or ``ATTEST_DEBUG``.
        """
        if evidence.type is not EvidenceType.NITRO:
            raise AttestationError(
                f"the nitro verifier does not take {evidence.type.value} evidence", code=ATTEST_TYPE_MISMATCH
            )
        protected, body, signature = _parse_cose(evidence.payload)
        fields = _parse_body(body)
        leaf = self._verify_chain(fields, now)
        self._verify_signature(leaf, protected, body, signature)
        _check_timestamp(fields["timestamp"], leaf, now)
        pcr0 = fields["pcrs"][0]
        debug = not any(pcr0)
        if debug and not self.allow_debug:
            raise AttestationError(
                "nitro: the enclave runs in debug mode (PCR0 is all zero)", code=ATTEST_DEBUG
            )
        extra: dict[str, ExtraValue] = {
            "module_id": fields["module_id"],
            "timestamp_ms": fields["timestamp"],
            "digest": fields["digest"],
            "public_key": fields["public_key"] or b"",
            "user_data": fields["user_data"] or b"",
            "nonce": fields["nonce"] or b"",
        }
        for index, value in sorted(fields["pcrs"].items()):
            extra[f"pcr{index}"] = value
        return _mint_claims(
            tee=EvidenceType.NITRO,
            measurement=pcr0,
            signer=None,
            product_id=None,
            svn=None,
            debug=debug,
            tcb_status=TCB_UNAPPRAISED,
            advisories=(),
            report_data=fields["user_data"] or b"",
            extra=extra,
            simulated=False,
        )

    def _verify_chain(self, fields: _Payload, now: int) -> x509.Certificate:
        bundle = fields["cabundle"]
        if not isinstance(bundle, list) or not bundle:
            raise AttestationError(
                "nitro: the document carries no CA bundle to the AWS root", code=ATTEST_UNTRUSTED_ROOT
            )
        if not isinstance(bundle[0], bytes) or not self.root.matches(bundle[0]):
            raise AttestationError(
                "nitro: the CA bundle does not start at the pinned AWS root", code=ATTEST_UNTRUSTED_ROOT
            )
        issuer = self.root.certificate
        _check_validity(issuer, now, "root certificate")
        for position, der in enumerate(bundle[1:], start=1):
            certificate = _load(der, f"CA bundle certificate {position}")
            _check_issued(certificate, issuer, f"CA bundle certificate {position}")
            _check_validity(certificate, now, f"CA bundle certificate {position}")
            issuer = certificate
        leaf = _load(fields["certificate"], "the leaf certificate")
        _check_issued(leaf, issuer, "leaf certificate")
        _check_validity(leaf, now, "leaf certificate")
        return leaf

    @staticmethod
    def _verify_signature(leaf: x509.Certificate, protected: bytes, body: bytes, signature: bytes) -> None:
        key = leaf.public_key()
        if (
            not isinstance(key, ec.EllipticCurvePublicKey)
            or key.curve.name != "secp384r1"
            or len(signature) != 96
        ):
            raise AttestationError("nitro: the document is not signed with ES384", code=ATTEST_SIGNATURE)
        to_be_signed = cbor2.dumps(["Signature1", protected, b"", body])
        der_signature = encode_dss_signature(
            int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
        )
        try:
            key.verify(der_signature, to_be_signed, ec.ECDSA(hashes.SHA384()))
        except InvalidSignature:
            raise AttestationError(
                "nitro: the document signature is invalid", code=ATTEST_SIGNATURE
            ) from None
