"""The journey's commands that join the parts: ``tee encryptedpush``, ``tee decrypt``,
``task logs`` and the one-liner ``app run`` (registered on their nouns in ``cli/app.py``).

The work itself is in :mod:`sealrun.cli.journey` (shared with ``sealrun demo``) and
:mod:`sealrun.cli.results` (following a task, downloads).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from sealrun.api.ids import deal_id_hex, parse_task_id, task_id_hex
from sealrun.cli import results
from sealrun.cli.output import EXIT_TIMED_OUT, JSON_OPTION, Output
from sealrun.cli.secrets import require_request_secrets
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
from sealrun.errors import ChainError, ConfigError

__all__ = ["app_run", "encryptedpush", "task_logs", "tee_decrypt"]

_APPLICATION = typer.Option(..., "--application", help="The app that may use these inputs.")
_INPUTS = typer.Option(
    Path("tee/inputs"),
    "--inputs",
    help="The folder or single file to seal and push (the app finds it under its name in IEXEC_IN).",
)
_SEALED = typer.Argument(None, help="A sealed result (default: the newest in tee/encryptedOutputs).")
_KEY = typer.Option(None, "--key", help="Result identity file (default: keys/result.key).")
_INPUT_FILES = typer.Option([], "--input-files", help="Public input file URL (repeatable).")
_OUT_DIR = typer.Option(Path("tee/outputs"), "--out", help="Where results are opened.")
_SECRETS = typer.Option([], "--secret", help="Requester secret INDEX=NAME (repeatable).")


def _identity(session: Session, key: Path | None) -> object:
    from sealrun.adapters.sealedfiles import read_identity
    from sealrun.cli.journey import result_identity

    if key is not None:
        return read_identity(key)
    return result_identity(session.config.path.parent, create=False)[1]


def encryptedpush(
    application: str = _APPLICATION,
    inputs: Path = _INPUTS,
    name: str | None = typer.Option(None, "--name", help="The dataset's name on chain."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Seal tee/inputs (or the one file --inputs names), upload it, register it as a dataset, give
    its key and file name to the SMS, publish a dataset order only APPLICATION may use, and
    print what to put in your request order."""
    from sealrun.cli.journey import Journey

    out = Output(json_out)
    app = parse_address(application, "--application")
    session = Session.load(config, chain, wallet, password_file)
    journey = Journey(session, progress=out.progress)
    out.confirm(f"Register a dataset from {journey.account.address} (costs gas)?", yes=yes)
    out.info(f"sealing {inputs} and pushing it ...")
    pushed = journey.encrypted_push(app, inputs.resolve(), name=name)
    out.result(pushed)
    out.info(f"next: {pushed['next']}")


def tee_decrypt(
    sealed: Path | None = _SEALED,
    key: Path | None = _KEY,
    out_dir: Path = _OUT_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Open a downloaded sealed result into tee/outputs (nothing appears unless all of it verifies)."""
    from sealrun.cli.journey import open_result
    from sealrun.core.sealing import Identity

    out = Output(json_out)
    session = Session.load(config)
    if sealed is None:
        folder = session.config.path.parent / "tee" / "encryptedOutputs"
        found = (
            sorted(folder.glob("*.result.age"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        )
        if not found:
            raise ConfigError(
                f"no sealed result in {folder}: `sealrun task show ID --download` first",
                code="FILE_NOT_FOUND",
            )
        sealed = found[-1]
    identity = _identity(session, key)
    assert isinstance(identity, Identity)
    folder_out, files = open_result(sealed.resolve(), out_dir.resolve(), identity)
    out.result({"sealed": str(sealed), "path": str(folder_out), "files": [str(f) for f in files]})


def task_logs(
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
    from sealrun.cli.journey import Journey
    from sealrun.core.sealing import Identity

    out = Output(json_out)
    wanted = parse_task_id(task_id)
    session = Session.load(config, chain, wallet, password_file)
    journey = Journey(session, progress=out.progress)
    followed = results.follow(journey.market, wanted, start_block=session.profile.deploy_block, watch=False)
    identity = _identity(session, key) if key is not None else None
    assert identity is None or isinstance(identity, Identity)
    read = journey.read_logs(followed, identity)
    logs: dict[str, str] = read["logs"]
    data = {**results.describe(followed), **read}

    def human(console: Console) -> None:
        failure = data.get("failure") or {}
        console.print(f"[bold]task[/bold] 0x{wanted.hex()}: {data['status']} {failure.get('name', '')}")
        for name, text in logs.items():
            console.rule(name)
            console.print(text, markup=False, end="")

    out.result(data, human)


def app_run(
    app: str = typer.Argument(..., help="The app to run (address)."),
    dataset: str | None = typer.Option(None, "--dataset", help="A dataset to run it on."),
    input_files: list[str] = _INPUT_FILES,
    args: str = typer.Option("", "--args", help="Arguments for the app (iexec_args)."),
    secrets_opt: list[str] = _SECRETS,
    workerpool: str | None = typer.Option(None, "--workerpool", help="Only this workerpool."),
    category: int | None = typer.Option(None, "--category", help="Only pools of this category."),
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
    from sealrun.cli.journey import Journey, open_result, result_identity

    out = Output(json_out)
    app_address = parse_address(app, "app")
    dataset_address = parse_address(dataset, "--dataset") if dataset else None
    pool_address = parse_address(workerpool, "--workerpool") if workerpool else None
    secret_names: dict[int, str] = {}
    for item in secrets_opt:
        index, sep, secret = item.partition("=")
        if not sep or not is_secret_index(index) or not secret:
            raise ConfigError(
                f"--secret must be INDEX=NAME (INDEX: ASCII digits 1 to {MAX_SECRET_INDEX}): {item!r}",
                code="USAGE",
            )
        secret_names[int(index)] = check_secret_name(secret)
    session = Session.load(config, chain, wallet, password_file)
    # Before the wallet unlock and before any money moves: a task whose secrets the SMS lacks
    # could only end FAILED (SECRET_MISSING).
    require_request_secrets(
        session,
        requester=session.wallet_address(),
        secrets_by_index=secret_names,
        dataset=dataset_address,
    )
    journey = Journey(session, progress=out.progress)
    journey.register_result_key()
    app_order, dataset_order, pool_order = journey.find_orders(
        app_address, dataset_address, pool_address, category
    )
    request = journey.request(
        app_order,
        dataset_order,
        pool_order,
        args=args,
        input_files=tuple(input_files),
        secrets_by_index=secret_names,
    )
    price = (
        app_order.appprice + pool_order.workerpoolprice + (dataset_order.datasetprice if dataset_order else 0)
    )
    out.info(f"workerpool {pool_order.workerpool}, category {pool_order.category}: {price} per task")
    out.confirm(f"Run one task of {app_address} for {price}?", yes=yes)
    deal, task_id, _ = journey.fill(app_order, dataset_order, pool_order, request)
    out.info(f"deal {deal_id_hex(deal.deal_id)}, task {task_id_hex(task_id)}")
    data: dict[str, object] = {
        "deal": deal_id_hex(deal.deal_id),
        "task": task_id_hex(task_id),
        "price": price,
    }
    if watch or download or decrypt:
        begun = time.monotonic()
        try:
            followed = results.follow(
                journey.market,
                task_id,
                start_block=session.profile.deploy_block,
                watch=True,
                timeout=timeout,
                on_change=lambda t: out.info(f"  {t.status} after {time.monotonic() - begun:.1f} s"),
            )
        except ChainError as error:
            if error.code != "TASK_WATCH_TIMEOUT":
                raise
            # Bought, but not yet seen on chain: the deal and task ids are what the user needs.
            data.update(
                status="UNKNOWN", timed_out=True, error={"code": error.code, "message": error.message}
            )
            out.result(data)
            out.info(f"error [{error.code}]: {error.message}")
            raise SystemExit(EXIT_TIMED_OUT) from None
        data.update(results.describe(followed))
        if (download or decrypt) and followed.status == "COMPLETED":
            sealed = journey.download_result(followed)
            data["downloaded"] = str(sealed)
            if decrypt:
                identity = result_identity(journey.root, create=False)[1]
                _, files = open_result(sealed, journey.root / "tee" / "outputs", identity)
                data["outputs"] = [str(f) for f in files]
        if followed.status == "FAILED":
            data.update(journey.explain_failure(followed))
        results.finish(out, data, followed)
        return
    out.result(data)
