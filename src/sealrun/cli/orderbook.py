"""``sealrun orderbook show``: the market's open orders, cheapest first.

The market is ``$SEALRUN_MARKET_URL`` or the running devnet's (like every service).
``--tag`` takes bit names (``tee``, ``sgx``, ``tdx``, ``sev-snp``, ``nitro``, ``gpu``,
repeatable) or one ``0x`` bytes32; a workerpool order is listed when it offers every bit asked.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from sealrun.cli.output import JSON_OPTION, Output, human_value
from sealrun.cli.session import CHAIN_OPTION, CONFIG_OPTION, Session, parse_address
from sealrun.core.orders.codec import ORDER_KINDS
from sealrun.errors import ConfigError

__all__ = ["fill_command", "orderbook_app", "parse_tag"]

orderbook_app = typer.Typer(name="orderbook", help="The market's order book.")

_KINDS = tuple(ORDER_KINDS)


def parse_tag(values: list[str]) -> str | None:
    """Turn ``--tag`` values into a ``0x`` bytes32 (``None`` when none was given).

    Raises:
        ConfigError: ``CONFIG_INVALID`` for an unknown name or a malformed hex tag.
    """
    from sealrun.core.orders.tags import TagBit, make_tag

    if not values:
        return None
    if len(values) == 1 and values[0].startswith("0x"):
        raw = values[0][2:]
        if len(raw) > 64 or any(c not in "0123456789abcdefABCDEF" for c in raw) or not raw:
            raise ConfigError(f"--tag {values[0]!r} is not a bytes32 hex value", code="CONFIG_INVALID")
        return "0x" + raw.lower().rjust(64, "0")
    bits = []
    for value in values:
        name = value.strip().upper().replace("-", "_")
        if name not in TagBit.__members__:
            names = ", ".join(member.lower().replace("_", "-") for member in TagBit.__members__)
            raise ConfigError(
                f"unknown tag {value!r} (known: {names}, or one 0x bytes32)", code="CONFIG_INVALID"
            )
        bits.append(TagBit[name])
    return "0x" + make_tag(*bits).hex()


_CATEGORY = typer.Option(None, "--category", help="Only orders of this category.")
_TAG = typer.Option([], "--tag", help="Required tag bits (tee, sgx, gpu, ...) or a 0x bytes32.")
_KIND = typer.Option("workerpool", "--kind", help=f"Which orders: {', '.join(_KINDS)}.")
_APP = typer.Option(None, "--app", help="Only orders usable with this app.")
_DATASET = typer.Option(None, "--dataset", help="Only orders usable with this dataset.")
_WORKERPOOL = typer.Option(None, "--workerpool", help="Only orders usable with this workerpool.")
_REQUESTER = typer.Option(None, "--requester", help="Only orders open to this requester.")
_MIN_VOLUME = typer.Option("1", "--min-volume", help="Only orders with at least this volume left.")
_LIMIT = typer.Option("20", "--limit", help="At most this many orders (1-1000).")


def fill_command(kind: str, order_hash: str) -> str:
    """The ready-to-run ``sealrun order fill`` that uses the order ``order_hash`` of ``kind``."""
    return f"sealrun order fill --{kind} {order_hash}"


def _number(value: str, option: str, *, minimum: int, maximum: int) -> int:
    """An option's ASCII decimal digits within the market's bounds (``CONFIG_INVALID`` otherwise)."""
    from sealrun.core.orders.numbers import parse_uint
    from sealrun.errors import OrderError

    try:
        return parse_uint(value, name=option, minimum=minimum, maximum=maximum, allow_int=False)
    except OrderError as error:
        raise ConfigError(error.message, code="CONFIG_INVALID") from None


@orderbook_app.command("show")
def show(
    category: str | None = _CATEGORY,
    tag: list[str] = _TAG,
    kind: str = _KIND,
    app: str | None = _APP,
    dataset: str | None = _DATASET,
    workerpool: str | None = _WORKERPOOL,
    requester: str | None = _REQUESTER,
    min_volume: str = _MIN_VOLUME,
    limit: str = _LIMIT,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """List open orders of the market, cheapest first."""
    from sealrun.requester.book import browse

    out = Output(json_out)
    if kind not in _KINDS:
        raise ConfigError(f"--kind must be one of {', '.join(_KINDS)}", code="CONFIG_INVALID")
    # The market's bounds: category is an INTEGER column, volumes BIGINT.
    wanted_category = (
        None if category is None else _number(category, "--category", minimum=0, maximum=2**31 - 1)
    )
    wanted_tag = parse_tag(tag)
    app, dataset, workerpool, requester = (
        parse_address(value, f"--{name}") if value else None
        for name, value in (
            ("app", app),
            ("dataset", dataset),
            ("workerpool", workerpool),
            ("requester", requester),
        )
    )
    wanted_volume = _number(min_volume, "--min-volume", minimum=1, maximum=2**63 - 1)
    wanted_limit = _number(limit, "--limit", minimum=1, maximum=1000)
    # $SEALRUN_MARKET_URL alone is enough: browsing the book needs no project or wallet.
    url = os.environ.get("SEALRUN_MARKET_URL") or Session.load(config, chain).service_url("market")
    orders = browse(
        url,
        kind,
        category=wanted_category,
        tag=wanted_tag,
        min_volume=wanted_volume,
        limit=wanted_limit,
        app=app,
        dataset=dataset,
        workerpool=workerpool,
        requester=requester,
    )
    rows = [
        {
            "order_hash": o.order_hash, "signer": o.signer, "price": o.price,
            "remaining": o.remaining, "volume": o.volume, "category": o.category, "tag": o.tag,
            "order": o.order,
        }
        for o in orders
    ]  # fmt: skip

    def human(console: Console) -> None:
        if not rows:
            console.print(f"no open {escape(kind)} order matches")
            return
        # One block per order, not a table: hashes and addresses stay whole on any terminal
        # (they wrap), and each order carries the command that buys or sells with it.
        for row in rows:
            category = "" if row["category"] is None else f"  category {row['category']}"
            console.print(
                f"[bold]price {row['price']}[/bold]  remaining {row['remaining']}/{row['volume']}"
                f"{category}  tag {escape(human_value(row['tag']))}"
            )
            console.print(f"  order hash  {escape(human_value(row['order_hash']))}")
            console.print(f"  signer      {escape(human_value(row['signer']))}")
            console.print(f"  fill with   {escape(fill_command(kind, str(row['order_hash'])))}")

    out.result({"kind": kind, "orders": rows, "count": len(rows)}, human=human)
