"""``sealrun deal show``: a deal's parties, prices, deadline and the status of its tasks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from sealrun.api.ids import deal_id_hex, parse_deal_id, task_id_hex
from sealrun.cli.output import JSON_OPTION, Output, human_value
from sealrun.cli.session import CHAIN_OPTION, CONFIG_OPTION, Session
from sealrun.errors import ChainError

__all__ = ["deal_app"]

deal_app = typer.Typer(name="deal", help="Deals: matched orders and their tasks.")


@deal_app.command("show")
def show(
    deal_id: str = typer.Argument(..., help="The deal id (0x, 32 bytes)."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a deal and each of its tasks."""
    out = Output(json_out)
    wanted = parse_deal_id(deal_id)
    market = Session.load(config, chain).market(wallet=False)
    deal = market.deal(wanted)
    if deal is None:
        raise ChainError(f"no deal 0x{wanted.hex()} on this hub", code="CHAIN_DEAL_UNKNOWN")
    found = market.tasks(deal)
    tasks = [
        {"index": t.index, "task": t.task_id, "status": t.status.name, "result_digest": t.result_digest}
        for t in found
    ]
    data = {**deal.to_json(), "task_price": deal.task_price, "tasks": tasks}

    def human(console: Console) -> None:
        console.print(f"[bold]deal[/bold] {deal_id_hex(deal.deal_id)}  (block {deal.block_number})")
        console.print(f"  app {deal.app} ({deal.app_price})  dataset {deal.dataset} ({deal.dataset_price})")
        console.print(f"  workerpool {deal.workerpool} ({deal.workerpool_price})  category {deal.category}")
        console.print(f"  requester {deal.requester}  beneficiary {deal.beneficiary}")
        deadline = human_value(deal.deadline, "deadline")
        console.print(
            f"  volume {deal.volume}  deadline {deadline}  params {escape(human_value(deal.params))}"
        )
        for task in found:
            console.print(f"  task {task.index:>4}  {task_id_hex(task.task_id)}  {task.status.name}")

    out.result(data, human=human)
