"""``sealrun task``: show a task's status, open its sealed logs, claim refunds for tasks past
their deadline.

``task show`` exits 3 when the task is FAILED or CLAIMED and 4 when ``--watch`` timed out,
with the whole result printed first (``--json`` included). The work is the SDK's
(:mod:`sealrun.requester.tasks`, :mod:`sealrun.requester.downloads`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from sealrun.api.ids import parse_task_id, task_id_hex
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.result import finish
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
)

__all__ = ["task_app"]

task_app = typer.Typer(name="task", help="Tasks: status, sealed logs and deadline claims.")

_TASKS_ARGUMENT = typer.Argument(..., help="Task ids (0x, 32 bytes) of one deal.")
_KEY = typer.Option(None, "--key", help="Result identity file (default: keys/result.key).")


@task_app.command("show")
def show(
    task_id: str = typer.Argument(..., help="The task id (0x, 32 bytes)."),
    watch: bool = typer.Option(
        False,
        "--watch",
        "--follow",
        help="Follow the task until it ends (live from the scheduler's event stream when it has one).",
    ),
    download: bool = typer.Option(
        False,
        "--download",
        help="Download the sealed result, signed by your wallet (into tee/encryptedOutputs if present).",
    ),
    explain: bool = typer.Option(
        True,
        "--explain/--no-explain",
        help="On a FAILED task, open its sealed logs (your wallet and result key) to print the reason.",
    ),
    timeout: float = typer.Option(3600.0, "--timeout", help="Seconds --watch waits at most."),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a task: status, deadline, the stages it went through, its result or its failure and the
    attested reason; --watch follows it, --download fetches the sealed result.

    Exits 3 when the task is FAILED or CLAIMED, 4 when --watch timed out (README: exit statuses).
    """
    from sealrun.requester.downloads import explain_failure, fetch_result
    from sealrun.requester.live import live_changes
    from sealrun.requester.tasks import describe, follow, require_result

    out = Output(json_out)
    wanted = parse_task_id(task_id)
    session = Session.load(config, chain, wallet, password_file)
    market = session.market(wallet=False)
    if watch:
        followed = None
        for followed in live_changes(
            market, wanted, start_block=session.profile.deploy_block, timeout=timeout,
            scheduler=session.optional_service_url("scheduler"),
            on_event=lambda e: out.info(f"  pool: {e.status} (attempt {e.attempt}) {e.detail}".rstrip()),
        ):  # fmt: skip
            if not followed.timed_out:
                out.info(f"task 0x{wanted.hex()[:12]}…: {followed.status}")
        assert followed is not None  # live_changes yields at least once or raises
    else:
        followed = follow(market, wanted, start_block=session.profile.deploy_block, watch=False)
    data: dict[str, object] = {**describe(followed)}
    scheduler = session.optional_service_url("scheduler")
    if scheduler is not None:  # how the pool got there: every attempt and why it ended
        from sealrun.requester.attempts import task_attempts

        pool = task_attempts(scheduler, wanted)
        data["pool"] = pool
        for line in attempt_lines(pool):
            out.info(line)
    store = session.optional_service_url("store")
    if store is not None and followed.status in ("COMPLETED", "FAILED"):  # which TEE ran it
        from sealrun.adapters.receipts import task_tee

        data["tee"] = task_tee(store, wanted)
    failed = followed.status == "FAILED" and not followed.timed_out
    if download and not failed and not followed.timed_out:
        require_result(followed)  # nothing to download yet: say so, not a silent no-op
    if (download and followed.status == "COMPLETED") or (failed and explain):
        connection = session.connection(out.progress)
        if failed:
            data.update(explain_failure(connection, followed))
        else:
            data["downloaded"] = str(fetch_result(connection, followed))
    finish(out, data, followed)


def attempt_lines(pool: Mapping[str, Any]) -> list[str]:
    """One line per attempt: number, worker, start and end, outcome, code and class, next retry."""
    from rich.markup import escape

    if "error" in pool:
        return [f"attempts: not read from the scheduler ({pool['error']['code']})"]
    lines = []
    for a in pool.get("attempts", []):
        ended = _clock(a["ended_at"]) if a["ended_at"] is not None else "…"
        why = f" {a['code']} ({a['failure_class']})" if a["code"] else ""
        retry = f", retry at {_clock(a['next_retry_at'])}" if a["next_retry_at"] is not None else ""
        started = _clock(a["started_at"])
        line = f"attempt {a['number']} on {a['worker']}: {started} → {ended} {a['outcome']}{why}{retry}"
        lines.append(escape(line))
    return lines


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@task_app.command("logs")
def logs(
    task_id: str = typer.Argument(..., help="The task id (0x, 32 bytes)."),
    key: Path | None = _KEY,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Download and open a task's sealed logs, COMPLETED or FAILED (the store serves them to the
    requester's signed request; only the requester's result key opens them)."""
    from sealrun.adapters.sealedfiles import read_identity
    from sealrun.requester.handle import TaskHandle
    from sealrun.requester.tasks import describe

    out = Output(json_out)
    wanted = parse_task_id(task_id)
    session = Session.load(config, chain, wallet, password_file)
    handle = TaskHandle(session.connection(out.progress), wanted)
    followed = handle.status()
    read = handle.logs(read_identity(key) if key is not None else None)
    described = describe(followed)
    data = {**described, **read.to_json()}

    def human(console: Console) -> None:
        failure = described.get("failure")
        name = failure["name"] if failure else ""
        console.print(f"[bold]task[/bold] {task_id_hex(wanted)}: {described['status']} {name}")
        for name, text in read.logs.items():
            console.rule(name)
            console.print(text, markup=False, end="")

    out.result(data, human)


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
    wanted: list[bytes] = [parse_task_id(t) for t in task_ids]
    market = Session.load(config, chain, wallet, password_file).market_after(
        lambda _address: out.confirm(f"Claim {len(wanted)} task(s) (costs gas)?", yes=yes)
    )
    receipt = market.claim(wanted)
    out.result({"claimed": wanted, "tx": receipt.tx_hash})
