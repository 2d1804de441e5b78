"""Keccak-256 and Ethereum addresses, without loading eth-utils or eth-account.

The enclave starts a fresh process per task and signs once; importing eth-account and
eth-utils there costs about two seconds of start-up on a small machine, more than the rest
of a small task. These few primitives (keccak over pycryptodome, EIP-55 checksums, address
parsing) are all the task formats need, so the trusted code path stays light.
"""

from __future__ import annotations

from sealrun.errors import ConfigError

__all__ = ["canonical_address", "checksum_address", "keccak256"]

_HEX = frozenset("0123456789abcdefABCDEF")


def keccak256(data: bytes) -> bytes:
    """Return the Keccak-256 digest (Ethereum's, not SHA3-256) of ``data``."""
    # pycryptodome loads cffi and parses C headers (~0.1 CPU s): only callers that hash pay it.
    from Crypto.Hash import keccak as _keccak

    return _keccak.new(digest_bits=256, data=data).digest()


def canonical_address(value: str | bytes, what: str = "address") -> bytes:
    """Parse a 20-byte address given as raw bytes or ``0x`` + 40 hex digits.

    Raises:
        ConfigError: ``INVALID_ADDRESS`` if it is neither.
    """
    if isinstance(value, bytes | bytearray):
        if len(value) == 20:
            return bytes(value)
    elif isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X") and set(value[2:]) <= _HEX:
        return bytes.fromhex(value[2:])
    raise ConfigError(f"{what} is not an Ethereum address: {value!r}", code="INVALID_ADDRESS")


def checksum_address(address: bytes) -> str:
    """Return the EIP-55 mixed-case checksum form of a 20-byte address."""
    lower = address.hex()
    hashed = keccak256(lower.encode()).hex()
    hashed = hashed[:40]
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, hashed, strict=True))
