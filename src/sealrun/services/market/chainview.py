"""The market's view of the chain, built from settings: registries, order consumption, events."""

from __future__ import annotations

from dataclasses import dataclass

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.events import EventReader, SqlCheckpoint
from sealrun.adapters.db import create_database_engine
from sealrun.core.chainstate import ChainReader
from sealrun.errors import ConfigError
from sealrun.services.market.settings import MarketSettings
from sealrun.services.market.usecases import OrderLedger

__all__ = ["MarketChain", "connect_chain"]


@dataclass(frozen=True)
class MarketChain:
    """What :func:`~sealrun.services.market.app.create_app` needs from the chain."""

    chain_id: int
    reader: ChainReader
    ledger: OrderLedger
    events: EventReader


def connect_chain(settings: MarketSettings) -> MarketChain:
    """Connect read-only to the hub named in ``settings``.

    The deal index and the follower's checkpoint live in the market's database, so a
    restart resumes where it stopped.

    Raises:
        ChainError: ``CHAIN_UNREACHABLE`` or ``CHAIN_NO_HUB``.
    """
    engine = create_database_engine(settings.database_url, schema=settings.database_schema)
    market = Marketplace.connect(
        settings.rpc_url, hub=settings.hub, index=engine, start_block=settings.start_block
    )
    chain_id = market.rpc.chain_id
    if settings.chain_id is not None and settings.chain_id != chain_id:
        raise ConfigError(
            f"the node at {settings.rpc_url} is chain {chain_id}, not {settings.chain_id}",
            code="CONFIG_INVALID",
        )
    events = EventReader(
        market.rpc,
        market.hub.contract,
        SqlCheckpoint(engine),
        stream=f"market:{market.hub.address}",
        start_block=settings.start_block,
    )
    return MarketChain(chain_id=chain_id, reader=market.reader, ledger=market.hub, events=events)
