"""The SMS's signed release record: what it released, to which enclave, for which task.

At each release (a secrets bundle or a failure bundle) the SMS appends an audit record and
signs a **release record**: the canonical JSON (:func:`~sealrun.core.receipts.canonical_bytes`)
of :data:`RECORD_FIELDS`, with ``audit_seq``/``audit_entry_hash`` naming the audit record it
belongs to. The signature is EIP-191 over
``sha256(b"sealrun-sms-release-v1\\x00" ‖ record bytes)`` by the SMS's **release signing key**,
derived from its current master key (:func:`derive_release_key`: HKDF-SHA256, info
``sealrun-sms-release-signer-v1``), whose address the SMS publishes at ``GET /v1/health``
(``release_signer``). The enclave puts the signed record in its task receipt.

``isolation`` names the mode of the release (``strict`` or ``session``, decision 0080) and
``session`` the attested session it was made over (``0x`` + 16 bytes, ``null`` in strict).
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealrun.core.jsontypes import JsonObject, JsonValue
from sealrun.core.receipts.document import canonical_bytes
from sealrun.core.tasks.signatures import address_of, recover_signer, sign_digest
from sealrun.errors import ReceiptError, SealrunError

__all__ = [
    "RECORD_DOMAIN",
    "RECORD_FIELDS",
    "derive_release_key",
    "parse_release_record",
    "release_record_digest",
    "sign_release_record",
    "verify_release_record",
]

RECORD_DOMAIN: Final = b"sealrun-sms-release-v1\x00"
#: The fields of a release record v1 (all present; unknown values are ``null``).
RECORD_FIELDS: Final = (
    "version",
    "task_id",
    "deal_id",
    "task_index",
    "worker",
    "enclave_challenge",
    "app",
    "dataset",
    "requester",
    "workerpool",
    "tee",
    "measurement",
    "evidence_sha256",
    "event",
    "code",
    "at",
    "audit_seq",
    "audit_entry_hash",
    "isolation",
    "session",
)
_INFO: Final = b"sealrun-sms-release-signer-v1"
# The secp256k1 group order: an HKDF output at or above it (probability ~2**-128) is refused.
_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def derive_release_key(master_key: bytes) -> bytes:
    """The SMS's release signing key (secp256k1, 32 bytes) derived from its master key."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)
    if not 0 < int.from_bytes(key, "big") < _ORDER:  # pragma: no cover - probability 2**-128
        raise ReceiptError("the derived release key is out of range", code="RECEIPT_SIGNER_INVALID")
    return key


def release_record_digest(record: bytes) -> bytes:
    """``sha256(RECORD_DOMAIN ‖ record)``: what the SMS signs (EIP-191)."""
    return hashlib.sha256(RECORD_DOMAIN + record).digest()


def sign_release_record(record: JsonObject, key: bytes) -> JsonObject:
    """Sign ``record`` (exactly :data:`RECORD_FIELDS`); return ``{"record", "signature", "signer"}``."""
    if tuple(sorted(record)) != tuple(sorted(RECORD_FIELDS)):
        raise ReceiptError("a release record has exactly the v1 fields", code="RECEIPT_INVALID")
    text = canonical_bytes(record)
    signature = sign_digest(key, release_record_digest(text))
    return {"record": text.decode("ascii"), "signature": "0x" + signature.hex(), "signer": address_of(key)}


def parse_release_record(text: str) -> dict[str, JsonValue]:
    """Read a release record's JSON text (canonical, exactly the v1 fields).

    Raises:
        ReceiptError: ``RECEIPT_INVALID``.
    """
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ReceiptError("the release record is not JSON", code="RECEIPT_INVALID") from error
    if not isinstance(record, dict) or tuple(sorted(record)) != tuple(sorted(RECORD_FIELDS)):
        raise ReceiptError("the release record does not have the v1 fields", code="RECEIPT_INVALID")
    if canonical_bytes(record).decode("ascii") != text or record["version"] != 1:
        raise ReceiptError("the release record is not canonical v1", code="RECEIPT_INVALID")
    return record


def verify_release_record(signed: JsonObject) -> dict[str, JsonValue]:
    """Check the SMS's signature on a signed record; return the record.

    The caller compares ``signed["signer"]`` with the SMS key it trusts.

    Raises:
        ReceiptError: ``RECEIPT_INVALID`` (malformed) or ``RECEIPT_RELEASE_SIGNATURE`` (the
            signature does not recover the named signer).
    """
    text, signature, signer = signed.get("record"), signed.get("signature"), signed.get("signer")
    if not isinstance(text, str) or not isinstance(signature, str) or not isinstance(signer, str):
        raise ReceiptError("the signed release record is malformed", code="RECEIPT_INVALID")
    record = parse_release_record(text)
    try:
        recovered = recover_signer(release_record_digest(text.encode("ascii")), bytes.fromhex(signature[2:]))
    except (SealrunError, ValueError) as error:
        raise ReceiptError(
            "the release record's signature is invalid", code="RECEIPT_RELEASE_SIGNATURE"
        ) from error
    if recovered.lower() != signer.lower():
        raise ReceiptError("the release record is not signed by its signer", code="RECEIPT_RELEASE_SIGNATURE")
    return record
