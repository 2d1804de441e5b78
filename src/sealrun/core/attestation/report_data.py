"""Report-data binding for the SMS protocol (SYSTEM.md §5).

The enclave binds the SMS's single-use nonce, its ephemeral public key and the task id into
the 64 bytes of report data its evidence carries::

    SHA-512(b"sealrun-sms-v1\\0" ‖ nonce ‖ sha256(ephemeral X25519 public key, 32 raw bytes) ‖ taskid)

The nonce is the only variable-length part and comes first after the domain tag; the public-key
hash and the task id are 32 bytes each, so the preimage parses one way only. The SMS recomputes
the value and compares all 64 bytes in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from sealrun.core.attestation.claims import Claims
from sealrun.core.attestation.codes import ATTEST_REPORT_DATA_MISMATCH
from sealrun.errors import AttestationError

__all__ = [
    "REPORT_DATA_DOMAIN",
    "REPORT_DATA_SIZE",
    "SESSION_REPORT_DATA_DOMAIN",
    "report_data_for",
    "session_report_data",
    "verify_report_data",
    "verify_session_report_data",
]

REPORT_DATA_DOMAIN = b"sealrun-sms-v1\0"
REPORT_DATA_SIZE = 64
_MAX_NONCE = 1024
#: Isolation mode ``session`` (decision 0080): the report data of a session's evidence.
SESSION_REPORT_DATA_DOMAIN = b"sealrun-sms-session-v1\0"
_REQUIRES_STRICT = 0x01


def report_data_for(nonce: bytes, ephemeral_public_key: bytes, task_id: bytes) -> bytes:
    """Build the 64 bytes of report data the enclave puts in its evidence.

    Args:
        nonce: the single-use nonce the SMS issued (1 to 1024 bytes).
        ephemeral_public_key: the enclave's ephemeral X25519 public key, 32 raw bytes.
        task_id: the task id, 32 bytes.

    Returns:
        ``SHA-512(domain ‖ nonce ‖ sha256(ephemeral_public_key) ‖ task_id)``, 64 bytes.

    Raises:
        AttestationError: ``ATTEST_REPORT_DATA_MISMATCH`` if an input has the wrong size (no
            report data can bind it).
    """
    for value, what in ((nonce, "nonce"), (ephemeral_public_key, "public key"), (task_id, "task id")):
        if not isinstance(value, bytes):
            raise AttestationError(f"report data: the {what} must be bytes", code=ATTEST_REPORT_DATA_MISMATCH)
    if not 1 <= len(nonce) <= _MAX_NONCE:
        raise AttestationError(
            "report data: the nonce must be 1-1024 bytes", code=ATTEST_REPORT_DATA_MISMATCH
        )
    if len(ephemeral_public_key) != 32:
        raise AttestationError(
            "report data: the ephemeral public key must be 32 raw bytes (X25519)",
            code=ATTEST_REPORT_DATA_MISMATCH,
        )
    if len(task_id) != 32:
        raise AttestationError("report data: the task id must be 32 bytes", code=ATTEST_REPORT_DATA_MISMATCH)
    digest = hashlib.sha512()
    digest.update(REPORT_DATA_DOMAIN)
    digest.update(nonce)
    digest.update(hashlib.sha256(ephemeral_public_key).digest())
    digest.update(task_id)
    return digest.digest()


def verify_report_data(
    claims: Claims, *, nonce: bytes, ephemeral_public_key: bytes, task_id: bytes
) -> Claims:
    """Check that verified claims bind this nonce, ephemeral key and task (all 64 bytes).

    Args:
        claims: claims returned by a verifier.
        nonce: the nonce the SMS issued for this attempt.
        ephemeral_public_key: the public key the secrets will be sealed to (32 raw bytes).
        task_id: the task the enclave asks secrets for (32 bytes).

    Returns:
        ``claims`` unchanged, so calls chain.

    Raises:
        AttestationError: ``ATTEST_REPORT_DATA_MISMATCH`` if the report data differs in any byte
            or is not 64 bytes long.
    """
    expected = report_data_for(nonce, ephemeral_public_key, task_id)
    actual = claims.report_data
    # compare_digest runs in time independent of where the bytes differ; the length is public.
    if len(actual) != REPORT_DATA_SIZE or not hmac.compare_digest(actual, expected):
        raise AttestationError(
            "the evidence's report data does not bind this nonce, ephemeral key and task",
            code=ATTEST_REPORT_DATA_MISMATCH,
        )
    return claims


def _address_bytes(address: str, what: str) -> bytes:
    text = address.removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(text) != 40 or len(raw) != 20:
        raise AttestationError(
            f"session report data: the {what} is not an address", code=ATTEST_REPORT_DATA_MISMATCH
        )
    return raw


def session_report_data(nonce: bytes, *, signer: str, worker: str, requires_strict: bool) -> bytes:
    """The 64 bytes of report data a session enclave binds into its evidence.

    ``SHA-512(b"sealrun-sms-session-v1\\0" ‖ nonce ‖ signer (20 B) ‖ worker (20 B) ‖ flags (1 B))``:
    the nonce is the only variable-length part, so the preimage parses one way; bit 0 of
    ``flags`` says the measured app requires ``strict`` isolation.

    Raises:
        AttestationError: ``ATTEST_REPORT_DATA_MISMATCH`` for a nonce that is not 1-1024 bytes
            or an address that is not one.
    """
    if not isinstance(nonce, bytes) or not 1 <= len(nonce) <= _MAX_NONCE:
        raise AttestationError(
            "session report data: the nonce must be 1-1024 bytes", code=ATTEST_REPORT_DATA_MISMATCH
        )
    flags = bytes([_REQUIRES_STRICT if requires_strict else 0])
    preimage = (
        SESSION_REPORT_DATA_DOMAIN
        + nonce
        + _address_bytes(signer, "signer")
        + _address_bytes(worker, "worker")
        + flags
    )
    return hashlib.sha512(preimage).digest()


def verify_session_report_data(
    claims: Claims, *, nonce: bytes, signer: str, worker: str, requires_strict: bool
) -> Claims:
    """Check (all 64 bytes, constant time) that verified claims bind this session's statement.

    Raises:
        AttestationError: ``ATTEST_REPORT_DATA_MISMATCH``.
    """
    expected = session_report_data(nonce, signer=signer, worker=worker, requires_strict=requires_strict)
    if not hmac.compare_digest(claims.report_data, expected):
        raise AttestationError(
            "the evidence's report data does not bind this nonce, session key, worker and requirement",
            code=ATTEST_REPORT_DATA_MISMATCH,
        )
    return claims
