"""age's X25519 recipient stanza and the key derivations around the header.

Hazardous layer: raw 32-byte keys in, raw bytes out. The recipe layer
(:mod:`sealrun.core.sealing.keys`, :mod:`sealrun.core.sealing.streams`) wraps them.

Per age v1: an ephemeral X25519 share ``E``, ``shared = X25519(e, R)``,
``wrap_key = HKDF-SHA256(ikm=shared, salt=E ‖ R, info="age-encryption.org/v1/X25519")``,
and the 16-byte file key sealed with ChaCha20-Poly1305 under ``wrap_key`` and a zero nonce.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealrun.core.sealing.hazmat.header import Stanza, b64decode, b64encode

__all__ = [
    "FILE_KEY_SIZE",
    "STANZA_TYPE",
    "header_mac",
    "hkdf",
    "public_key",
    "unwrap_file_key",
    "wrap_file_key",
]

FILE_KEY_SIZE = 16
STANZA_TYPE = "X25519"
_LABEL = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 with a 32-byte output, as every age derivation uses it."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """The header's HMAC-SHA256 under ``HKDF(file_key, "", "header")``."""
    return hmac.new(hkdf(file_key, b"", b"header"), mac_input, hashlib.sha256).digest()


def public_key(secret: bytes) -> bytes:
    """The raw X25519 public key of a raw 32-byte secret scalar."""
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()


def wrap_file_key(file_key: bytes, recipient: bytes, *, rng: Callable[[int], bytes]) -> Stanza:
    """Seal ``file_key`` to the raw X25519 public key ``recipient``.

    Raises:
        ValueError: the recipient is a low-order point (the shared secret would be zero).
    """
    ephemeral = X25519PrivateKey.from_private_bytes(rng(32))
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    wrap_key = hkdf(shared, share + recipient, _LABEL)
    body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
    return Stanza(STANZA_TYPE, (b64encode(share).decode("ascii"),), body)


def unwrap_file_key(stanza: Stanza, secret: bytes) -> bytes | None:
    """Try to open an X25519 stanza with the raw secret scalar ``secret``.

    Returns:
        The 16-byte file key, or None when the stanza is not for this key (or is damaged:
        the two cannot be told apart, by design of the format).
    """
    if stanza.type != STANZA_TYPE or len(stanza.args) != 1 or len(stanza.body) != FILE_KEY_SIZE + 16:
        return None
    share = b64decode(stanza.args[0].encode("ascii"))
    if len(share) != 32:
        return None
    identity = X25519PrivateKey.from_private_bytes(secret)
    try:
        shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:  # low-order share: all-zero shared secret, refused as age does
        return None
    wrap_key = hkdf(shared, share + identity.public_key().public_bytes_raw(), _LABEL)
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, stanza.body, None)
    except InvalidTag:
        return None
