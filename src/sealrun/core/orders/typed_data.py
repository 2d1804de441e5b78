"""EIP-712 typed data for orders: the domain, the payload a wallet signs, and the hashes.

The hashes are computed here from first principles (``keccak256(abi.encode(...))``), not
through eth-account, so the tests can check three independent implementations agree: this
module, eth-account's ``encode_typed_data`` and MetaMask's ``eth-sig-util`` (and the
contract, which keys ``consumed`` and ``presigned`` by the same digest).

Domain: ``{name: "sealrun", version: "1", chainId, verifyingContract: hub}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sealrun.core.eip712 import Eip712Domain, TypedData
from sealrun.core.orders.models import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder
from sealrun.errors import OrderError

if TYPE_CHECKING:
    from collections.abc import Sequence


# eth-abi and eth-utils cost half a CPU second to import; they load on the first hash, so
# commands that only show help or read order files never pay for them.
def keccak(primitive: bytes | None = None, *, text: str | None = None) -> bytes:
    from eth_utils import keccak as _keccak

    return bytes(_keccak(primitive, text=text))


def abi_encode(kinds: Sequence[str], values: Sequence[Any]) -> bytes:
    from eth_abi import encode

    return encode(kinds, values)


__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "Domain",
    "order_hash",
    "struct_hash",
    "type_string",
    "typed_data",
]

DOMAIN_NAME = "sealrun"
DOMAIN_VERSION = "1"
_DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain of one hub on one chain.

    Raises:
        OrderError: ``ORDER_DOMAIN_INVALID`` for a bad chain id or hub address.
    """

    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int) or self.chain_id <= 0:
            raise OrderError(
                f"chain id must be a positive integer: {self.chain_id!r}", code="ORDER_DOMAIN_INVALID"
            )
        from eth_utils import is_address, to_checksum_address

        if not isinstance(self.verifying_contract, str) or not is_address(self.verifying_contract):
            raise OrderError(
                f"hub address is not an address: {self.verifying_contract!r}", code="ORDER_DOMAIN_INVALID"
            )
        object.__setattr__(self, "verifying_contract", to_checksum_address(self.verifying_contract))

    def message(self) -> Eip712Domain:
        """Return the domain as it appears in eth_signTypedData_v4's payload."""
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    def separator(self) -> bytes:
        """Return the EIP-712 domain separator (what the hub's ``domainSeparator()`` returns)."""
        typehash = keccak(text=_type_string("EIP712Domain", _DOMAIN_FIELDS))
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    typehash,
                    keccak(text=DOMAIN_NAME),
                    keccak(text=DOMAIN_VERSION),
                    self.chain_id,
                    self.verifying_contract,
                ],
            )
        )


def _type_string(name: str, fields: tuple[tuple[str, str], ...]) -> str:
    return f"{name}(" + ",".join(f"{kind} {field}" for field, kind in fields) + ")"


def type_string(order_type: type[AppOrder | DatasetOrder | WorkerpoolOrder | RequestOrder]) -> str:
    """Return the EIP-712 type string of an order type, e.g. ``AppOrder(address app,...)``."""
    return _type_string(order_type.TYPE_NAME, order_type.EIP712_FIELDS)


def struct_hash(order: Order) -> bytes:
    """Return ``hashStruct(order)``: keccak256 of the type hash and the encoded fields."""
    kinds = ["bytes32"]
    values: list[Any] = [keccak(text=type_string(type(order)))]
    for name, kind in order.EIP712_FIELDS:
        value = getattr(order, name)
        if kind == "string":
            kinds.append("bytes32")
            values.append(keccak(text=value))
        else:
            kinds.append(kind)
            values.append(value)
    return keccak(abi_encode(kinds, values))


def order_hash(order: Order, domain: Domain) -> bytes:
    """Return the EIP-712 digest of ``order``: what its signer signs and the hub's order key."""
    return keccak(b"\x19\x01" + domain.separator() + struct_hash(order))


def typed_data(order: Order, domain: Domain) -> TypedData[dict[str, str]]:
    """Return the full ``eth_signTypedData_v4`` payload for ``order`` (JSON-serialisable).

    Pass it to a wallet (MetaMask, ``cast wallet sign --data``) or to
    ``eth_account.messages.encode_typed_data(full_message=...)``.
    """
    order_type = type(order)
    return {
        "types": {
            "EIP712Domain": [{"name": field, "type": kind} for field, kind in _DOMAIN_FIELDS],
            order_type.TYPE_NAME: [{"name": field, "type": kind} for field, kind in order_type.EIP712_FIELDS],
        },
        "primaryType": order_type.TYPE_NAME,
        "domain": domain.message(),
        "message": order.message(),
    }
