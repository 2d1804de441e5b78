"""``sealrun task``: show a task's status, claim refunds for tasks past their deadline."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
    parse_bytes32,
)
from sealrun.errors import ChainError

__all__ = ["task_app"]

task_app = typer.Typer(name="task", help="Tasks: status and deadline claims.")

_TASKS_ARGUMENT = typer.Argument(..., help="Task ids (0x, 32 bytes) of one deal.")


@task_app.command("show")
def show(
    task_id: str = typer.Argument(..., help="The task id (0x, 32 bytes)."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a task: its deal, index, status, deadline and result digest."""
    out = Output(json_out)
    wanted = parse_bytes32(task_id, "task id")
    market = Session.load(config, chain).market(wallet=False)
    task = market.task(wanted)
    if task is None:
        raise ChainError(f"no task 0x{wanted.hex()} in any deal of this hub", code="CHAIN_TASK_UNKNOWN")
    out.result(
        {
            "task": task.task_id,
            "deal": task.deal_id,
            "index": task.index,
            "status": task.status.name,
            "deadline": task.deadline,
            "result_digest": task.result_digest,
        }
    )


@task_app.command("claim")
def claim(
    task_ids: list[str] = _TASKS_ARGUMENT,
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Refund unfinished tasks after their final deadline (the requester gets price + seized stake)."""
    out = Output(json_out)
    wanted = [parse_bytes32(t, "task id") for t in task_ids]
    market = Session.load(config, chain, wallet, password_file).market(wallet=True)
    first = market.task(wanted[0])
    if first is not None and first.deadline > time.time():
        out.info(
            f"note: the final deadline is {first.deadline} (unix time); the hub refuses claims before it"
        )
    out.confirm(f"Claim {len(wanted)} task(s) (costs gas)?", yes=yes)
    receipt = market.claim(wanted)
    out.result({"claimed": wanted, "tx": receipt.tx_hash})
