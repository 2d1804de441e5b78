"""Sealing the secrets bundle to the enclave's ephemeral age X25519 recipient.

The recipient was parsed and bound to the evidence's report data by the release decision
(:mod:`sealrun.core.releases.appraisal`); this only seals.
"""

from __future__ import annotations

from collections.abc import Callable

from sealrun.core.sealing import Recipient, seal_bytes

__all__ = ["seal_to_recipient"]


def seal_to_recipient(plaintext: bytes, recipient: Recipient, *, random: Callable[[int], bytes]) -> bytes:
    """Seal ``plaintext`` (age v1, binary) to one X25519 recipient."""
    return seal_bytes(plaintext, [recipient], rng=random)
