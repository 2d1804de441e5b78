"""``sealrun estimate`` in the SDK: read what a deal needs from the market and the chain.

:func:`estimate` finds the cheapest open app and TEE workerpool orders on the market (and the
dataset's, or the grant's terms), reads the chain's gas price and the workerpool's recent task
times (from its last deals in the deal index and each task's closing event), and hands them
to the pure :func:`sealrun.core.estimates.estimate_deal`. Nothing is signed or sent: no wallet.

Error codes: ``ORDER_MISSING`` (:class:`~sealrun.errors.OrderError`), the grant codes of
:func:`sealrun.requester.datasets.find_grant`, ``CONFIG_ESTIMATE_INVALID``; ChainError.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from sealrun.core.estimates import Estimate, estimate_deal
from sealrun.core.orders import AppOrder, DatasetOrder, WorkerpoolOrder, grant_order, is_grant_id
from sealrun.core.tasks import task_id
from sealrun.errors import OrderError
from sealrun.requester import book
from sealrun.requester.buying import TEE_TAG

if TYPE_CHECKING:
    from sealrun.adapters.chain.client import Marketplace

__all__ = ["estimate", "recent_task_times"]

#: How many of the pool's most recent tasks the time estimate reads.
HISTORY = 20


def _timestamp(market: Marketplace, number: int) -> int:
    return int(market.rpc.w3.eth.get_block(number)["timestamp"])


def recent_task_times(market: Marketplace, workerpool: str, *, limit: int = HISTORY) -> list[int]:
    """Seconds from match to completion of the pool's most recent completed tasks (newest first)."""
    from sealrun.adapters.chain.outcomes import task_outcome

    times: list[int] = []
    for deal in market.deals.deals(workerpool=workerpool, limit=limit):
        for index in range(min(deal.volume, limit)):
            outcome = task_outcome(market.hub, task_id(deal.deal_id, index), from_block=deal.block_number)
            if outcome is None or outcome.kind != "completed":
                continue
            stamp = market.rpc.run("read a block", functools.partial(_timestamp, market, outcome.block))
            times.append(max(0, stamp - deal.start_time))
            if len(times) >= limit:
                return times
    return times


def estimate(
    market: Marketplace,
    market_url: str,
    *,
    app: str,
    dataset: str | None = None,
    grant: bytes | None = None,
    workerpool: str | None = None,
    category: int | None = None,
    volume: int = 1,
) -> Estimate:
    """What a deal of ``volume`` tasks of ``app`` (on ``dataset``, or under ``grant``) costs
    and how long a task should take, from the cheapest open orders.

    Raises:
        OrderError: ``ORDER_MISSING``, the grant codes; ConfigError: ``CONFIG_ESTIMATE_INVALID``.
    """
    app_order = book.cheapest(market_url, "app", app=app)
    if not isinstance(app_order, AppOrder):
        raise OrderError(f"no open app order for {app} on the market", code="ORDER_MISSING")
    dataset_order: DatasetOrder | None = None
    if grant is not None:
        if not is_grant_id(grant):
            raise OrderError(f"0x{grant.hex()} is not a grant id", code="ORDER_GRANT_UNKNOWN")
        found = market.registry.get_grant(grant, hub=market.hub.address)
        if found is None:
            raise OrderError(f"no grant 0x{grant.hex()} on this marketplace", code="ORDER_GRANT_UNKNOWN")
        dataset_order = grant_order(found)
    elif dataset is not None:
        listed = book.cheapest(market_url, "dataset", dataset=dataset)
        if not isinstance(listed, DatasetOrder):
            raise OrderError(f"no open dataset order for {dataset} on the market", code="ORDER_MISSING")
        dataset_order = listed
    pool_order = book.cheapest(
        market_url, "workerpool", workerpool=workerpool, category=category, tag="0x" + TEE_TAG.hex()
    )
    if not isinstance(pool_order, WorkerpoolOrder):
        raise OrderError("no open TEE workerpool order on the market", code="ORDER_MISSING")
    gas_price = int(market.rpc.run("read the gas price", lambda: market.rpc.w3.eth.gas_price))
    found_category = market.hub.category(pool_order.category)
    return estimate_deal(
        app_price=app_order.appprice,
        dataset_price=0 if dataset_order is None else dataset_order.datasetprice,
        workerpool_price=pool_order.workerpoolprice,
        volume=volume,
        gas_price=gas_price,
        task_times=recent_task_times(market, pool_order.workerpool),
        max_seconds=0 if found_category is None else found_category.max_time,
        with_dataset=dataset_order is not None,
        with_grant=grant is not None,
    )
