"""Connects the explorer to the chain, the scheduler and the market named by its settings."""

from __future__ import annotations

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.http.market import MarketClient
from sealrun.adapters.http.taskevents import TaskEventsClient
from sealrun.services.explorer.settings import ExplorerSettings
from sealrun.services.explorer.sources import OrderRow, PublicData

__all__ = ["connect_data"]


def connect_data(settings: ExplorerSettings) -> PublicData:
    """The public data of the deployment in ``settings`` (no wallet: reads only).

    Raises:
        ChainError: ``CHAIN_UNREACHABLE``, ``CHAIN_NO_HUB``.
    """
    market = Marketplace.connect(settings.rpc_url, hub=settings.hub, start_block=settings.start_block)
    scheduler = TaskEventsClient(settings.scheduler_url) if settings.scheduler_url else None
    book = MarketClient(settings.market_url) if settings.market_url else None

    def orderbook(kind: str) -> list[OrderRow]:
        assert book is not None
        subject_field = "app" if kind == "request" else kind
        return [
            OrderRow(
                kind=out.kind,
                order_hash=out.order_hash,
                subject=str(getattr(out.order, subject_field, "")),
                price=out.price,
                remaining=out.remaining,
                signer=out.signer,
            )
            for out in book.orderbook(kind, limit=50)
        ]

    return PublicData(market.reader, scheduler=scheduler, orderbook=orderbook if book is not None else None)
