"""The market's composition root: ``create_app`` wires the book, the chain and the follower.

Importing does nothing; :func:`create_app` migrates the database, and its lifespan runs
the chain follower (``OrdersMatched``/``OrderClosed`` → remaining volume) until shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from sealrun.adapters.chain.events import ChainEvent
from sealrun.adapters.db import SqlNonceLedger, create_database_engine, session_factory, upgrade_database
from sealrun.adapters.web import BodySizeLimit, install_problem_handlers
from sealrun.adapters.web.observability import (
    ServiceMetrics,
    chain_lag,
    database_check,
    install_observability,
    rpc_check,
)
from sealrun.core.chainstate import ChainReader
from sealrun.core.requests import RequestDomain, RequestVerifier
from sealrun.errors import SealrunError
from sealrun.services.market.book import OrderBook
from sealrun.services.market.models import RequestNonce
from sealrun.services.market.routes import router
from sealrun.services.market.settings import MarketSettings
from sealrun.services.market.usecases import MarketService, OrderLedger

__all__ = ["STATUS_BY_CODE", "EventSource", "create_app"]

log = logging.getLogger(__name__)

STATUS_BY_CODE = {
    "ORDER_NOT_FOUND": 404,
    "ORDER_NOT_SIGNER": 403,
    "ORDER_NOT_OWNER": 403,
    "ORDER_SIGNATURE_INVALID": 400,
    "ORDER_NOT_SIGNED": 400,
    "ORDER_WRONG_CHAIN": 400,
    "ORDER_EXPIRED": 409,
    "ORDER_CLOSED": 409,
    "ORDER_CONSUMED": 409,
    "ORDER_RESOURCE_UNKNOWN": 404,
}
FOLLOWED_EVENTS = ("OrdersMatched", "OrderClosed")


class EventSource(Protocol):
    """A checkpointed event stream (:class:`sealrun.adapters.chain.events.EventReader`)."""

    def poll(self, handle: Callable[[list[ChainEvent]], None], *, names: Iterable[str] | None = None) -> int:
        """Deliver new events to ``handle``, then advance the checkpoint."""


def create_app(
    settings: MarketSettings,
    *,
    chain_id: int,
    reader: ChainReader,
    ledger: OrderLedger,
    events: EventSource | None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the market application.

    Args:
        settings: the market's settings.
        chain_id: the chain the orders are signed for.
        reader: on-chain registries.
        ledger: on-chain order consumption.
        events: the hub's event stream to follow, or ``None`` to not follow (tests).
        clock: unix time source.
    """
    engine = create_database_engine(settings.database_url, schema=settings.database_schema)
    upgrade_database(
        engine, script_location="sealrun.services.market:migrations", version_table="market_alembic_version"
    )
    sessions = session_factory(engine)
    domain = RequestDomain(chain_id=chain_id, hub=settings.hub)
    service = MarketService(OrderBook(sessions), reader=reader, ledger=ledger, domain=domain, clock=clock)

    def apply(batch: list[ChainEvent]) -> None:
        service.apply_events(batch)

    async def follow() -> None:
        assert events is not None
        while True:
            try:
                await asyncio.to_thread(events.poll, apply, names=FOLLOWED_EVENTS)
            except SealrunError as error:
                log.warning("market: cannot follow the chain (%s): %s", error.code, error.message)
            await asyncio.sleep(settings.poll_interval)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(follow()) if events is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    app = FastAPI(title="sealrun market", version="1", lifespan=lifespan)
    app.state.service = service
    app.state.clock = clock
    app.state.verifier = RequestVerifier(
        domain=domain, nonces=SqlNonceLedger(sessions, RequestNonce), window=settings.request_window
    )
    install_problem_handlers(app, STATUS_BY_CODE)
    # An order is at most a few KiB (params ≤ 4 KiB).
    app.add_middleware(BodySizeLimit, limit=64 * 1024)
    app.include_router(router)
    metrics = ServiceMetrics("market")
    chain_lag(metrics, events)
    checks = {"database": database_check(engine), "chain": rpc_check(settings.rpc_url)}
    install_observability(app, metrics, checks)
    return app
