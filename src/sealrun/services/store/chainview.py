"""The store's view of the chain: who owns which registered dataset (read-only)."""

from __future__ import annotations

from sealrun.adapters.chain.client import Marketplace
from sealrun.core.chainstate import ChainReader
from sealrun.errors import ConfigError
from sealrun.services.store.settings import StoreSettings

__all__ = ["connect_chain"]


def connect_chain(settings: StoreSettings) -> ChainReader:
    """Connect read-only to the hub named in ``settings`` (its registry is all the store reads).

    Raises:
        ConfigError: ``CONFIG_INVALID`` if ``rpc_url`` or ``hub`` is unset, or the node is
            another chain than ``chain_id``.
        ChainError: ``CHAIN_UNREACHABLE`` or ``CHAIN_NO_HUB``.
    """
    if settings.rpc_url is None or settings.hub is None:
        raise ConfigError("the store reads the chain only with rpc_url and hub set", code="CONFIG_INVALID")
    market = Marketplace.connect(settings.rpc_url, hub=settings.hub)
    if settings.chain_id is not None and market.rpc.chain_id != settings.chain_id:
        raise ConfigError(
            f"the node at {settings.rpc_url} is chain {market.rpc.chain_id}, not {settings.chain_id}",
            code="CONFIG_INVALID",
        )
    return market.reader
