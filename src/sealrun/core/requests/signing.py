"""The EIP-712 ``Request`` type: hashing, signing and signer recovery.

The typed data is exactly what ``eth_signTypedData_v4`` (MetaMask, eth-account, foundry
``cast``) signs, so any wallet can authenticate to a sealrun service::

    EIP712Domain(string name, string version, uint256 chainId, address verifyingContract)
    Request(string action, bytes32 bodyHash, uint64 timestamp, bytes32 nonce)

``action`` names the operation (the services use ``"<METHOD> <path>"``, e.g.
``"PUT /v1/datasets/0xab…/key"``), ``bodyHash`` is keccak256 of the raw request body (of the
empty string when there is none), ``timestamp`` is UNIX seconds, ``nonce`` 32 random bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import keccak, to_checksum_address

from sealrun.core.eip712 import Eip712Field, TypedData
from sealrun.core.tasks.signatures import is_canonical_signature
from sealrun.errors import ConfigError, RequestError

__all__ = [
    "REQUEST_TYPES",
    "RequestDomain",
    "RequestMessage",
    "RequestSignature",
    "body_hash",
    "recover_request_signer",
    "request_typed_data",
    "sign_request",
]

MAX_ACTION_CHARS = 512
_UINT64_MAX = 2**64 - 1

REQUEST_TYPES: dict[str, list[Eip712Field]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Request": [
        {"name": "action", "type": "string"},
        {"name": "bodyHash", "type": "bytes32"},
        {"name": "timestamp", "type": "uint64"},
        {"name": "nonce", "type": "bytes32"},
    ],
}


@dataclass(frozen=True)
class RequestDomain:
    """The EIP-712 domain of a deployment: its chain id and hub contract address."""

    chain_id: int
    hub: str

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int) or self.chain_id <= 0:
            raise ConfigError("chain id must be a positive integer", code="INVALID_CHAIN_ID")
        try:
            object.__setattr__(self, "hub", to_checksum_address(self.hub))
        except (ValueError, TypeError) as error:
            raise ConfigError(f"hub is not an address: {self.hub!r}", code="INVALID_ADDRESS") from error


class RequestMessage(TypedDict):
    """The ``Request`` struct's values, as eth-account encodes them."""

    action: str
    bodyHash: bytes
    timestamp: int
    nonce: bytes


@dataclass(frozen=True)
class RequestSignature:
    """What a client sends next to its request: timestamp, nonce and the 65-byte signature."""

    timestamp: int
    nonce: bytes
    signature: bytes


def body_hash(body: bytes) -> bytes:
    """Return keccak256 of the raw request body (the ``bodyHash`` field)."""
    return keccak(body)


def request_typed_data(
    domain: RequestDomain, *, action: str, body_digest: bytes, timestamp: int, nonce: bytes
) -> TypedData[RequestMessage]:
    """Return the full ``eth_signTypedData_v4`` payload of a request.

    Raises:
        RequestError: ``REQUEST_MALFORMED`` if a field is out of range.
    """
    if not action or len(action) > MAX_ACTION_CHARS:
        raise RequestError("request action must be 1-512 characters", code="REQUEST_MALFORMED")
    if len(body_digest) != 32 or len(nonce) != 32:
        raise RequestError("body hash and nonce must be 32 bytes", code="REQUEST_MALFORMED")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= _UINT64_MAX:
        raise RequestError("timestamp must be a uint64", code="REQUEST_MALFORMED")
    return {
        "types": REQUEST_TYPES,
        "primaryType": "Request",
        "domain": {
            "name": "sealrun",
            "version": "1",
            "chainId": domain.chain_id,
            "verifyingContract": domain.hub,
        },
        "message": {"action": action, "bodyHash": body_digest, "timestamp": timestamp, "nonce": nonce},
    }


def sign_request(
    private_key: bytes, domain: RequestDomain, *, action: str, body: bytes, timestamp: int, nonce: bytes
) -> RequestSignature:
    """Sign a request as its sender.

    Args:
        private_key: the sender's 32-byte secp256k1 key.
        domain: the deployment's EIP-712 domain.
        action: the operation, ``"<METHOD> <path>"`` for HTTP services.
        body: the exact request body bytes that will be sent.
        timestamp: UNIX seconds (injected: the caller owns the clock).
        nonce: 32 fresh random bytes (injected: the caller owns the randomness).

    Returns:
        The signature triple to attach to the request.

    Raises:
        ConfigError: ``INVALID_PRIVATE_KEY``; RequestError: ``REQUEST_MALFORMED``.
    """
    payload = request_typed_data(
        domain, action=action, body_digest=body_hash(body), timestamp=timestamp, nonce=nonce
    )
    # eth-account (and the BLS tables eth-keyfile builds at import: about half a CPU second) is
    # loaded on the first signature, not by every process that merely imports the client kit
    # (an enclave, once per task).
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    try:
        signed = Account.sign_message(encode_typed_data(full_message=dict(payload)), private_key=private_key)
    except (ValueError, ValidationError) as error:
        raise ConfigError("invalid private key", code="INVALID_PRIVATE_KEY") from error
    return RequestSignature(timestamp=timestamp, nonce=nonce, signature=bytes(signed.signature))


def recover_request_signer(
    domain: RequestDomain, *, action: str, body: bytes, signed: RequestSignature
) -> str:
    """Return the checksummed address that signed this request.

    Raises:
        RequestError: ``REQUEST_MALFORMED`` or ``REQUEST_SIGNATURE_INVALID``.
    """
    # Recovery alone would name *some* signer for almost any 65 bytes: only the shape wallets
    # produce (65 bytes, r and a low s in range, v 27/28 or 0/1) is recovered at all.
    if not is_canonical_signature(signed.signature, recovery_ids=(0, 1, 27, 28)):
        raise RequestError(
            "the signature is not a canonical 65-byte secp256k1 signature (r, s low, v 27/28)",
            code="REQUEST_SIGNATURE_INVALID",
        )
    payload = request_typed_data(
        domain, action=action, body_digest=body_hash(body), timestamp=signed.timestamp, nonce=signed.nonce
    )
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    try:
        address = Account.recover_message(
            encode_typed_data(full_message=dict(payload)), signature=signed.signature
        )
    except (ValueError, BadSignature, ValidationError) as error:
        raise RequestError("signature does not recover a signer", code="REQUEST_SIGNATURE_INVALID") from error
    return to_checksum_address(address)
