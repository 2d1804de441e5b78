"""The market: an off-chain book of signed orders, kept current from the chain.

Start it with ``python -m sealrun.services.market`` (settings: ``SEALRUN_MARKET_*``, see
:class:`MarketSettings`); ``docs/pool.md`` describes the API.
"""

from sealrun.services.market.app import create_app
from sealrun.services.market.settings import MarketSettings

__all__ = ["MarketSettings", "create_app"]
