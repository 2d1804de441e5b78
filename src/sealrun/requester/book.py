"""The market's order book, as the SDK reads and writes it: every call to the market client.

Each function opens a client of the market at ``url``, makes one call and closes it; the
answers are the market's records (:class:`sealrun.api.market.OrderOut`, ``model_dump()`` is
what ``--json`` prints) or orders of :mod:`sealrun.core.orders`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealrun.core.orders import Order, order_from_json

if TYPE_CHECKING:
    from sealrun.api.market import OrderOut, OrderWire
    from sealrun.core.requests import RequestDomain

__all__ = ["browse", "cheapest", "fetch_order", "market_order", "order_record", "publish", "unpublish"]


def market_order(raw: OrderWire, kind: str) -> Order:
    """An order from the market's wire form (its EIP-712 message plus ``sign``)."""
    return order_from_json(raw, kind=kind)


def publish(url: str, kind: str, order: Order, *, chain_id: int, hub: str) -> OrderOut:
    """Publish a signed order for the hub ``hub`` on chain ``chain_id``; returns the book's record
    of it (``order_hash``, ``remaining``...)."""
    from sealrun.adapters.http.market import MarketClient, order_wire

    client = MarketClient(url)
    try:
        return client.publish(kind, order_wire(order), chain_id=chain_id, hub=hub)
    finally:
        client.close()


def order_record(url: str, order_hash: str) -> OrderOut:
    """The book's record of one order. Raises ``ORDER_NOT_FOUND``."""
    from sealrun.adapters.http.market import MarketClient

    client = MarketClient(url)
    try:
        return client.order(order_hash)
    finally:
        client.close()


def fetch_order(url: str, kind: str, order_hash: str) -> Order:
    """One published order of ``kind`` by hash. Raises ``ORDER_NOT_FOUND``."""
    return market_order(order_record(url, order_hash).order, kind)


def browse(
    url: str,
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
) -> list[OrderOut]:
    """Open orders of ``kind``, cheapest first (``None`` filters are left out)."""
    from sealrun.adapters.http.market import MarketClient

    client = MarketClient(url)
    try:
        return client.orderbook(
            kind, category=category, tag=tag, app=app, dataset=dataset, workerpool=workerpool,
            requester=requester, min_volume=min_volume, limit=limit,
        )  # fmt: skip
    finally:
        client.close()


def cheapest(
    url: str,
    kind: str,
    *,
    category: int | None = None,
    tag: str | None = None,
    app: str | None = None,
    dataset: str | None = None,
    workerpool: str | None = None,
) -> Order | None:
    """The cheapest open order of ``kind`` matching the filters, if any."""
    found = browse(
        url, kind, limit=1, category=category, tag=tag, app=app, dataset=dataset, workerpool=workerpool
    )
    return market_order(found[0].order, kind) if found else None


def unpublish(url: str, order_hash: str, *, key: bytes, domain: RequestDomain) -> None:
    """Take an order off the book (a request signed by its signer's ``key``)."""
    from sealrun.adapters.http.market import MarketClient

    client = MarketClient(url)
    try:
        client.unpublish(order_hash, key=key, domain=domain)
    finally:
        client.close()
