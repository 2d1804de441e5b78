"""Signing orders as ``eth_signTypedData_v4`` does, and checking who signed them.

Signatures are 65 bytes ``r ‖ s ‖ v`` (v in {27, 28}) or 64 bytes EIP-2098 compact
``r ‖ (yParity << 255 | s)``; the hub accepts both, and an empty ``sign`` for an order
pre-signed on chain.

Errors: :class:`~sealrun.errors.OrderError` ``ORDER_SIGNATURE_INVALID`` (malformed or
unrecoverable signature), ``ORDER_NOT_SIGNED`` (no signature to check),
``ORDER_KEY_INVALID`` (bad private key).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, TypeVar

from sealrun.core.orders.models import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder
from sealrun.core.orders.typed_data import Domain, typed_data
from sealrun.core.tasks.signatures import SECP256K1_N
from sealrun.errors import OrderError

if TYPE_CHECKING:
    from eth_account.messages import SignableMessage

# eth-account and eth-utils are imported inside the functions that sign, hash or recover: they
# cost most of a CPU second, which `sealrun order --help` and the order models need not pay.

__all__ = [
    "SECP256K1_HALF_N",
    "from_compact",
    "recover_order_signer",
    "sign_order",
    "signable_digest",
    "signable_order",
    "to_compact",
]

_O = TypeVar("_O", AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder)
#: Signatures with ``s`` above this are malleable twins; the hub rejects them.
SECP256K1_HALF_N = SECP256K1_N // 2


def signable_order(order: Order, domain: Domain) -> SignableMessage:
    """Return eth-account's EIP-712 encoding of ``order`` (the v4 message a wallet signs)."""
    from eth_account.messages import encode_typed_data

    return encode_typed_data(full_message=dict(typed_data(order, domain)))


def signable_digest(message: SignableMessage) -> bytes:
    """Return the 32-byte digest eth-account signs for ``message`` (EIP-191 framing)."""
    from eth_utils import keccak

    return keccak(b"\x19" + message.version + message.header + message.body)


def sign_order(order: _O, private_key: bytes, domain: Domain, *, compact: bool = False) -> _O:
    """Return ``order`` with ``sign`` set to its signer's EIP-712 signature.

    Args:
        order: the order (its current ``sign`` is ignored).
        private_key: the 32-byte key of the app/dataset/pool owner or the requester.
        domain: the hub's EIP-712 domain.
        compact: produce a 64-byte EIP-2098 signature instead of 65 bytes.

    Raises:
        OrderError: ``ORDER_KEY_INVALID`` if the key is not a valid secp256k1 key.
    """
    from eth_account import Account
    from eth_keys.exceptions import ValidationError

    try:
        signed = Account.sign_message(signable_order(order, domain), private_key=private_key)
    except (ValueError, TypeError, ValidationError) as error:
        raise OrderError("invalid private key", code="ORDER_KEY_INVALID") from error
    signature = bytes(signed.signature)
    return dataclasses.replace(order, sign=to_compact(signature) if compact else signature)


def to_compact(signature: bytes) -> bytes:
    """Return the 64-byte EIP-2098 form of a 65-byte ``r ‖ s ‖ v`` signature.

    Raises:
        OrderError: ``ORDER_SIGNATURE_INVALID`` if it is not a canonical 65-byte signature.
    """
    if len(signature) != 65:
        raise OrderError("a full signature is 65 bytes", code="ORDER_SIGNATURE_INVALID")
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    parity = v - 27 if v >= 27 else v
    if parity not in (0, 1) or s > SECP256K1_HALF_N:
        raise OrderError("signature is not canonical (v or s out of range)", code="ORDER_SIGNATURE_INVALID")
    return r + ((parity << 255) | s).to_bytes(32, "big")


def from_compact(signature: bytes) -> bytes:
    """Return the 65-byte ``r ‖ s ‖ v`` form of a 64-byte EIP-2098 signature.

    Raises:
        OrderError: ``ORDER_SIGNATURE_INVALID`` if it is not 64 bytes.
    """
    if len(signature) != 64:
        raise OrderError("a compact signature is 64 bytes", code="ORDER_SIGNATURE_INVALID")
    vs = int.from_bytes(signature[32:], "big")
    s, parity = vs & ((1 << 255) - 1), vs >> 255
    return signature[:32] + s.to_bytes(32, "big") + bytes([27 + parity])


def recover_order_signer(order: Order, domain: Domain) -> str:
    """Return the checksummed address whose key produced ``order.sign`` (as the hub recovers it).

    Raises:
        OrderError: ``ORDER_NOT_SIGNED`` for an empty ``sign`` (pre-signed orders are checked
            on chain), ``ORDER_SIGNATURE_INVALID`` if it is malformed, malleable or recovers nothing.
    """
    signature = order.sign
    if not signature:
        raise OrderError(f"the {order.TYPE_NAME} carries no signature", code="ORDER_NOT_SIGNED")
    if len(signature) == 64:
        signature = from_compact(signature)
    if len(signature) != 65:
        raise OrderError("a signature is 64 or 65 bytes", code="ORDER_SIGNATURE_INVALID")
    v = signature[64]
    if v < 27:
        signature = signature[:64] + bytes([v + 27])
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        raise OrderError("signature has a high s (malleable)", code="ORDER_SIGNATURE_INVALID")
    from eth_account import Account
    from eth_keys.exceptions import BadSignature, ValidationError
    from eth_utils import to_checksum_address

    try:
        address = Account.recover_message(signable_order(order, domain), signature=signature)
    except (ValueError, BadSignature, ValidationError) as error:
        raise OrderError(
            f"signature does not recover a signer: {error}", code="ORDER_SIGNATURE_INVALID"
        ) from error
    return to_checksum_address(address)
