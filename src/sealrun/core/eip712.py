"""The shape of an ``eth_signTypedData_v4`` payload, shared by orders and signed requests.

A payload is ``{types, primaryType, domain, message}`` (EIP-712); the domain of every sealrun
type is ``{name, version, chainId, verifyingContract}``. The message's shape is the caller's:
:class:`TypedData` is generic in it.
"""

from __future__ import annotations

from typing import Generic, TypedDict, TypeVar

__all__ = ["Eip712Domain", "Eip712Field", "TypedData"]

MessageT = TypeVar("MessageT")


class Eip712Field(TypedDict):
    """One member of a struct type: ``{"name": "app", "type": "address"}``."""

    name: str
    type: str


class Eip712Domain(TypedDict):
    """The domain as the payload carries it."""

    name: str
    version: str
    chainId: int
    verifyingContract: str


class TypedData(TypedDict, Generic[MessageT]):
    """The full payload a wallet signs."""

    types: dict[str, list[Eip712Field]]
    primaryType: str
    domain: Eip712Domain
    message: MessageT
