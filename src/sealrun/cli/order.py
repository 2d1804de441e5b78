"""``sealrun order``: order templates, EIP-712 signing, cancel, show and fill.

Like iExec's ``iexec.json``/``orders.json``, templates live in ``orders.json`` and signed
orders in ``signed-orders.json`` next to ``sealrun.toml``, each keyed by kind
(``apporder``, ``datasetorder``, ``workerpoolorder``, ``requestorder``) in the JSON format of
:func:`sealrun.core.orders.order_to_json`. Edit the templates (prices, volume, tag,
restrictions, params), then ``order sign``; ``order fill`` matches signed orders given by
file, by hash (looked up in ``signed-orders.json``) or by default from ``signed-orders.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer

from sealrun.api.ids import order_hash_hex, parse_order_hash
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
    parse_address,
)
from sealrun.core.orders import (
    ORDER_KINDS,
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
from sealrun.core.orders.numbers import check_request_trust, parse_uint
from sealrun.core.orders.tags import tag_bits
from sealrun.core.secretrules import check_secret_name
from sealrun.core.tasks.secretsbundle import MAX_SECRET_INDEX, is_secret_index
from sealrun.errors import ConfigError, OrderError, SecretError

if TYPE_CHECKING:
    from sealrun.adapters.chain.client import Marketplace

__all__ = [
    "check_request_params",
    "order_app",
    "order_files",
    "read_orders_file",
    "request_secret_names",
    "write_orders_file",
]

order_app = typer.Typer(name="order", help="Orders: templates, EIP-712 signatures, publish, show, fill.")

KINDS = {name: kind.file_key for name, kind in ORDER_KINDS.items()}
_TYPES = {name: kind.type for name, kind in ORDER_KINDS.items()}
_TAG_BITS = {bit.name.lower().replace("_", "-"): bit for bit in TagBit}

_APP = typer.Option(None, "--app", help="App address (an app order, or the app a --buy request runs).")
_DATASET = typer.Option(None, "--dataset", help="Dataset address.")
_WORKERPOOL = typer.Option(None, "--workerpool", help="Workerpool address.")
_FILE = typer.Option(None, "--file", help="Orders file (default: signed-orders.json beside sealrun.toml).")
_FILL_APP = typer.Option(
    None, "--app", help="App order: a JSON file or an order hash (default: signed file)."
)
_FILL_DATASET = typer.Option(
    None, "--dataset", help="Dataset order: file or hash (default: signed file, if any)."
)
_FILL_POOL = typer.Option(None, "--workerpool", help="Workerpool order: file or hash (default: signed file).")
_FILL_REQUEST = typer.Option(None, "--request", help="Request order: file or hash (default: signed file).")


def _tag(names: str) -> bytes:
    bits = []
    for name in filter(None, (n.strip().lower() for n in names.split(","))):
        if name not in _TAG_BITS:
            raise ConfigError(
                f"unknown tag bit {name!r} (known: {', '.join(_TAG_BITS)})", code="CONFIG_INVALID"
            )
        bits.append(_TAG_BITS[name])
    return make_tag(*bits)


def read_orders_file(path: Path) -> dict[str, Any]:
    """Read an orders file (templates or signed orders); a missing file is empty.

    Raises:
        OrderError: ``ORDER_JSON_INVALID`` if it is not a JSON object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise OrderError(
            f"{path} is not a valid JSON orders file: {error}", code="ORDER_JSON_INVALID"
        ) from error
    if not isinstance(data, dict):
        raise OrderError(f"{path} must hold a JSON object", code="ORDER_JSON_INVALID")
    return data


def write_orders_file(path: Path, data: dict[str, Any]) -> None:
    """Write an orders file atomically (temp file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def order_files(session: Session) -> tuple[Path, Path]:
    """Return the project's ``orders.json`` (templates) and ``signed-orders.json`` paths."""
    root = session.config.path.parent
    return root / "orders.json", root / "signed-orders.json"


def _wallet_address(session: Session) -> str:
    return session.wallet_address()


@order_app.command("init")
def init(
    app: str | None = _APP,
    dataset: str | None = _DATASET,
    workerpool: str | None = _WORKERPOOL,
    buy: bool = typer.Option(False, "--buy", help="A request order (to buy tasks of --app)."),
    price: str = typer.Option(
        "0", help="Price per task (smallest unit); for --buy, the maximum workerpool price."
    ),
    volume: str = typer.Option("1", help="How many tasks the order offers or asks for."),
    category: str = typer.Option("0", help="Category (workerpool and request orders)."),
    tag: str = typer.Option("tee", help="Tag bits, comma-separated: tee, sgx, tdx, sev-snp, nitro, gpu."),
    params: str = typer.Option(
        "",
        help='Request params, a JSON object: {"iexec_args": "...", "iexec_input_files": ["https://..."], '
        '"iexec_secrets": {"1": "name"}}.',
    ),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write order templates into orders.json (edit them, then `order sign`)."""
    out = Output(json_out)
    # Numbers are read as ASCII digits (click's int() takes "٣" and tracebacks past 4300 digits).
    price_value = parse_uint(price, name="--price")
    volume_value = parse_uint(volume, name="--volume")
    category_value = parse_uint(category, name="--category")
    check_request_params(params)
    session = Session.load(config, chain, wallet)
    templates_path, _ = order_files(session)
    tag_bytes = _tag(tag)
    made: dict[str, Order] = {}
    if buy:
        if app is None:
            raise ConfigError("--buy needs --app (the app to run)", code="USAGE")
        requester = _wallet_address(session)
        made["request"] = RequestOrder(
            app=parse_address(app, "--app"),
            appmaxprice=0,
            dataset=parse_address(dataset, "--dataset") if dataset else ZERO_ADDRESS,
            datasetmaxprice=0,
            workerpool=parse_address(workerpool, "--workerpool") if workerpool else ZERO_ADDRESS,
            workerpoolmaxprice=price_value,
            requester=requester,
            volume=volume_value,
            tag=tag_bytes,
            category=category_value,
            beneficiary=requester,
            params=params,
        )
    else:
        if app is not None:
            made["app"] = AppOrder(
                app=parse_address(app, "--app"), appprice=price_value, volume=volume_value, tag=tag_bytes
            )
        if dataset is not None:
            made["dataset"] = DatasetOrder(
                dataset=parse_address(dataset, "--dataset"),
                datasetprice=price_value,
                volume=volume_value,
                tag=tag_bytes,
            )
        if workerpool is not None:
            made["workerpool"] = WorkerpoolOrder(
                workerpool=parse_address(workerpool, "--workerpool"),
                workerpoolprice=price_value,
                volume=volume_value,
                tag=tag_bytes,
                category=category_value,
            )
    if not made:
        raise ConfigError("say which order to create: --app, --dataset, --workerpool or --buy", code="USAGE")
    data = read_orders_file(templates_path)
    data.update({KINDS[kind]: order_to_json(order) for kind, order in made.items()})
    write_orders_file(templates_path, data)
    out.result({"file": str(templates_path), "orders": {KINDS[k]: order_to_json(o) for k, o in made.items()}})


def _kinds(app: bool, dataset: bool, workerpool: bool, request: bool) -> list[str]:
    chosen = [
        k
        for k, flag in (("app", app), ("dataset", dataset), ("workerpool", workerpool), ("request", request))
        if flag
    ]
    if not chosen:
        raise ConfigError("say which order: --app, --dataset, --workerpool or --request", code="USAGE")
    return chosen


def _load_kind(data: dict[str, Any], kind: str, path: Path) -> Order:
    if KINDS[kind] not in data:
        raise OrderError(f"{path} has no {KINDS[kind]}: run `sealrun order init` first", code="ORDER_MISSING")
    order = order_from_json(data[KINDS[kind]])
    if not isinstance(order, _TYPES[kind]):
        raise OrderError(f"{path}: {KINDS[kind]} holds a {type(order).__name__}", code="ORDER_JSON_INVALID")
    return order


def check_request_params(text: str) -> None:
    """Check a request order's ``params`` the way the SMS will read them at release.

    Empty, or a JSON object whose known keys are typed: ``iexec_args`` a string,
    ``iexec_input_files`` a list of ``http(s)`` URLs, ``iexec_secrets`` an object mapping
    indexes (ASCII digits, 1 to 1000) to secret names (:mod:`sealrun.core.secretrules`).
    Other keys pass (iExec defines more).

    Raises:
        OrderError: ``ORDER_PARAMS_INVALID`` naming what is wrong.
    """
    if not text:
        return

    def invalid(why: str) -> OrderError:
        return OrderError(f"--params / params {why}", code="ORDER_PARAMS_INVALID")

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise invalid(f"is not JSON: {str(error)[:120]}") from None
    if not isinstance(data, dict):
        raise invalid("must be a JSON object")
    if not isinstance(data.get("iexec_args", ""), str):
        raise invalid("iexec_args must be a string")
    files = data.get("iexec_input_files", [])
    if not isinstance(files, list):
        raise invalid("iexec_input_files must be a list of URLs")
    for url in files:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"iexec_input_files holds {str(url)[:80]!r}, not an http(s) URL")
    secrets_by_index = data.get("iexec_secrets", {})
    if not isinstance(secrets_by_index, dict):
        raise invalid("iexec_secrets must map indexes to secret names")
    for index, name in secrets_by_index.items():
        if not is_secret_index(index):
            raise invalid(f"iexec_secrets maps {index!r}: indexes are ASCII digits 1 to {MAX_SECRET_INDEX}")
        try:
            check_secret_name(name)
        except SecretError as error:
            raise invalid(f"iexec_secrets[{index!r}]: {error.message}") from None


def request_secret_names(text: str) -> dict[int, str]:
    """The requester secrets a request order's ``params`` name, by index (checked params only)."""
    check_request_params(text)
    named = json.loads(text).get("iexec_secrets", {}) if text else {}
    return {int(index): str(name) for index, name in named.items()}


@order_app.command("sign")
def sign(
    app: bool = typer.Option(False, "--app"),
    dataset: bool = typer.Option(False, "--dataset"),
    workerpool: bool = typer.Option(False, "--workerpool"),
    request: bool = typer.Option(False, "--request"),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Sign templates of orders.json (EIP-712) into signed-orders.json; a zero salt gets a random one."""
    out = Output(json_out)
    session = Session.load(config, chain, wallet, password_file)
    templates_path, signed_path = order_files(session)
    templates = read_orders_file(templates_path)
    kinds = _kinds(app, dataset, workerpool, request)
    orders = [_load_kind(templates, kind, templates_path) for kind in kinds]
    for template in orders:
        if isinstance(template, RequestOrder):
            # A hand-edited template is checked like `order init`'s options, before signing.
            check_request_trust(template)
            check_request_params(template.params)
    market = session.market(wallet=True)
    signed = read_orders_file(signed_path)
    result = {}
    for kind, template in zip(kinds, orders, strict=True):
        salted = replace(template, salt=secrets.token_bytes(32)) if template.salt == bytes(32) else template
        done = market.sign(salted)
        signed[KINDS[kind]] = order_to_json(done)
        result[KINDS[kind]] = {"hash": market.order_hash(done), "signer": market.address}
    write_orders_file(signed_path, signed)
    out.result({"file": str(signed_path), "signed": result})


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
        return _load_kind(data, kind, signed_path) if KINDS[kind] in data else None
    if source.startswith("0x") and len(source) == 66:
        for raw in read_orders_file(signed_path).values():
            order = order_from_json(raw)
            if isinstance(order, _TYPES[kind]) and order_hash_hex(market.order_hash(order)) == source.lower():
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
        return _load_kind(data, kind, path)
    order = order_from_json(data)
    if not isinstance(order, _TYPES[kind]):
        raise OrderError(
            f"{path} holds a {type(order).__name__}, not a {kind} order", code="ORDER_JSON_INVALID"
        )
    return order


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


def _book(session: Session) -> Any:
    from sealrun.adapters.http.market import MarketClient

    return MarketClient(session.service_url("market"))


@order_app.command("publish")
def publish(
    app: bool = typer.Option(False, "--app"),
    dataset: bool = typer.Option(False, "--dataset"),
    workerpool: bool = typer.Option(False, "--workerpool"),
    request: bool = typer.Option(False, "--request"),
    file: Path | None = _FILE,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Publish signed orders (from signed-orders.json) on the market's order book."""
    from sealrun.adapters.http.market import order_wire

    out = Output(json_out)
    session = Session.load(config, chain)
    path = file or order_files(session)[1]
    data = read_orders_file(path)
    orders = {kind: _load_kind(data, kind, path) for kind in _kinds(app, dataset, workerpool, request)}
    market = session.market(wallet=False)
    hub, _ = session.profile.deployed()
    book = _book(session)
    published = {}
    try:
        for kind, order in orders.items():
            record = book.publish(kind, order_wire(order), chain_id=market.rpc.chain_id, hub=hub)
            digest = order_hash_hex(market.order_hash(order))
            published[KINDS[kind]] = {"hash": digest, "remaining": record.get("remaining")}
    finally:
        book.close()
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

    out = Output(json_out)
    digest = _order_hash_argument(order_hash)
    session = Session.load(config, chain, wallet, password_file)
    market = session.market(wallet=True)
    account = market.sender.account if market.sender is not None else None
    if account is None:
        raise ConfigError("no wallet is unlocked", code="WALLET_REQUIRED")
    hub, _ = session.profile.deployed()
    book = _book(session)
    try:
        book.unpublish(
            digest, key=bytes(account.key), domain=RequestDomain(chain_id=market.rpc.chain_id, hub=hub)
        )
    finally:
        book.close()
    out.result({"unpublished": digest})


def _order_hash_argument(value: str) -> str:
    try:
        return order_hash_hex(parse_order_hash(value))
    except ConfigError as error:
        raise OrderError(error.message, code="ORDER_HASH_INVALID") from error


@order_app.command("show")
def show(
    order_hash: str | None = typer.Argument(None, help="An order's hash: read it from the market."),
    file: Path | None = _FILE,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one order of the market by hash, or the signed orders of signed-orders.json with their
    hash and on-chain state (consumed, remaining, closed)."""
    out = Output(json_out)
    session = Session.load(config, chain)
    if order_hash is not None:
        digest = _order_hash_argument(order_hash)
        book = _book(session)
        try:
            out.result(book.order(digest))
        finally:
            book.close()
        return
    path = file or order_files(session)[1]
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
    file: Path | None = _FILE,
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
    path = file or order_files(session)[1]
    data = read_orders_file(path)
    orders = {kind: _load_kind(data, kind, path) for kind in _kinds(app, dataset, workerpool, request)}
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
    app: str | None = _FILL_APP,
    dataset: str | None = _FILL_DATASET,
    workerpool: str | None = _FILL_POOL,
    request: str | None = _FILL_REQUEST,
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
    signed_path = order_files(session)[1]
    # Read and check with a read-only connection: the wallet is unlocked (seconds of scrypt)
    # only once the user has seen the price and said yes.
    market = session.market(wallet=False)

    def book(kind: str, order_hash: str) -> Order:
        from sealrun.adapters.http.market import MarketClient
        from sealrun.cli.journey import market_order

        client = MarketClient(session.service_url("market"))
        try:
            return market_order(client.order(order_hash).order, kind)
        finally:
            client.close()

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
        from sealrun.cli.secrets import require_request_secrets

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
