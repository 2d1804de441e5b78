"""Secrets at rest: an AES-256-GCM envelope under a rotating master key.

Every stored secret is one envelope::

    version (1 B = 0x01) ‖ key-id length (1 B) ‖ key id (ASCII) ‖ nonce (12 B) ‖ ciphertext ‖ tag (16 B)

The associated data binds the row identity (``b"sealrun-sms-v1\\0" ‖ kind ‖ b"\\0" ‖ row id``),
so a ciphertext copied into another row does not open. The key id names the master key that
sealed it, so the key can rotate: configure the new key as current and the old one under
``previous_master_keys``, run ``python -m sealrun.services.sms rotate-master-key`` (which
re-seals every row under the current key), then drop the old key.

Error codes (:class:`~sealrun.errors.SecretError`): ``SECRET_AT_REST_CORRUPT`` (bad envelope or
tag), ``SECRET_AT_REST_KEY_UNKNOWN`` (sealed under a key that is not configured).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealrun.errors import ConfigError, SecretError

__all__ = ["ENVELOPE_VERSION", "MasterKeyring"]

ENVELOPE_VERSION = 1
_AAD_DOMAIN = b"sealrun-sms-v1\0"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class MasterKeyring:
    """The current master key and the retired ones that may still open old rows.

    Args:
        current_id: the id new envelopes are sealed under.
        keys: every usable 32-byte key by id (must include ``current_id``).
        random: the randomness source for nonces (injected for tests).
    """

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)
    random: Callable[[int], bytes] = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise ConfigError("the current master key id has no key", code="SMS_MASTER_KEY_MISSING")
        for key_id, key in self.keys.items():
            if len(key) != 32 or not 1 <= len(key_id.encode()) <= 255:
                raise ConfigError(f"master key {key_id!r} is invalid", code="SMS_MASTER_KEY_INVALID")

    @staticmethod
    def _aad(kind: str, row: str) -> bytes:
        return _AAD_DOMAIN + kind.encode() + b"\0" + row.encode()

    def seal(self, plaintext: bytes, *, kind: str, row: str) -> bytes:
        """Encrypt ``plaintext`` for the row ``(kind, row)`` under the current key."""
        key_id = self.current_id.encode()
        nonce = self.random(_NONCE_BYTES)
        body = AESGCM(self.keys[self.current_id]).encrypt(nonce, plaintext, self._aad(kind, row))
        return bytes([ENVELOPE_VERSION, len(key_id)]) + key_id + nonce + body

    def key_id_of(self, envelope: bytes) -> str:
        """The id of the key an envelope was sealed under.

        Raises:
            SecretError: ``SECRET_AT_REST_CORRUPT`` if the header is malformed.
        """
        if len(envelope) < 2 or envelope[0] != ENVELOPE_VERSION or len(envelope) < 2 + envelope[1]:
            raise SecretError("a stored secret has a malformed envelope", code="SECRET_AT_REST_CORRUPT")
        try:
            return envelope[2 : 2 + envelope[1]].decode("ascii")
        except UnicodeDecodeError as error:
            raise SecretError(
                "a stored secret has a malformed key id", code="SECRET_AT_REST_CORRUPT"
            ) from error

    def open(self, envelope: bytes, *, kind: str, row: str) -> bytes:
        """Decrypt an envelope sealed for ``(kind, row)``.

        Raises:
            SecretError: ``SECRET_AT_REST_CORRUPT`` or ``SECRET_AT_REST_KEY_UNKNOWN``.
        """
        key_id = self.key_id_of(envelope)
        key = self.keys.get(key_id)
        if key is None:
            raise SecretError(
                f"a stored secret is sealed under master key {key_id!r}, which is not configured",
                code="SECRET_AT_REST_KEY_UNKNOWN",
            )
        start = 2 + len(key_id)
        nonce, body = envelope[start : start + _NONCE_BYTES], envelope[start + _NONCE_BYTES :]
        if len(nonce) != _NONCE_BYTES or len(body) < 16:
            raise SecretError("a stored secret is truncated", code="SECRET_AT_REST_CORRUPT")
        try:
            return AESGCM(key).decrypt(nonce, body, self._aad(kind, row))
        except InvalidTag as error:
            raise SecretError(
                "a stored secret does not authenticate (tampered or moved)", code="SECRET_AT_REST_CORRUPT"
            ) from error

    def reseal(self, envelope: bytes, *, kind: str, row: str) -> bytes | None:
        """Re-seal under the current key; ``None`` if it already is (nothing to write)."""
        if self.key_id_of(envelope) == self.current_id:
            return None
        return self.seal(self.open(envelope, kind=kind, row=row), kind=kind, row=row)
