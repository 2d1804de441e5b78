"""EIP-191 ``personal_sign`` over a 32-byte digest, as the hub contract verifies it.

The contract checks ``ecrecover(keccak256("\\x19Ethereum Signed Message:\\n32" ‖ digest), sig)``;
these helpers produce and check exactly that (65-byte ``r ‖ s ‖ v`` signatures, v in {27, 28}).
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import to_checksum_address

from sealrun.errors import ConfigError, OrderError

__all__ = ["recover_signer", "sign_digest"]


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """Sign a 32-byte ``digest`` with EIP-191 and return the 65-byte signature.

    Raises:
        ConfigError: if the digest is not 32 bytes or the key is invalid.
    """
    if len(digest) != 32:
        raise ConfigError("a signed digest must be 32 bytes", code="INVALID_BYTES32")
    try:
        signed = Account.sign_message(encode_defunct(primitive=digest), private_key=private_key)
    except (ValueError, ValidationError) as error:
        raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY") from error
    return bytes(signed.signature)


def recover_signer(digest: bytes, signature: bytes) -> str:
    """Return the checksummed address that signed ``digest`` with EIP-191.

    Raises:
        OrderError: ``SIGNATURE_INVALID`` if the signature is malformed or recovers nothing.
    """
    if len(digest) != 32:
        raise ConfigError("a signed digest must be 32 bytes", code="INVALID_BYTES32")
    if len(signature) != 65:
        raise OrderError("signature must be 65 bytes (r, s, v)", code="SIGNATURE_INVALID")
    try:
        address = Account.recover_message(encode_defunct(primitive=digest), signature=signature)
    except (ValueError, BadSignature, ValidationError) as error:
        raise OrderError(f"signature does not recover a signer: {error}", code="SIGNATURE_INVALID") from error
    return to_checksum_address(address)
