"""age X25519 key material: identities (secret) and recipients (public).

An :class:`Identity` is what opens sealed data (``AGE-SECRET-KEY-1…``); its
:class:`Recipient` (``age1…``) is what data is sealed to. Both parse strictly (bech32 with
the age prefixes, 32-byte keys) and raise :class:`~sealrun.errors.SealError` with code
``SEAL_BAD_KEY`` otherwise. An identity never shows its secret in ``repr``; only ``str()``
serializes it, for writing an identity file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sealrun.core.sealing.hazmat import bech32
from sealrun.core.sealing.hazmat.x25519 import public_key
from sealrun.errors import SealError

__all__ = ["Identity", "Recipient"]

_RECIPIENT_HRP = "age"
_IDENTITY_HRP = "age-secret-key-"


@dataclass(frozen=True)
class Recipient:
    """An age X25519 recipient: a public key that data can be sealed to."""

    public_bytes: bytes

    def __post_init__(self) -> None:
        if len(self.public_bytes) != 32:
            raise SealError("An X25519 recipient is 32 bytes.", code="SEAL_BAD_KEY")

    @classmethod
    def parse(cls, text: str) -> Recipient:
        """Parse an ``age1…`` recipient string.

        Raises:
            SealError: ``SEAL_BAD_KEY`` when ``text`` is not a valid X25519 recipient.
        """
        text = text.strip()
        if not text.lower().startswith("age1"):
            raise SealError("Not an age recipient: expected 'age1…'.", code="SEAL_BAD_KEY")
        if text != text.lower():
            raise SealError("An age recipient is lowercase.", code="SEAL_BAD_KEY")
        try:
            hrp, data = bech32.decode(text)
        except SealError as error:
            raise SealError(f"Not a valid age recipient: {error.message}.", code="SEAL_BAD_KEY") from None
        if hrp != _RECIPIENT_HRP or len(data) != 32:
            raise SealError("Not an age X25519 recipient.", code="SEAL_BAD_KEY")
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode(_RECIPIENT_HRP, self.public_bytes)

    def __repr__(self) -> str:
        return f"Recipient({str(self)!r})"


@dataclass(frozen=True)
class Identity:
    """An age X25519 identity: the secret key that opens data sealed to its recipient.

    Build one with :meth:`generate` or :meth:`parse`; ``str(identity)`` is the
    ``AGE-SECRET-KEY-1…`` text (secret), ``repr`` shows only the recipient.
    """

    secret_bytes: bytes = field(repr=False)
    recipient: Recipient = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret_bytes) != 32:
            raise SealError("An X25519 identity is 32 bytes.", code="SEAL_BAD_KEY")
        object.__setattr__(self, "recipient", Recipient(public_key(self.secret_bytes)))

    @classmethod
    def generate(cls, *, rng: Callable[[int], bytes] = os.urandom) -> Identity:
        """A fresh identity from 32 random bytes (``rng`` injectable for known-answer tests)."""
        return cls(rng(32))

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse an ``AGE-SECRET-KEY-1…`` string.

        Raises:
            SealError: ``SEAL_BAD_KEY`` when ``text`` is not a valid X25519 identity.
        """
        text = text.strip()
        if not text.upper().startswith("AGE-SECRET-KEY-1"):
            raise SealError("Not an age identity: expected 'AGE-SECRET-KEY-1…'.", code="SEAL_BAD_KEY")
        if text != text.upper():
            raise SealError("An age identity is uppercase.", code="SEAL_BAD_KEY")
        try:
            hrp, data = bech32.decode(text)
        except SealError:
            # The message of a bech32 failure could echo key material; keep it generic.
            raise SealError(
                "Not a valid age identity (bad encoding or checksum).", code="SEAL_BAD_KEY"
            ) from None
        if hrp != _IDENTITY_HRP or len(data) != 32:
            raise SealError("Not an age X25519 identity.", code="SEAL_BAD_KEY")
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        """The 32 raw bytes of the X25519 public key."""
        return self.recipient.public_bytes

    def __str__(self) -> str:
        return bech32.encode(_IDENTITY_HRP, self.secret_bytes).upper()

    def __repr__(self) -> str:
        return f"Identity(recipient={str(self.recipient)!r})"
