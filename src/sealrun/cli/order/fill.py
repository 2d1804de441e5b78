"""``sealrun order fill``: match signed orders into a deal, given by file, by hash (looked up in
``signed-orders.json``, else on the market) or by default from ``signed-orders.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sealrun.api.ids import order_hash_hex
from sealrun.cli.order.group import FILL_APP, FILL_DATASET, FILL_POOL, FILL_REQUEST, order_app
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.secretprompts import require_request_secrets
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
)
from sealrun.core.orders import (
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    order_from_json,
)
from sealrun.core.orders.tags import tag_bits
from sealrun.errors import OrderError
from sealrun.requester.orderfiles import KINDS, TYPES, load_kind, order_files, read_orders_file
from sealrun.requester.params import request_secret_names

if TYPE_CHECKING:
    from sealrun.adapters.chain.client import Marketplace

__all__ = ["fill"]


def _resolve(
    source: str | None,
    kind: str,
    signed_path: Path,
    market: Marketplace,
    book: Callable[[str, str], Order] | None = None,
) -> Order | None:
    """An order from a JSON file, from its hash in the signed file or on the market (``book``),
    or the signed file's entry."""
    if source is None:
        data = read_orders_file(signed_path)
        return load_kind(data, kind, signed_path) if KINDS[kind] in data else None
    if source.startswith("0x") and len(source) == 66:
        for raw in read_orders_file(signed_path).values():
            order = order_from_json(raw)
            if isinstance(order, TYPES[kind]) and order_hash_hex(market.order_hash(order)) == source.lower():
                return order
        if book is not None:
            # Not ours: an order published on the market (`sealrun orderbook show` lists them).
            return book(kind, source)
        raise OrderError(
            f"no signed {kind} order with hash {source} in {signed_path}", code="ORDER_NOT_FOUND"
        )
    path = Path(source)
    if not path.is_file():
        raise OrderError(f"{source} is neither an order file nor a 0x order hash", code="ORDER_NOT_FOUND")
    data = read_orders_file(path)
    if "type" not in data:
        return load_kind(data, kind, path)
    order = order_from_json(data)
    if not isinstance(order, TYPES[kind]):
        raise OrderError(
            f"{path} holds a {type(order).__name__}, not a {kind} order", code="ORDER_JSON_INVALID"
        )
    return order


def _name_stale_order(
    error: OrderError, found: dict[str, Order | None], *, given: dict[str, str | None], path: Path
) -> OrderError:
    """Name the order from ``signed-orders.json`` that the chain refuses, and the way past it.

    A signed file outlives the chain state it was signed for (a devnet reset, a re-registered
    dataset): the user did not choose that order, so the message says where it came from and
    which flag skips or replaces it.
    """
    for kind in ("dataset", "app", "workerpool", "request"):
        order = found[kind]
        if kind.upper() not in error.code or order is None or given[kind] is not None:
            continue
        way = f"pass --{kind} FILE|HASH for another one"
        if kind == "dataset":
            way = "pass --no-dataset to match without it, or --dataset FILE|HASH for another one"
        subject = getattr(order, "requester" if kind == "request" else kind)
        return OrderError(
            f"{error.message}. The {kind} order comes from {path} ({KINDS[kind]} of {subject}) "
            f"and the chain no longer accepts it: {way}, "
            f"or sign a fresh one with `sealrun order sign --{kind}`",
            code=error.code,
        )
    return error


@order_app.command("fill")
def fill(
    app: str | None = FILL_APP,
    dataset: str | None = FILL_DATASET,
    workerpool: str | None = FILL_POOL,
    request: str | None = FILL_REQUEST,
    no_dataset: bool = typer.Option(False, "--no-dataset", help="Match without a dataset order."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Match signed orders into a deal: checks them first, shows the total price, asks, then spends."""
    out = Output(json_out)
    session = Session.load(config, chain, wallet, password_file)
    signed_path = order_files(session.config.path.parent)[1]
    # Read and check with a read-only connection: the wallet is unlocked (seconds of scrypt)
    # only once the user has seen the price and said yes.
    market = session.market(wallet=False)

    def book(kind: str, order_hash: str) -> Order:
        from sealrun.requester.book import fetch_order

        return fetch_order(session.service_url("market"), kind, order_hash)

    found = {
        "app": _resolve(app, "app", signed_path, market, book),
        "dataset": None if no_dataset else _resolve(dataset, "dataset", signed_path, market, book),
        "workerpool": _resolve(workerpool, "workerpool", signed_path, market, book),
        "request": _resolve(request, "request", signed_path, market, book),
    }
    for kind in ("app", "workerpool", "request"):
        if found[kind] is None:
            raise OrderError(f"no {kind} order: pass --{kind} FILE|HASH or sign one", code="ORDER_MISSING")
    a, d, w, r = found["app"], found["dataset"], found["workerpool"], found["request"]
    assert isinstance(a, AppOrder)
    assert isinstance(w, WorkerpoolOrder)
    assert isinstance(r, RequestOrder)
    assert d is None or isinstance(d, DatasetOrder)
    try:
        plan = market.plan(a, d, w, r)
    except OrderError as error:
        given = {"app": app, "dataset": dataset, "workerpool": workerpool, "request": request}
        raise _name_stale_order(error, found, given=given, path=signed_path) from None
    if TagBit.TEE in tag_bits(plan.tag):
        # Before the confirmation and any transaction: the SMS must hold what the task needs.
        require_request_secrets(
            session,
            requester=r.requester,
            secrets_by_index=request_secret_names(r.params),
            dataset=d.dataset if d is not None else None,
        )
    out.info(
        f"{plan.volume} task(s) at {plan.price} each: the requester {r.requester} locks {plan.total_price}; "
        f"the pool owner stakes {plan.total_stake}"
    )
    out.confirm(f"Fill the orders for a total price of {plan.total_price}?", yes=yes)
    market = session.market(wallet=True)
    deal = market.match(a, d, w, r)
    out.result(
        {
            "deal": deal.deal_id,
            "volume": deal.volume,
            "task_price": deal.task_price,
            "total_price": deal.task_price * deal.volume,
            "tasks": [t.task_id for t in market.tasks(deal)],
        }
    )
