"""The read-only chain view the services use: :class:`HubChainReader`.

It implements :class:`sealrun.core.chainstate.ChainReader` (the SMS, scheduler and market
depend on that protocol; ``sealrun.testing`` holds an in-memory one for tests) over a
:class:`~sealrun.adapters.chain.hub.HubClient`, its
:class:`~sealrun.adapters.chain.registry.RegistryClient` and a
:class:`~sealrun.adapters.chain.deals.DealIndex`:

========================  ===================================================================
``app(address)``          owner and fingerprint of a registered app, else ``None``
``dataset(address)``      owner, URI and checksum of a registered dataset, else ``None``
``workerpool(address)``   owner of a registered workerpool, else ``None``
``deal(deal_id)``         the deal's parties, tag, params and category time, else ``None``
``task(task_id)``         deal, index, status and final deadline, else ``None``
``category(id)``          name, description and max time (beyond the protocol)
``full_deal(deal_id)``    every field of the hub's deal (:class:`~.models.Deal`)
``grant(grant_id)``       a dataset grant and the uses this hub counted, else ``None``
========================  ===================================================================

Status mapping: the hub's COMPLETED → ``COMPLETED``; FAILED (attested failure receipt) and
CLAIMED (refunded after the deadline) → ``FAILED``; both are final. The dataset order's
restrictions are enforced by ``matchOrders`` and are not stored on chain, so a deal that
exists already satisfied them: ``dataset_restrict_*`` read as the zero address ("anyone").
Every method raises :class:`~sealrun.errors.ChainError` when the chain cannot be read.
"""

from __future__ import annotations

import functools

from sealrun.adapters.chain.deals import DealIndex
from sealrun.adapters.chain.hub import HubClient
from sealrun.adapters.chain.models import Category, Deal, HubTaskStatus
from sealrun.adapters.chain.registry import RegistryClient
from sealrun.core.chainstate import (
    ZERO_ADDRESS,
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    TaskStatus,
    WorkerpoolRecord,
)
from sealrun.core.orders.grants import Grant

__all__ = ["HubChainReader"]

_STATUS = {
    HubTaskStatus.UNSET: TaskStatus.UNSET,
    HubTaskStatus.ACTIVE: TaskStatus.ACTIVE,
    HubTaskStatus.COMPLETED: TaskStatus.COMPLETED,
    HubTaskStatus.FAILED: TaskStatus.FAILED,
    HubTaskStatus.CLAIMED: TaskStatus.FAILED,
}


class HubChainReader:
    """A :class:`~sealrun.core.chainstate.ChainReader` over the hub.

    Args:
        hub: a hub client (no wallet needed).
        registry: the hub's registry client.
        deals: the deal index of that hub.
    """

    def __init__(self, hub: HubClient, registry: RegistryClient, deals: DealIndex) -> None:
        self.hub = hub
        self.registry = registry
        self.deals = deals

    def app(self, address: str) -> AppRecord | None:
        """See :class:`~sealrun.core.chainstate.ChainReader`."""
        app = self.registry.app(address)
        return (
            None
            if app is None
            else AppRecord(address=app.address, owner=app.owner, fingerprint=app.fingerprint)
        )

    def dataset(self, address: str) -> DatasetRecord | None:
        """See :class:`~sealrun.core.chainstate.ChainReader`."""
        found = self.registry.dataset(address)
        if found is None:
            return None
        return DatasetRecord(address=found.address, owner=found.owner, url=found.uri, checksum=found.checksum)

    def workerpool(self, address: str) -> WorkerpoolRecord | None:
        """See :class:`~sealrun.core.chainstate.ChainReader`."""
        pool = self.registry.workerpool(address)
        return None if pool is None else WorkerpoolRecord(address=pool.address, owner=pool.owner)

    def full_deal(self, deal_id: bytes) -> Deal | None:
        """Every field of the deal, from the index."""
        return self.deals.deal(deal_id)

    def deal(self, deal_id: bytes) -> DealRecord | None:
        """See :class:`~sealrun.core.chainstate.ChainReader`."""
        deal = self.deals.deal(deal_id)
        if deal is None:
            return None
        category = self.category(deal.category)
        return DealRecord(
            deal_id=deal.deal_id,
            app=deal.app,
            dataset=deal.dataset,
            workerpool=deal.workerpool,
            requester=deal.requester,
            beneficiary=deal.beneficiary,
            tag=deal.tag,
            params=deal.params,
            category_time=category.max_time if category is not None else 0,
            grant_id=self.deals.grant_of(deal.deal_id) if deal.dataset != ZERO_ADDRESS else None,
        )

    def task(self, task_id: bytes) -> TaskRecord | None:
        """See :class:`~sealrun.core.chainstate.ChainReader`."""
        found = self.deals.task(task_id)
        if found is None:
            return None
        deal, index = found
        status = self.hub.task_status(deal.deal_id, index)
        return TaskRecord(
            task_id=task_id,
            deal_id=deal.deal_id,
            index=index,
            status=_STATUS[status],
            final_deadline=deal.deadline,
        )

    def grant(self, grant_id: bytes) -> Grant | None:
        """See :class:`~sealrun.core.chainstate.ChainReader` (uses counted by this hub)."""
        return self.registry.get_grant(grant_id, hub=self.hub.address)

    @functools.lru_cache(maxsize=64)  # noqa: B019 (categories never change once created)
    def category(self, category_id: int) -> Category | None:
        """A category by id."""
        return self.hub.category(category_id)
