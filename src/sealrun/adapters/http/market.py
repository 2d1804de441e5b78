"""Client of the market (``sealrun.services.market``): publish, query and unpublish orders.

Orders travel in their wire form (:data:`sealrun.api.market.OrderWire`: the EIP-712 message
of :mod:`sealrun.core.orders` plus ``sign``, what :func:`order_wire` returns). Errors:
:class:`~sealrun.errors.ServiceError` ``MARKET_UNREACHABLE``, or the market's own code
(``ORDER_NOT_OWNER``, ...) as an :class:`~sealrun.errors.OrderError` /
:class:`~sealrun.errors.RequestError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import ClassVar

from sealrun.adapters.http.base import ServiceClient
from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.api.market import OrderOut, OrderPage, OrderWire, PublishIn, Routes, parse_order_kind
from sealrun.core.orders.codec import order_to_json
from sealrun.core.orders.models import Order
from sealrun.core.requests import RequestDomain
from sealrun.errors import OrderError, RequestError, SealrunError

__all__ = ["MarketClient", "order_wire"]


def order_wire(order: Order) -> OrderWire:
    """The wire form of a signed order (the one order codec's JSON: type, message, ``sign``)."""
    return order_to_json(order)


class MarketClient(ServiceClient):
    """Talks to one market over HTTP (see :class:`~sealrun.adapters.http.base.ServiceClient`)."""

    service: ClassVar[str] = "market"
    unreachable_code: ClassVar[str] = "MARKET_UNREACHABLE"
    families: ClassVar[dict[str, type[SealrunError]]] = {"ORDER_": OrderError, "REQUEST_": RequestError}

    def publish(
        self,
        kind: str,
        order: Mapping[str, str | int],
        *,
        chain_id: int,
        hub: str,
        expires_at: int | None = None,
    ) -> OrderOut:
        """Publish a signed order; returns the book's record of it (``order_hash``, ``remaining``...)."""
        body = PublishIn.model_construct(
            kind=parse_order_kind(kind), order=dict(order), chain_id=chain_id, hub=hub, expires_at=expires_at
        )
        return self._call(OrderOut, "POST", Routes.ORDERS, body=body)

    def order(self, order_hash: str) -> OrderOut:
        """One order by hash. Raises ``ORDER_NOT_FOUND``."""
        return self._call(OrderOut, "GET", Routes.ORDER.format(order_hash=order_hash))

    def orderbook(
        self,
        kind: str,
        *,
        category: int | None = None,
        tag: str | None = None,
        app: str | None = None,
        dataset: str | None = None,
        workerpool: str | None = None,
        requester: str | None = None,
        min_volume: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[OrderOut]:
        """Open orders of ``kind``, cheapest first, filtered (``None`` filters are left out).

        Raises:
            OrderError: ``ORDER_INVALID`` (an unknown kind, nothing sent), the market's codes.
        """
        filters = {
            "category": category, "tag": tag, "app": app, "dataset": dataset, "workerpool": workerpool,
            "requester": requester, "min_volume": min_volume, "limit": limit, "offset": offset,
        }  # fmt: skip
        params = {key: str(value) for key, value in filters.items() if value is not None}
        return self._call(
            OrderPage, "GET", Routes.ORDERBOOK.format(kind=parse_order_kind(kind)), params=params
        ).orders

    def unpublish(
        self, order_hash: str, *, key: bytes, domain: RequestDomain, clock: Callable[[], float] = time.time
    ) -> None:
        """Take an order off the book (signed by its signer's ``key``)."""
        auth = SignedRequestAuth(key, domain, clock=clock)
        self._send("DELETE", Routes.ORDER.format(order_hash=order_hash), auth=auth)
