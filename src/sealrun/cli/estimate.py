"""``sealrun estimate``: before a fill, what a deal will cost and how long it should take.

Reads the cheapest open app, dataset (or ``--grant``) and TEE workerpool orders on the market,
the chain's gas price and the workerpool's recent task times; signs and sends nothing, so no
wallet is unlocked. Prices are in the token's smallest unit, gas in wei (SDK:
:func:`sealrun.requester.estimates.estimate`; figures: :mod:`sealrun.core.estimates`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import CHAIN_OPTION, CONFIG_OPTION, Session, parse_address, parse_bytes32
from sealrun.errors import UsageError

__all__ = ["estimate"]

_APP = typer.Argument(..., help="The app's address.")
_DATASET = typer.Option(None, "--dataset", help="Run on this dataset (its cheapest open order).")
_GRANT = typer.Option(None, "--grant", help="Run under this dataset grant (its dataset and price).")
_POOL = typer.Option(None, "--workerpool", help="Only this workerpool.")
_CATEGORY = typer.Option(None, "--category", help="Only pools of this category.")
_VOLUME = typer.Option(1, "--volume", help="Number of tasks in the deal.")


def estimate(
    app: str = _APP,
    dataset: str | None = _DATASET,
    grant: str | None = _GRANT,
    workerpool: str | None = _POOL,
    category: int | None = _CATEGORY,
    volume: int = _VOLUME,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Before a fill: each party's price, the stake, gas and the expected time."""
    from sealrun.requester.estimates import estimate as run_estimate

    out = Output(json_out)
    if dataset is not None and grant is not None:
        raise UsageError("give --dataset or --grant, not both (a grant names its dataset)", code="USAGE")
    if category is not None and category < 0:
        raise UsageError("--category cannot be negative", code="USAGE")
    app_address = parse_address(app, "app")
    dataset_address = None if dataset is None else parse_address(dataset, "dataset")
    grant_id = None if grant is None else parse_bytes32(grant, "grant")
    pool = None if workerpool is None else parse_address(workerpool, "workerpool")
    session = Session.load(config, chain)
    market_url = session.service_url("market")
    found = run_estimate(
        session.market(wallet=False), market_url, app=app_address, dataset=dataset_address, grant=grant_id,
        workerpool=pool, category=category, volume=volume,
    )  # fmt: skip
    out.result(found.to_json())
