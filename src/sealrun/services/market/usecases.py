"""What the market does: publish, unpublish, query, and follow order volume on chain.

A published order is checked before it enters the book:

1. it is for this deployment (``chain_id`` and ``hub`` as configured) — ``ORDER_WRONG_CHAIN``;
2. its fields are valid and its EIP-712 signature recovers a signer — ``ORDER_INVALID``,
   ``ORDER_SIGNATURE_INVALID``;
3. on chain, the signer owns the app/dataset/workerpool it sells (or is the requester of a
   request order) — ``ORDER_RESOURCE_UNKNOWN``, ``ORDER_NOT_OWNER`` (a forged signature
   recovers some other address and ends here too);
4. the listing has not expired and the order is still open on chain with volume left —
   ``ORDER_EXPIRED``, ``ORDER_CLOSED``, ``ORDER_CONSUMED``.

Unpublishing needs a signed request from the order's signer (``ORDER_NOT_SIGNER`` otherwise;
``ORDER_NOT_FOUND`` for an unknown hash).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from sealrun.adapters.chain.events import ChainEvent
from sealrun.api.ids import order_hash_hex
from sealrun.core.chainstate import ChainReader
from sealrun.core.orders.typed_data import Domain
from sealrun.core.requests import RequestDomain
from sealrun.errors import OrderError
from sealrun.services.market.book import OPEN, BookFilter, OrderBook
from sealrun.services.market.models import BookOrder
from sealrun.services.market.orderforms import BookEntry, read_order

__all__ = ["CLOSED_VOLUME", "MarketService", "OrderLedger"]

CLOSED_VOLUME = 2**256 - 1


class OrderLedger(Protocol):
    """The hub's per-order consumption (``consumed(hash)``; ``2**256-1`` once closed)."""

    def consumed(self, order_hash: bytes) -> int:
        """Volume of the order already matched on chain."""


class MarketService:
    """The market's use cases.

    Args:
        book: the SQL order book.
        reader: on-chain registries (who owns what).
        ledger: on-chain order consumption.
        domain: this deployment's chain id and hub.
        clock: unix time source.
    """

    def __init__(
        self,
        book: OrderBook,
        *,
        reader: ChainReader,
        ledger: OrderLedger,
        domain: RequestDomain,
        clock: Callable[[], float],
    ) -> None:
        self.book = book
        self._reader = reader
        self._ledger = ledger
        self.domain = domain
        self._clock = clock

    def publish(
        self, kind: str, order: Mapping[str, Any], *, chain_id: int, hub: str, expires_at: int | None
    ) -> BookOrder:
        """Check an order and put it in the book (idempotent). See the module docstring for codes."""
        if chain_id != self.domain.chain_id or hub.lower() != self.domain.hub.lower():
            raise OrderError(
                f"this market serves chain {self.domain.chain_id} (hub {self.domain.hub}), not {chain_id}",
                code="ORDER_WRONG_CHAIN",
            )
        now = int(self._clock())
        if expires_at is not None and expires_at <= now:
            raise OrderError("the order's listing has already expired", code="ORDER_EXPIRED")
        entry = read_order(
            kind, order, Domain(chain_id=self.domain.chain_id, verifying_contract=self.domain.hub)
        )
        self._check_owner(entry)
        consumed = self._ledger.consumed(entry.order_hash)
        if consumed == CLOSED_VOLUME:
            raise OrderError("the order was closed on chain by its signer", code="ORDER_CLOSED")
        remaining = entry.volume - consumed
        if remaining <= 0:
            raise OrderError("the order's whole volume is already consumed", code="ORDER_CONSUMED")
        return self.book.add(_row(entry, remaining=remaining, now=now, expires_at=expires_at))

    def _check_owner(self, entry: BookEntry) -> None:
        kind, address = entry.owner_of
        if kind == "request":
            owner = address
        else:
            lookup = {
                "app": self._reader.app,
                "dataset": self._reader.dataset,
                "workerpool": self._reader.workerpool,
            }
            record = lookup[kind](address)
            if record is None:
                raise OrderError(f"no {kind} is registered at {address}", code="ORDER_RESOURCE_UNKNOWN")
            owner = record.owner
        if owner.lower() != entry.signer.lower():
            raise OrderError(
                f"the order is signed by {entry.signer}, but {kind} {address} belongs to {owner}",
                code="ORDER_NOT_OWNER",
            )

    def unpublish(self, order_hash: str, *, signer: str) -> None:
        """Take an order off the book at its signer's request."""
        order = self.book.get(order_hash.lower())
        if order is None:
            raise OrderError(f"no order {order_hash} in the book", code="ORDER_NOT_FOUND")
        if order.signer.lower() != signer.lower():
            raise OrderError("only the order's signer may unpublish it", code="ORDER_NOT_SIGNER")
        self.book.unpublish(order.order_hash)

    def get(self, order_hash: str) -> BookOrder:
        """One order by hash (any status). Raises ``ORDER_NOT_FOUND``."""
        order = self.book.get(order_hash.lower())
        if order is None:
            raise OrderError(f"no order {order_hash} in the book", code="ORDER_NOT_FOUND")
        return order

    def search(self, query: BookFilter) -> list[BookOrder]:
        """Open orders matching ``query``, cheapest first."""
        return self.book.search(query, now=int(self._clock()))

    def apply_events(self, events: Iterable[ChainEvent]) -> int:
        """Apply ``OrdersMatched`` and ``OrderClosed`` events (idempotent); returns how many were new."""
        applied = 0
        for event in events:
            if event.name == "OrdersMatched":
                hashes = [
                    bytes(event.args[k]) for k in ("appHash", "datasetHash", "workerpoolHash", "requestHash")
                ]
                applied += self.book.apply_match(
                    event.tx_hash, event.log_index, event.block_number, hashes, int(event.args["volume"])
                )
            elif event.name == "OrderClosed":
                applied += self.book.apply_close(
                    event.tx_hash, event.log_index, event.block_number, bytes(event.args["orderHash"])
                )
        return applied


def _row(entry: BookEntry, *, remaining: int, now: int, expires_at: int | None) -> BookOrder:
    return BookOrder(
        order_hash=order_hash_hex(entry.order_hash),
        kind=entry.kind,
        signer=entry.signer,
        app=entry.app,
        dataset=entry.dataset,
        workerpool=entry.workerpool,
        requester=entry.requester,
        category=entry.category,
        tag="0x" + entry.tag.hex(),
        price=str(entry.price),
        price_key=f"{entry.price:078d}",
        volume=entry.volume,
        remaining=remaining,
        status=OPEN,
        order_json=json.dumps(dict(entry.order), sort_keys=True),
        published_at=now,
        expires_at=expires_at,
    )
