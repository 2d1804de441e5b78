"""The scheduler's outside world, built from settings: the hub's events, categories, the SMS, the market."""

from __future__ import annotations

from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.events import EventReader, SqlCheckpoint
from sealrun.adapters.db import create_database_engine
from sealrun.adapters.http.market import MarketClient
from sealrun.adapters.http.sms import SmsClient
from sealrun.core.orders.models import WorkerpoolOrder
from sealrun.core.orders.typed_data import Domain
from sealrun.core.requests import RequestDomain
from sealrun.errors import ConfigError
from sealrun.services.scheduler.app import SchedulerParts
from sealrun.services.scheduler.offers import PoolOffer
from sealrun.services.scheduler.settings import SchedulerSettings
from sealrun.services.scheduler.smslink import SmsChallenges

__all__ = ["connect_parts"]


def connect_parts(settings: SchedulerSettings) -> SchedulerParts:
    """Connect to the chain (read-only), the SMS and the market named in ``settings``.

    Raises:
        ChainError: ``CHAIN_UNREACHABLE`` or ``CHAIN_NO_HUB``.
        ConfigError: ``CONFIG_INVALID`` if the owner key does not own the workerpool.
    """
    engine = create_database_engine(settings.database_url, schema=settings.database_schema)
    market = Marketplace.connect(
        settings.rpc_url, hub=settings.hub, index=engine, start_block=settings.start_block
    )
    key = bytes.fromhex(settings.owner_key.get_secret_value().removeprefix("0x"))
    owner = Account.from_key(key).address
    pool = market.reader.workerpool(settings.workerpool)
    if pool is None or pool.owner != owner:
        raise ConfigError(
            f"the owner key ({owner}) does not own workerpool {settings.workerpool} on this chain",
            code="CONFIG_INVALID",
        )
    chain_id = market.rpc.chain_id
    events = EventReader(
        market.rpc,
        market.hub.contract,
        SqlCheckpoint(engine),
        stream=f"scheduler:{pool.address}",
        start_block=settings.start_block,
    )
    domain = RequestDomain(chain_id=chain_id, hub=settings.hub)
    challenges = SmsChallenges(
        SmsClient(settings.sms_url, domain=domain, ca_file=settings.tls_ca_file), key=key
    )
    offer = None
    if settings.market_url:
        template = WorkerpoolOrder(
            workerpool=pool.address,
            workerpoolprice=settings.order_price,
            volume=settings.order_volume,
            tag=bytes.fromhex(settings.order_tag.removeprefix("0x")).rjust(32, b"\x00"),
            category=settings.order_category,
            trust=settings.order_trust,
        )
        offer = PoolOffer(
            MarketClient(settings.market_url, ca_file=settings.tls_ca_file),
            domain=Domain(chain_id=chain_id, verifying_contract=settings.hub),
            owner_key=key,
            template=template,
        )
    return SchedulerParts(
        chain_id=chain_id, events=events, categories=market.reader, challenges=challenges, offer=offer
    )
