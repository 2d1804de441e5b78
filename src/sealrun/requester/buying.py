"""Buying one confidential task: find the cheapest orders, sign a request, fill, keep what was signed.

Orders come from the market's book (:mod:`.book`) or, for ones the wallet signed itself, from
the project's ``signed-orders.json`` (:mod:`.orderfiles`).

Error codes: ``ORDER_MISSING`` (:class:`~sealrun.errors.OrderError`), and the hub's match
codes (:mod:`sealrun.core.orders.reasons`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, NotRequired, TypedDict

from sealrun.api.ids import order_hash_hex
from sealrun.core.orders import (
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    order_from_json,
    order_to_json,
)
from sealrun.errors import OrderError
from sealrun.requester import book
from sealrun.requester.connection import Connection
from sealrun.requester.orderfiles import KINDS, order_files, read_orders_file, write_orders_file

if TYPE_CHECKING:
    from sealrun.adapters.chain.models import Deal

__all__ = [
    "TEE_TAG",
    "Orders",
    "RequestParams",
    "fill",
    "find_orders",
    "price",
    "publish_order",
    "sign_request_order",
]

TEE_TAG = make_tag(TagBit.TEE)

#: The app, dataset (if any) and workerpool orders one request is matched with.
Orders = tuple[AppOrder, DatasetOrder | None, WorkerpoolOrder]


def publish_order(connection: Connection, kind: str, order: Order) -> str:
    """Publish a signed order on the market and keep it in signed-orders.json; returns its hash."""
    domain = connection.domain
    book.publish(connection.service_url("market"), kind, order, chain_id=domain.chain_id, hub=domain.hub)
    _, signed_path = order_files(connection.root)
    signed = read_orders_file(signed_path)
    signed[KINDS[kind]] = order_to_json(order)
    write_orders_file(signed_path, signed)
    return order_hash_hex(connection.market.order_hash(order))


def _local(connection: Connection, kind: str, field: str, value: str) -> Order | None:
    _, signed_path = order_files(connection.root)
    raw = read_orders_file(signed_path).get(KINDS[kind])
    if raw is None:
        return None
    order = order_from_json(raw)
    return order if str(getattr(order, field, "")).lower() == value.lower() else None


def find_orders(
    connection: Connection,
    app: str,
    dataset: str | None = None,
    workerpool: str | None = None,
    category: int | None = None,
) -> Orders:
    """The cheapest open app, dataset and TEE workerpool orders on the market (or signed locally).

    Raises:
        OrderError: ``ORDER_MISSING`` naming what has no open order.
    """
    url = connection.service_url("market")
    app_order = book.cheapest(url, "app", app=app) or _local(connection, "app", "app", app)
    if not isinstance(app_order, AppOrder):
        raise OrderError(f"no open app order for {app} on the market", code="ORDER_MISSING")
    dataset_order: DatasetOrder | None = None
    if dataset is not None:
        found = book.cheapest(url, "dataset", dataset=dataset) or _local(
            connection, "dataset", "dataset", dataset
        )
        if not isinstance(found, DatasetOrder):
            raise OrderError(f"no open dataset order for {dataset} on the market", code="ORDER_MISSING")
        dataset_order = found
    pool_order = book.cheapest(
        url, "workerpool", workerpool=workerpool, category=category, tag="0x" + TEE_TAG.hex()
    )
    if not isinstance(pool_order, WorkerpoolOrder):
        raise OrderError("no open TEE workerpool order on the market", code="ORDER_MISSING")
    return app_order, dataset_order, pool_order


def price(orders: Orders) -> int:
    """What one task of these orders costs."""
    app, dataset, pool = orders
    return app.appprice + pool.workerpoolprice + (dataset.datasetprice if dataset else 0)


class RequestParams(TypedDict):
    """A request order's ``params`` (iExec's names), JSON in the order."""

    iexec_args: str
    iexec_input_files: NotRequired[list[str]]
    iexec_secrets: NotRequired[dict[str, str]]


def sign_request_order(
    connection: Connection,
    orders: Orders,
    *,
    args: str = "",
    input_files: tuple[str, ...] = (),
    secrets_by_index: Mapping[int, str] | None = None,
    callback: str | None = None,
) -> RequestOrder:
    """Sign a request order for one task matching ``orders``, the wallet its requester and
    beneficiary; ``callback`` (a contract) receives the result at settlement (docs/contracts.md)."""
    app, dataset, pool = orders
    params: RequestParams = {"iexec_args": args}
    if input_files:
        params["iexec_input_files"] = list(input_files)
    if secrets_by_index:
        params["iexec_secrets"] = {str(k): v for k, v in sorted(secrets_by_index.items())}
    order = RequestOrder(
        app=app.app,
        appmaxprice=app.appprice,
        dataset=dataset.dataset if dataset else ZERO_ADDRESS,
        datasetmaxprice=dataset.datasetprice if dataset else 0,
        workerpool=pool.workerpool,
        workerpoolmaxprice=pool.workerpoolprice,
        requester=connection.address,
        volume=1,
        tag=TEE_TAG,
        category=pool.category,
        beneficiary=connection.address,
        callback=callback or ZERO_ADDRESS,
        params=json.dumps(params, separators=(",", ":"), sort_keys=True),
        salt=secrets.token_bytes(32),
    )
    signed = connection.market.sign(order)
    assert isinstance(signed, RequestOrder)
    return signed


def fill(connection: Connection, orders: Orders, request: RequestOrder) -> tuple[Deal, bytes, int]:
    """Deposit what the escrow lacks, match the orders; returns (deal, first task id, total price).

    Raises:
        OrderError: the orders do not match (with the values); ChainError.
    """
    app, dataset, pool = orders
    market = connection.market
    total = price(orders) * request.volume
    free = market.hub.balance(connection.address).free
    if free < total:
        market.deposit(total - free)
    market.plan(app, dataset, pool, request)  # explains a mismatch before any gas is spent
    deal = market.match(app, dataset, pool, request)
    return deal, market.tasks(deal)[0].task_id, total
