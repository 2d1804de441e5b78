"""The market's JSON bodies."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sealrun.services.market.models import BookOrder

__all__ = ["OrderKind", "OrderOut", "OrderPage", "PublishIn", "StatusOut"]

OrderKind = Literal["app", "dataset", "workerpool", "request"]


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
    order: dict[str, Any]

    @classmethod
    def of(cls, row: BookOrder) -> OrderOut:
        """Render a stored order."""
        return cls(
            order_hash=row.order_hash,
            kind=row.kind,
            signer=row.signer,
            status=row.status,
            price=row.price,
            volume=row.volume,
            remaining=row.remaining,
            category=row.category,
            tag=row.tag,
            published_at=row.published_at,
            expires_at=row.expires_at,
            order=json.loads(row.order_json),
        )


class OrderPage(BaseModel):
    """A page of the book, cheapest first."""

    orders: list[OrderOut]
    count: int


class StatusOut(BaseModel):
    """Health and the deployment served."""

    status: str
    chain_id: int
    hub: str
