"""Sealing the bundle to the enclave's ephemeral age X25519 recipient.

Error codes (:class:`~sealrun.errors.AttestationError`): ``ATTEST_REPORT_DATA_MISMATCH`` if
the ephemeral recipient is not an age X25519 recipient (nothing could be bound to it).
"""

from __future__ import annotations

from collections.abc import Callable

from sealrun.core.sealing import Recipient, seal_bytes
from sealrun.errors import AttestationError, SealError

__all__ = ["parse_ephemeral_recipient", "seal_to_recipient"]


def parse_ephemeral_recipient(text: str) -> Recipient:
    """Parse the enclave's ``age1…`` recipient (its raw bytes are what the report data binds)."""
    try:
        return Recipient.parse(text)
    except SealError as error:
        raise AttestationError(
            "the ephemeral recipient is not an age X25519 recipient", code="ATTEST_REPORT_DATA_MISMATCH"
        ) from error


def seal_to_recipient(plaintext: bytes, recipient: Recipient, *, random: Callable[[int], bytes]) -> bytes:
    """Seal ``plaintext`` (age v1, binary) to one X25519 recipient."""
    return seal_bytes(plaintext, [recipient], rng=random)
