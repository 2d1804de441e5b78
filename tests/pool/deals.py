"""Filling a deal through the market, as a requester would, on a :class:`PoolWorld`."""

from __future__ import annotations

import secrets
import time
from typing import Any

from sealrun.adapters.chain.models import Deal
from sealrun.adapters.http.market import MarketClient, order_wire
from sealrun.core.orders.codec import order_from_json
from sealrun.core.orders.models import ZERO_ADDRESS, AppOrder, RequestOrder
from sealrun.core.orders.signing import sign_order
from sealrun.core.orders.typed_data import Domain
from tests.pool.world import TEE, PoolWorld

APP_PRICE = 3
POOL_PRICE = 20


def domain(world: PoolWorld) -> Domain:
    return Domain(chain_id=world.deployment.chain_id, verifying_contract=world.deployment.hub)


def wait_for_pool_order(market: MarketClient, world: PoolWorld, *, timeout: float = 60) -> dict[str, Any]:
    """The scheduler's workerpool order, once it is in the book."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        orders = market.orderbook("workerpool", workerpool=world.workerpool, category=0, tag=TEE)
        if orders:
            return orders[0]
        time.sleep(0.3)
    raise AssertionError("the scheduler never published its workerpool order")


def fill_deal(world: PoolWorld, *, volume: int, args: str = "hello") -> Deal:
    """Publish an app order, take the cheapest pool order from the market, sign a request, match."""
    with MarketClient(world.url_of("market"), ca_file=world.ca_file) as market:
        return _fill(world, market, volume=volume, args=args)


def _fill(world: PoolWorld, market: MarketClient, *, volume: int, args: str) -> Deal:
    order_domain = domain(world)
    app_order = sign_order(
        AppOrder(
            app=world.app,
            appprice=APP_PRICE,
            volume=100_000,  # several deals of a multi-host run (500 tasks and its comparisons) share it
            tag=bytes.fromhex(TEE[2:]),
            salt=secrets.token_bytes(32),
        ),
        bytes(world.developer.key),
        order_domain,
    )
    chain = {"chain_id": world.deployment.chain_id, "hub": world.deployment.hub}
    market.publish("app", order_wire(app_order), **chain)
    best_app = market.orderbook("app", app=world.app)[0]
    best_pool = wait_for_pool_order(market, world)
    request = sign_order(
        RequestOrder(
            app=world.app, appmaxprice=APP_PRICE, dataset=ZERO_ADDRESS, datasetmaxprice=0,
            workerpool=ZERO_ADDRESS, workerpoolmaxprice=POOL_PRICE, requester=world.requester.address,
            volume=volume, tag=bytes.fromhex(TEE[2:]), category=0, trust=1,
            beneficiary=world.requester.address, params=f'{{"iexec_args": "{args}"}}',
            salt=secrets.token_bytes(32),
        ),
        bytes(world.requester.key),
        order_domain,
    )  # fmt: skip
    market.publish("request", order_wire(request), **chain)
    requester = world.market_of(world.requester)
    return requester.match(
        order_from_json(best_app.order, kind="app"),
        None,
        order_from_json(best_pool.order, kind="workerpool"),
        request,
    )  # type: ignore[arg-type]
