"""age's STREAM payload: 64 KiB chunks under ChaCha20-Poly1305 with a counter nonce.

Hazardous layer. ``payload_key = HKDF-SHA256(ikm=file_key, salt=nonce16, info="payload")``;
chunk ``i`` is sealed under the 12-byte nonce ``i`` (11 bytes big-endian) ‖ ``last`` (one
byte, 1 for the final chunk). Every chunk but the last holds exactly 64 KiB of plaintext;
the last holds 1..64 KiB, or 0 bytes only when it is the sole chunk. The ``last`` flag in
the nonce is what makes truncation at a chunk boundary detectable.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sealrun.core.sealing.hazmat.x25519 import hkdf

__all__ = [
    "CHUNK_SIZE",
    "NONCE_SIZE",
    "SEALED_CHUNK_SIZE",
    "TAG_SIZE",
    "ChunkCipher",
    "InvalidTag",
]

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
_LAST = b"\x01"
_MORE = b"\x00"


class ChunkCipher:
    """Seals and opens the payload's chunks in order; keeps the counter.

    Args:
        file_key: the 16-byte file key from the header.
        nonce: the 16-byte payload nonce that follows the header.
    """

    __slots__ = ("_aead", "counter")

    def __init__(self, file_key: bytes, nonce: bytes) -> None:
        self._aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
        self.counter = 0

    def __repr__(self) -> str:
        return f"ChunkCipher(counter={self.counter})"

    def seal(self, chunk: bytes | memoryview, *, last: bool) -> bytes:
        """Seal the next chunk."""
        nonce = self.counter.to_bytes(11, "big") + (_LAST if last else _MORE)
        self.counter += 1
        return self._aead.encrypt(nonce, chunk, None)

    def open(self, chunk: bytes | memoryview, *, last: bool) -> bytes:
        """Open the next chunk; the counter advances only on success.

        Raises:
            InvalidTag: the chunk does not authenticate at this position with this flag.
        """
        nonce = self.counter.to_bytes(11, "big") + (_LAST if last else _MORE)
        plaintext = self._aead.decrypt(nonce, chunk, None)
        self.counter += 1
        return plaintext
