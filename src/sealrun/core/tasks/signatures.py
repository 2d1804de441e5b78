"""EIP-191 ``personal_sign`` over a 32-byte digest, as the hub contract verifies it.

The contract checks ``ecrecover(keccak256("\\x19Ethereum Signed Message:\\n32" ‖ digest), sig)``;
these helpers produce and check exactly that: 65-byte ``r ‖ s ‖ v`` signatures with v in
{27, 28} and a low ``s`` (the hub refuses high-s signatures, so we never make or accept one).
They use libsecp256k1 (coincurve) directly, which keeps the enclave's start-up light.
"""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey

from sealrun.core.tasks.keccak import checksum_address, keccak256
from sealrun.errors import ConfigError, OrderError

__all__ = ["SECP256K1_N", "address_of", "is_canonical_signature", "recover_signer", "sign_digest"]

_PREFIX = b"\x19Ethereum Signed Message:\n32"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _message_hash(digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ConfigError("a signed digest must be 32 bytes", code="INVALID_BYTES32")
    return keccak256(_PREFIX + digest)


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """Sign a 32-byte ``digest`` with EIP-191 and return the 65-byte signature.

    Raises:
        ConfigError: if the digest is not 32 bytes or the key is invalid.
    """
    message = _message_hash(digest)
    if len(private_key) != 32:
        raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY")
    try:
        signature = PrivateKey(private_key).sign_recoverable(message, hasher=None)
    except ValueError as error:
        raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY") from error
    return signature[:64] + bytes([signature[64] + 27])


def is_canonical_signature(signature: bytes, *, recovery_ids: tuple[int, ...] = (27, 28)) -> bool:
    """Whether 65 bytes ``r ‖ s ‖ v`` have the shape every wallet produces.

    ``0 < r < n``, a low ``s`` (EIP-2: no malleable twin) and ``v`` in ``recovery_ids``.
    Recovery libraries accept far more (eth_account reads any ``v`` as an EIP-155 value and
    recovers *some* address from almost any bytes), so every verifier asks this first and
    raises its own family's error.
    """
    if len(signature) != 65:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    return signature[64] in recovery_ids and 0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2


def recover_signer(digest: bytes, signature: bytes) -> str:
    """Return the checksummed address that signed ``digest`` with EIP-191.

    Raises:
        OrderError: ``SIGNATURE_INVALID`` if the signature is malformed, high-s, or recovers nothing.
    """
    message = _message_hash(digest)
    if len(signature) != 65:
        raise OrderError("signature must be 65 bytes (r, s, v)", code="SIGNATURE_INVALID")
    if not is_canonical_signature(signature):
        raise OrderError("signature has an invalid r, s or v", code="SIGNATURE_INVALID")
    v = signature[64]
    try:
        public = PublicKey.from_signature_and_message(signature[:64] + bytes([v - 27]), message, hasher=None)
    except ValueError as error:
        raise OrderError(f"signature does not recover a signer: {error}", code="SIGNATURE_INVALID") from error
    return checksum_address(keccak256(public.format(compressed=False)[1:])[-20:])


def address_of(private_key: bytes | str) -> str:
    """Return the checksummed address of a secp256k1 private key (32 bytes or ``0x`` hex).

    Raises:
        ConfigError: ``INVALID_PRIVATE_KEY`` if it is not a valid key.
    """
    if isinstance(private_key, str):
        text = private_key[2:] if private_key.startswith(("0x", "0X")) else private_key
        try:
            private_key = bytes.fromhex(text)
        except ValueError as error:
            raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY") from error
    if len(private_key) != 32:
        raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY")
    try:
        public = PrivateKey(private_key).public_key
    except ValueError as error:
        raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY") from error
    return checksum_address(keccak256(public.format(compressed=False)[1:])[-20:])
