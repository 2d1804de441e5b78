"""``sealrun app run``: buy one confidential task of an app from the cheapest matching orders,
and follow it (the steps of :meth:`sealrun.requester.Requester.run`, with a price shown and
confirmed before any money moves).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sealrun.api.ids import deal_id_hex, task_id_hex
from sealrun.cli.app.group import app_app
from sealrun.cli.output import EXIT_TIMED_OUT, JSON_OPTION, Output
from sealrun.cli.result import finish
from sealrun.cli.secretprompts import require_request_secrets
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
    parse_address,
)
from sealrun.core.secretrules import check_secret_name
from sealrun.core.tasks.secretsbundle import MAX_SECRET_INDEX, is_secret_index
from sealrun.errors import TaskError, UsageError

if TYPE_CHECKING:
    from sealrun.requester.handle import TaskHandle
    from sealrun.requester.tasks import FollowedTask

__all__ = ["run"]

_INPUT_FILES = typer.Option([], "--input-files", help="Public input file URL (repeatable).")
_SECRETS = typer.Option([], "--secret", help="Requester secret INDEX=NAME (repeatable).")


def _secret_names(items: list[str]) -> dict[int, str]:
    named: dict[int, str] = {}
    for item in items:
        index, sep, secret = item.partition("=")
        if not sep or not is_secret_index(index) or not secret:
            raise UsageError(
                f"--secret must be INDEX=NAME (INDEX: ASCII digits 1 to {MAX_SECRET_INDEX}): {item!r}",
                code="USAGE",
            )
        named[int(index)] = check_secret_name(secret)
    return named


@app_app.command("run")
def run(
    app: str = typer.Argument(..., help="The app to run (address)."),
    dataset: str | None = typer.Option(None, "--dataset", help="A dataset to run it on."),
    input_files: list[str] = _INPUT_FILES,
    args: str = typer.Option("", "--args", help="Arguments for the app (iexec_args)."),
    secrets_opt: list[str] = _SECRETS,
    workerpool: str | None = typer.Option(None, "--workerpool", help="Only this workerpool."),
    category: int | None = typer.Option(None, "--category", help="Only pools of this category."),
    callback: str | None = typer.Option(None, "--callback", help="A contract that receives the result."),
    watch: bool = typer.Option(False, "--watch", help="Follow the task until it ends."),
    download: bool = typer.Option(False, "--download", help="Download the sealed result."),
    decrypt: bool = typer.Option(False, "--decrypt", help="Open it into tee/outputs."),
    timeout: float = typer.Option(3600.0, "--timeout", help="Seconds --watch waits at most."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Buy one confidential task of APP from the cheapest matching orders, and follow it.

    With --watch (or --download/--decrypt) it exits 3 when the task ends FAILED or CLAIMED
    (printing the failure, its attested reason and the logs command) and 4 when --timeout
    passes first (README: exit statuses).
    """
    from sealrun.requester.buying import fill, find_orders, price, sign_request_order
    from sealrun.requester.handle import TaskHandle
    from sealrun.requester.smssecrets import register_result_key
    from sealrun.requester.tasks import describe

    out = Output(json_out)
    app_address = parse_address(app, "app")
    dataset_address = parse_address(dataset, "--dataset") if dataset else None
    pool_address = parse_address(workerpool, "--workerpool") if workerpool else None
    callback_address = parse_address(callback, "--callback") if callback else None
    secret_names = _secret_names(secrets_opt)
    session = Session.load(config, chain, wallet, password_file)
    # Before the wallet unlock and before any money moves: a task whose secrets the SMS lacks
    # could only end FAILED (SECRET_MISSING).
    require_request_secrets(
        session, requester=session.wallet_address(), secrets_by_index=secret_names, dataset=dataset_address
    )
    connection = session.connection(out.progress)
    register_result_key(connection)
    orders = find_orders(connection, app_address, dataset_address, pool_address, category)
    request = sign_request_order(
        connection, orders, args=args, input_files=tuple(input_files), secrets_by_index=secret_names,
        callback=callback_address,
    )  # fmt: skip
    cost, pool_order = price(orders), orders[2]
    out.info(f"workerpool {pool_order.workerpool}, category {pool_order.category}: {cost} per task")
    out.confirm(f"Run one task of {app_address} for {cost}?", yes=yes)
    deal, task_id, _ = fill(connection, orders, request)
    out.info(f"deal {deal_id_hex(deal.deal_id)}, task {task_id_hex(task_id)}")
    data: dict[str, object] = {"deal": deal_id_hex(deal.deal_id), "task": task_id_hex(task_id), "price": cost}
    if not (watch or download or decrypt):
        out.result(data)
        return
    handle = TaskHandle(connection, task_id, deal.deal_id, cost)
    begun = time.monotonic()
    try:
        pool_event = lambda e: out.info(f"  pool: {e.status} (attempt {e.attempt}) {e.detail}".rstrip())  # noqa: E731
        for change in handle.events(timeout=timeout, on_event=pool_event):
            if not change.timed_out:
                out.info(f"  {change.status} after {time.monotonic() - begun:.1f} s")
    except TaskError as error:
        if error.code != "TASK_WATCH_TIMEOUT":
            raise
        # Bought, but not yet seen on chain: the deal and task ids are what the user needs.
        data.update(status="UNKNOWN", timed_out=True, error={"code": error.code, "message": error.message})
        out.result(data)
        out.info(f"error [{error.code}]: {error.message}")
        raise SystemExit(EXIT_TIMED_OUT) from None
    followed = handle.last
    assert followed is not None  # events() yields at least once or raises
    data.update(describe(followed))
    data.update(_ended(handle, followed, download=download, decrypt=decrypt))
    finish(out, data, followed)


def _ended(handle: TaskHandle, followed: FollowedTask, *, download: bool, decrypt: bool) -> dict[str, object]:
    """What a watched task that ended adds: its TEE (receipt), its result or its failure's reason."""
    from sealrun.requester.downloads import explain_failure

    data: dict[str, object] = {}
    connection = handle.connection
    if (store := connection.services.get("store")) and followed.status in ("COMPLETED", "FAILED"):
        from sealrun.adapters.receipts import task_tee

        data["tee"] = task_tee(store, handle.task_id)
    if (download or decrypt) and followed.status == "COMPLETED":
        data["downloaded"] = str(handle.download())
        if decrypt:
            data["outputs"] = [str(f) for f in handle.decrypt()]
    if followed.status == "FAILED":
        data.update(explain_failure(connection, followed))
    return data
