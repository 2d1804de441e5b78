"""The market's tables (SQLAlchemy 2), all prefixed ``market_``.

Prices are stored twice: the exact decimal and a 78-digit zero-padded key, so SQLite and
PostgreSQL both sort uint256 prices correctly as text. Times are UNIX seconds. The Alembic
version table is ``market_alembic_version``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "BookOrder", "RequestNonce", "SeenEvent"]

ADDRESS = String(42)
HEX32 = String(66)


class Base(DeclarativeBase):
    """Declarative base with the market's own metadata."""

    metadata = MetaData()


class BookOrder(Base):
    """One published order and what is left of it.

    ``app``/``dataset``/``workerpool``/``requester`` hold the order's own resource or, for
    the other parties, its restriction (the zero address meaning "anyone"), so one filter
    finds every order usable with a given party.
    """

    __tablename__ = "market_orders"
    order_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    signer: Mapped[str] = mapped_column(ADDRESS)
    app: Mapped[str] = mapped_column(ADDRESS)
    dataset: Mapped[str] = mapped_column(ADDRESS)
    workerpool: Mapped[str] = mapped_column(ADDRESS)
    requester: Mapped[str] = mapped_column(ADDRESS)
    category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tag: Mapped[str] = mapped_column(HEX32)
    price: Mapped[str] = mapped_column(String(78))
    price_key: Mapped[str] = mapped_column(String(78))
    volume: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    order_json: Mapped[str] = mapped_column(Text)
    published_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (Index("ix_market_orders_book", "kind", "status", "price_key"),)


class SeenEvent(Base):
    """A chain event already applied (``OrdersMatched``/``OrderClosed``), so replays are no-ops."""

    __tablename__ = "market_seen_events"
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)


class RequestNonce(Base):
    """A signed request's nonce, kept until the request could no longer be fresh."""

    __tablename__ = "market_request_nonces"
    signer: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    nonce: Mapped[str] = mapped_column(HEX32, primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
