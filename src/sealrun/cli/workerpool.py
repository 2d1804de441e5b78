"""``sealrun workerpool``: register a workerpool (its owner runs the scheduler) and show one."""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.registered import show_registered
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
)
from sealrun.errors import ConfigError

__all__ = ["workerpool_app"]

workerpool_app = typer.Typer(name="workerpool", help="Workerpools: compute sold by a scheduler's owner.")


@workerpool_app.command("deploy")
def deploy(
    description: str = typer.Option(..., help="The pool's description (unique per owner)."),
    worker_stake_ratio: int = typer.Option(30, help="Percent of the pool price a worker stakes."),
    scheduler_reward_ratio: int = typer.Option(10, help="Percent of the pool price the scheduler keeps."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Register a workerpool owned by your wallet."""
    out = Output(json_out)
    for label, ratio in (
        ("--worker-stake-ratio", worker_stake_ratio),
        ("--scheduler-reward-ratio", scheduler_reward_ratio),
    ):
        if not 0 <= ratio <= 100:
            raise ConfigError(f"{label} must be a percentage (0-100): {ratio}", code="CONFIG_INVALID")
    market = Session.load(config, chain, wallet, password_file).market_after(
        lambda address: out.confirm(
            f"Register workerpool {description!r} from {address} (costs gas)?", yes=yes
        )
    )
    pool = market.registry.create_workerpool(
        description=description,
        worker_stake_ratio=worker_stake_ratio,
        scheduler_reward_ratio=scheduler_reward_ratio,
    )
    out.result({"workerpool": pool.address, "owner": pool.owner, "description": pool.description})


@workerpool_app.command("show")
def show(
    address: str = typer.Argument(..., help="The workerpool's address."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a registered workerpool."""
    show_registered(
        "workerpool", address, read=lambda registry, at: registry.workerpool(at),
        unknown_code="CHAIN_WORKERPOOL_UNKNOWN",
        fields=lambda pool: {
            "workerpool": pool.address, "owner": pool.owner, "description": pool.description,
            "worker_stake_ratio": pool.worker_stake_ratio,
            "scheduler_reward_ratio": pool.scheduler_reward_ratio,
        },
        chain=chain, config=config, json_out=json_out,
    )  # fmt: skip
