"""The order book in SQL: insert, find, filter and sort, and follow volume from chain events.

Every change runs in one transaction. Chain events are applied at most once: the event's
``(tx_hash, log_index)`` is recorded in the same transaction as its effect, so the event
reader's at-least-once delivery (a crash before its checkpoint) replays nothing twice.

Several market processes may share one PostgreSQL database (each follows the chain and
takes orders): the event's row is written first and flushed, so a second follower of the
same event waits on its primary key and, once the first commits, fails and applies
nothing; an order's row is locked (``SELECT ... FOR UPDATE``) before its volume or status
changes, so a fill and an unpublish never overwrite each other; two publications of one
order race on its primary key and the loser returns the stored one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sealrun.api.ids import order_hash_hex
from sealrun.core.chainstate import ZERO_ADDRESS
from sealrun.services.market.models import BookOrder, SeenEvent

__all__ = ["OPEN", "BookFilter", "OrderBook"]

OPEN, CLOSED, CONSUMED, UNPUBLISHED = "open", "closed", "consumed", "unpublished"


@dataclass(frozen=True)
class BookFilter:
    """A query of the book. ``None`` means "any"; party filters also match "anyone" restrictions."""

    kind: str
    category: int | None = None
    tag: bytes | None = None
    app: str | None = None
    dataset: str | None = None
    workerpool: str | None = None
    requester: str | None = None
    min_volume: int = 1
    limit: int = 100
    offset: int = 0


class OrderBook:
    """The book's SQL repository.

    Args:
        sessions: the market's session factory.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, order: BookOrder) -> BookOrder:
        """Insert an order; an order already in the book is returned as stored (idempotent)."""
        for last in (False, True):
            try:
                with self._sessions.begin() as session:
                    existing = session.get(BookOrder, order.order_hash, with_for_update=True)
                    if existing is not None:
                        if existing.status == UNPUBLISHED:
                            existing.status, existing.remaining = order.status, order.remaining
                            existing.published_at, existing.expires_at = order.published_at, order.expires_at
                        return existing
                    session.add(order)
                    return order
            except IntegrityError:
                # Another process published the same order between the read and the insert:
                # the second round finds (and returns) its row.
                if last:
                    raise
        raise AssertionError("unreachable")

    def get(self, order_hash: str) -> BookOrder | None:
        """The stored order with this hash (in any status)."""
        with self._sessions() as session:
            return session.get(BookOrder, order_hash)

    def unpublish(self, order_hash: str) -> None:
        """Take an order off the book (it stays recorded, with status ``unpublished``)."""
        with self._sessions.begin() as session:
            order = session.get(BookOrder, order_hash, with_for_update=True)
            if order is not None and order.status == OPEN:
                order.status = UNPUBLISHED

    def search(self, query: BookFilter, *, now: int) -> list[BookOrder]:
        """Open, unexpired orders matching ``query``, cheapest first, then oldest first."""
        statement = select(BookOrder).where(
            BookOrder.kind == query.kind,
            BookOrder.status == OPEN,
            BookOrder.remaining >= max(1, query.min_volume),
            or_(BookOrder.expires_at.is_(None), BookOrder.expires_at > now),
        )
        if query.category is not None:
            statement = statement.where(BookOrder.category == query.category)
        for column, value in (
            (BookOrder.app, query.app),
            (BookOrder.dataset, query.dataset),
            (BookOrder.workerpool, query.workerpool),
            (BookOrder.requester, query.requester),
        ):
            if value is not None:
                statement = statement.where(or_(column == value, column == ZERO_ADDRESS))
        statement = statement.order_by(BookOrder.price_key, BookOrder.published_at, BookOrder.order_hash)
        with self._sessions() as session:
            rows: Sequence[BookOrder] = session.scalars(statement).all()
        if query.tag is not None:
            # A tag filter asks for orders offering at least these bits; 256-bit masks are
            # checked here because neither database has a portable 256-bit AND.
            wanted = int.from_bytes(query.tag, "big")
            rows = [row for row in rows if int(row.tag, 16) & wanted == wanted]
        return list(rows[query.offset : query.offset + query.limit])

    def apply_match(
        self, tx_hash: bytes, log_index: int, block: int, hashes: Iterable[bytes], volume: int
    ) -> bool:
        """Apply an ``OrdersMatched`` event: each matched order loses ``volume``. False if already applied."""
        try:
            with self._sessions.begin() as session:
                if not self._first_time(session, tx_hash, log_index, block):
                    return False
                for digest in sorted(hashes):  # one lock order for every process: no deadlock
                    order = session.get(BookOrder, order_hash_hex(digest), with_for_update=True)
                    if order is None:
                        continue
                    order.remaining = max(0, order.remaining - volume)
                    if order.remaining == 0 and order.status == OPEN:
                        order.status = CONSUMED
                return True
        except IntegrityError:
            return False  # another market process applied this event first

    def apply_close(self, tx_hash: bytes, log_index: int, block: int, digest: bytes) -> bool:
        """Apply an ``OrderClosed`` event: the order can never match again."""
        try:
            with self._sessions.begin() as session:
                if not self._first_time(session, tx_hash, log_index, block):
                    return False
                order = session.get(BookOrder, order_hash_hex(digest), with_for_update=True)
                if order is not None:
                    order.status, order.remaining = CLOSED, 0
                return True
        except IntegrityError:
            return False  # another market process applied this event first

    @staticmethod
    def _first_time(session: Session, tx_hash: bytes, log_index: int, block: int) -> bool:
        key = ("0x" + tx_hash.hex(), log_index)
        if session.get(SeenEvent, key) is not None:
            return False
        session.add(SeenEvent(tx_hash=key[0], log_index=log_index, block_number=block))
        # Written now, not at commit: a concurrent follower of the same event blocks here
        # (on the primary key) before it touches any order, then fails when this one commits.
        session.flush()
        return True
