"""The market's wire contract: its routes and JSON bodies.

An order travels in its wire form: the EIP-712 message of :mod:`sealrun.core.orders` (uints
as decimal strings, ``bytes32`` as ``0x`` hex) plus ``sign``. A publication is read by the
market's own rules (``services/market/orderforms.py``), which answer the book's codes
(``ORDER_INVALID``...), so :class:`PublishIn` takes the order's fields as they come.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from sealrun.errors import OrderError

__all__ = [
    "ORDER_KINDS",
    "OrderKind",
    "OrderOut",
    "OrderPage",
    "OrderWire",
    "PublishIn",
    "Routes",
    "StatusOut",
    "parse_order_kind",
]

OrderKind = Literal["app", "dataset", "workerpool", "request"]
ORDER_KINDS: tuple[OrderKind, ...] = get_args(OrderKind)


def parse_order_kind(value: str) -> OrderKind:
    """Return ``value`` as an order kind of the book.

    Raises:
        OrderError: ``ORDER_INVALID`` if it names no kind.
    """
    for kind in ORDER_KINDS:
        if value == kind:
            return kind
    raise OrderError(f"{value[:40]!r} is not an order kind ({', '.join(ORDER_KINDS)})", code="ORDER_INVALID")


#: A signed order on the wire: its EIP-712 message fields and ``sign``.
OrderWire = dict[str, str | int]


class Routes:
    """The market's paths (``str.format`` templates; the service declares exactly these)."""

    ORDERS = "/v1/orders"
    ORDER = "/v1/orders/{order_hash}"
    ORDERBOOK = "/v1/orderbook/{kind}"
    STATUS = "/v1/status"


class PublishIn(BaseModel):
    """A signed order to publish, with the deployment it is signed for."""

    model_config = ConfigDict(extra="forbid")

    kind: OrderKind
    order: dict[str, Any] = Field(description="the order's fields and its `sign` (0x + 65 bytes hex)")
    # Bounded to what the chain and the book's BIGINT column hold (a larger int was a 500).
    chain_id: int = Field(gt=0, le=2**256 - 1)
    hub: str = Field(max_length=64)
    expires_at: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="unix time after which the listing ends"
    )


class OrderOut(BaseModel):
    """A published order and what is left of it."""

    order_hash: str
    kind: str
    signer: str
    status: str
    price: str
    volume: int
    remaining: int
    category: int | None
    tag: str
    published_at: int
    expires_at: int | None
    order: OrderWire


class OrderPage(BaseModel):
    """A page of the book, cheapest first."""

    orders: list[OrderOut]
    count: int


class StatusOut(BaseModel):
    """Health and the deployment served."""

    status: str
    chain_id: int
    hub: str
