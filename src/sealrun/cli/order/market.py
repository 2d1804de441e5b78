"""``sealrun order publish``/``unpublish``/``show``/``cancel``: signed orders on the market's
book (:mod:`sealrun.requester.book`) and on chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sealrun.api.ids import order_hash_hex
from sealrun.cli.order.group import FILE, order_app, order_hash_argument, selected_kinds
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
)
from sealrun.core.orders import Order, order_from_json, order_to_json
from sealrun.errors import OrderError, WalletError
from sealrun.requester.orderfiles import KINDS, load_kind, order_files, read_orders_file

if TYPE_CHECKING:
    from sealrun.adapters.chain.client import Marketplace

__all__ = ["cancel", "publish", "show", "unpublish"]


def _describe(market: Marketplace, order: Order) -> dict[str, Any]:
    digest = market.order_hash(order)
    consumed = market.hub.consumed(digest)
    return {
        **order_to_json(order),
        "hash": digest,
        "consumed": "closed" if consumed == 2**256 - 1 else consumed,
        "remaining": market.remaining(order),
        "presigned_by": market.hub.presigned_by(digest),
    }


@order_app.command("publish")
def publish(
    app: bool = typer.Option(False, "--app"),
    dataset: bool = typer.Option(False, "--dataset"),
    workerpool: bool = typer.Option(False, "--workerpool"),
    request: bool = typer.Option(False, "--request"),
    file: Path | None = FILE,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Publish signed orders (from signed-orders.json) on the market's order book."""
    from sealrun.requester import book

    out = Output(json_out)
    session = Session.load(config, chain)
    path = file or order_files(session.config.path.parent)[1]
    data = read_orders_file(path)
    orders = {kind: load_kind(data, kind, path) for kind in selected_kinds(app, dataset, workerpool, request)}
    market = session.market(wallet=False)
    hub, _ = session.profile.deployed()
    url = session.service_url("market")
    published = {}
    for kind, order in orders.items():
        record = book.publish(url, kind, order, chain_id=market.rpc.chain_id, hub=hub)
        digest = order_hash_hex(market.order_hash(order))
        published[KINDS[kind]] = {"hash": digest, "remaining": record.remaining}
    out.result({"published": published})


@order_app.command("unpublish")
def unpublish(
    order_hash: str = typer.Argument(..., help="The order's hash (0x + 64 hex)."),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Take an order off the market's book (a signed request: only its signer may)."""
    from sealrun.core.requests import RequestDomain
    from sealrun.requester import book

    out = Output(json_out)
    digest = order_hash_argument(order_hash)
    session = Session.load(config, chain, wallet, password_file)
    market = session.market(wallet=True)
    account = market.sender.account if market.sender is not None else None
    if account is None:
        raise WalletError("no wallet is unlocked", code="WALLET_REQUIRED")
    hub, _ = session.profile.deployed()
    domain = RequestDomain(chain_id=market.rpc.chain_id, hub=hub)
    book.unpublish(session.service_url("market"), digest, key=bytes(account.key), domain=domain)
    out.result({"unpublished": digest})


@order_app.command("show")
def show(
    order_hash: str | None = typer.Argument(None, help="An order's hash: read it from the market."),
    file: Path | None = FILE,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one order of the market by hash, or the signed orders of signed-orders.json with their
    hash and on-chain state (consumed, remaining, closed)."""
    from sealrun.requester.book import order_record

    out = Output(json_out)
    session = Session.load(config, chain)
    if order_hash is not None:
        out.result(order_record(session.service_url("market"), order_hash_argument(order_hash)).model_dump())
        return
    path = file or order_files(session.config.path.parent)[1]
    data = read_orders_file(path)
    if not data:
        raise OrderError(f"no orders in {path}: run `sealrun order sign` first", code="ORDER_MISSING")
    market = session.market(wallet=False)
    out.result({key: _describe(market, order_from_json(raw)) for key, raw in sorted(data.items())})


@order_app.command("cancel")
def cancel(
    app: bool = typer.Option(False, "--app"),
    dataset: bool = typer.Option(False, "--dataset"),
    workerpool: bool = typer.Option(False, "--workerpool"),
    request: bool = typer.Option(False, "--request"),
    file: Path | None = FILE,
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Close signed orders on chain for good (only their signer may)."""
    out = Output(json_out)
    session = Session.load(config, chain, wallet, password_file)
    path = file or order_files(session.config.path.parent)[1]
    data = read_orders_file(path)
    orders = {kind: load_kind(data, kind, path) for kind in selected_kinds(app, dataset, workerpool, request)}
    market = session.market_after(
        lambda _address: out.confirm(
            f"Close {', '.join(KINDS[k] for k in orders)} for good (costs gas)?", yes=yes
        )
    )
    closed = {}
    for kind, order in orders.items():
        market.hub.manage_order(kind, order, close=True)
        closed[KINDS[kind]] = market.order_hash(order)
    out.result({"closed": closed})
