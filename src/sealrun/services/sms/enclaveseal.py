"""Sealing the bundle to the enclave's ephemeral age X25519 recipient.

Error codes (:class:`~sealrun.errors.AttestationError`): ``ATTEST_REPORT_DATA_MISMATCH`` if
the ephemeral recipient is not an age X25519 recipient (nothing could be bound to it).
"""

from __future__ import annotations

import pyrage

from sealrun.core.sealing.hazmat import bech32
from sealrun.errors import AttestationError, SealError

__all__ = ["recipient_public_key", "seal_to_recipient"]


def recipient_public_key(recipient: str) -> bytes:
    """The 32 raw bytes of an ``age1…`` recipient (what the report data binds)."""
    try:
        hrp, data = bech32.decode(recipient)
    except SealError as error:
        raise AttestationError(
            "the ephemeral recipient is not an age recipient", code="ATTEST_REPORT_DATA_MISMATCH"
        ) from error
    if hrp != "age" or len(data) != 32:
        raise AttestationError(
            "the ephemeral recipient is not an age recipient", code="ATTEST_REPORT_DATA_MISMATCH"
        )
    return data


def seal_to_recipient(plaintext: bytes, recipient: str) -> bytes:
    """Seal ``plaintext`` (age v1, binary) to one X25519 recipient."""
    return bytes(pyrage.encrypt(plaintext, [pyrage.x25519.Recipient.from_str(recipient)]))
