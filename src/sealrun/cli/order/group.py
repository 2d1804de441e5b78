"""The ``sealrun order`` group, the options its commands share, and how they pick orders."""

from __future__ import annotations

import typer

from sealrun.api.ids import order_hash_hex, parse_order_hash
from sealrun.core.orders import TagBit, make_tag
from sealrun.errors import ConfigError, OrderError, UsageError

__all__ = ["order_app", "order_hash_argument", "parse_tag", "selected_kinds"]

order_app = typer.Typer(name="order", help="Orders: templates, EIP-712 signatures, publish, show, fill.")

_TAG_BITS = {bit.name.lower().replace("_", "-"): bit for bit in TagBit}

APP = typer.Option(None, "--app", help="App address (an app order, or the app a --buy request runs).")
DATASET = typer.Option(None, "--dataset", help="Dataset address.")
WORKERPOOL = typer.Option(None, "--workerpool", help="Workerpool address.")
FILE = typer.Option(None, "--file", help="Orders file (default: signed-orders.json beside sealrun.toml).")
FILL_APP = typer.Option(None, "--app", help="App order: a JSON file or an order hash (default: signed file).")
FILL_DATASET = typer.Option(
    None, "--dataset", help="Dataset order: file or hash (default: signed file, if any)."
)
FILL_POOL = typer.Option(None, "--workerpool", help="Workerpool order: file or hash (default: signed file).")
FILL_REQUEST = typer.Option(None, "--request", help="Request order: file or hash (default: signed file).")


def parse_tag(names: str) -> bytes:
    bits = []
    for name in filter(None, (n.strip().lower() for n in names.split(","))):
        if name not in _TAG_BITS:
            raise ConfigError(
                f"unknown tag bit {name!r} (known: {', '.join(_TAG_BITS)})", code="CONFIG_INVALID"
            )
        bits.append(_TAG_BITS[name])
    return make_tag(*bits)


def selected_kinds(app: bool, dataset: bool, workerpool: bool, request: bool) -> list[str]:
    chosen = [
        k
        for k, flag in (("app", app), ("dataset", dataset), ("workerpool", workerpool), ("request", request))
        if flag
    ]
    if not chosen:
        raise UsageError("say which order: --app, --dataset, --workerpool or --request", code="USAGE")
    return chosen


def order_hash_argument(value: str) -> str:
    try:
        return order_hash_hex(parse_order_hash(value))
    except ConfigError as error:
        raise OrderError(error.message, code="ORDER_HASH_INVALID") from error
