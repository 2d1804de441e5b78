"""The pool's offer on the market: a workerpool order signed from the scheduler's settings.

:meth:`PoolOffer.ensure_published` keeps one open order of the configured price, volume,
category and tag in the book: when none of this pool's orders has volume left (all
matched, closed or never published) it signs a fresh one (new salt) and publishes it.
"""

from __future__ import annotations

import logging
import secrets

from sealrun.adapters.http.market import MarketClient, order_wire
from sealrun.api.market import OrderOut
from sealrun.core.orders.models import WorkerpoolOrder
from sealrun.core.orders.signing import sign_order
from sealrun.core.orders.typed_data import Domain

__all__ = ["PoolOffer"]

log = logging.getLogger(__name__)


class PoolOffer:
    """Publishes this pool's workerpool orders.

    Args:
        market: the market client.
        domain: the hub's EIP-712 domain.
        owner_key: the workerpool owner's private key.
        template: the order to offer (its ``salt`` and ``sign`` are replaced on each publication).
    """

    def __init__(
        self, market: MarketClient, *, domain: Domain, owner_key: bytes, template: WorkerpoolOrder
    ) -> None:
        self._market = market
        self._domain = domain
        self._key = owner_key
        self.template = template

    def ensure_published(self) -> OrderOut | None:
        """Publish a fresh order if the pool has none open; returns it, or ``None`` if one is open."""
        open_orders = self._market.orderbook(
            "workerpool", workerpool=self.template.workerpool, category=self.template.category
        )
        if open_orders:
            return None
        unsigned = WorkerpoolOrder(
            workerpool=self.template.workerpool, workerpoolprice=self.template.workerpoolprice,
            volume=self.template.volume, tag=self.template.tag, category=self.template.category,
            trust=self.template.trust, apprestrict=self.template.apprestrict,
            datasetrestrict=self.template.datasetrestrict, requesterrestrict=self.template.requesterrestrict,
            salt=secrets.token_bytes(32),
        )  # fmt: skip
        signed = sign_order(unsigned, self._key, self._domain)
        published = self._market.publish(
            "workerpool",
            order_wire(signed),
            chain_id=self._domain.chain_id,
            hub=self._domain.verifying_contract,
        )
        log.info(
            "published workerpool order %s (%s x %s)",
            published.order_hash,
            signed.volume,
            signed.workerpoolprice,
        )
        return published
