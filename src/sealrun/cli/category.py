"""``sealrun category``: task categories (max execution time); created by the hub owner."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
)
from sealrun.errors import ChainError, ConfigError

__all__ = ["category_app"]

category_app = typer.Typer(name="category", help="Task categories: how long a task may run.")


@category_app.command("show")
def show(
    category_id: int | None = typer.Argument(None, help="A category id (default: all)."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one category or all of them."""
    out = Output(json_out)
    hub = Session.load(config, chain).market(wallet=False).hub
    if category_id is not None:
        found = hub.category(category_id)
        if found is None:
            raise ChainError(f"category {category_id} does not exist", code="CHAIN_CATEGORY_UNKNOWN")
        out.result(
            {"id": found.id, "name": found.name, "description": found.description, "max_time": found.max_time}
        )
        return
    rows = [
        {"id": c.id, "name": c.name, "description": c.description, "max_time": c.max_time}
        for c in hub.categories()
    ]

    def human(console: Console) -> None:
        for row in rows:
            console.print(f"{row['id']:>3}  {row['name']:<6} {row['max_time']:>7} s  {row['description']}")

    out.result({"categories": rows}, human=human)


@category_app.command("create")
def create(
    name: str = typer.Option(..., help="Short name (e.g. XXL)."),
    max_time: int = typer.Option(..., help="Maximum execution time of a task, in seconds."),
    description: str = typer.Option("", help="What the category is for."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a category (only the hub owner may)."""
    out = Output(json_out)
    if max_time <= 0:
        raise ConfigError("--max-time must be a positive number of seconds", code="CONFIG_INVALID")
    market = Session.load(config, chain, wallet, password_file).market_after(
        lambda address: out.confirm(
            f"Create category {name!r} ({max_time} s) from {address} (costs gas)?", yes=yes
        )
    )
    found = market.hub.create_category(name=name, description=description, max_time=max_time)
    out.result(
        {"id": found.id, "name": found.name, "description": found.description, "max_time": found.max_time}
    )
