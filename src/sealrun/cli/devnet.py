"""``sealrun devnet up | down | status | logs``: a whole local marketplace on this machine.

``up`` starts the chain (embedded by default, ``--chain anvil`` for the fast node), deploys
the marketplace, funds the project's wallets, registers a workerpool and starts the store,
SMS, market, scheduler and workers (see ``sealrun.devnet.launch``); from then on every
command of this project uses the devnet (its chain profile is ``devnet``), with no address to
copy. ``down`` stops every process it started and keeps the devnet's data: the next ``up``
resumes it (same chain, contracts, accounts, workerpool, data). ``reset`` deletes it. A
supervisor restarts a process that dies; ``status`` shows restarts. The state lives in
``.sealrun/devnet`` next to ``sealrun.toml`` (``--state-dir`` or ``$SEALRUN_DEVNET`` elsewhere).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.console import Console

from sealrun.adapters.profiles import ProjectConfig, default_config
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import CONFIG_OPTION, YES_OPTION, config_path
from sealrun.devnet.processes import group_alive, healthy, log_tail
from sealrun.devnet.state import DEFAULT_STATE_DIR, STATE_ENV, DevnetState
from sealrun.errors import ConfigError, UsageError

__all__ = ["devnet_app"]

devnet_app = typer.Typer(name="devnet", help="A whole local marketplace: chain, contracts, services.")

_STATE_DIR = typer.Option(
    None, "--state-dir", help="Where the devnet keeps its state (default: .sealrun/devnet)."
)


def _project(config: Path | None) -> Path:
    """The project's config file, created like `sealrun init` if it is missing."""
    path = config_path(config).resolve()
    if not path.exists():
        fresh = default_config(path, embedded_url="http://127.0.0.1:8545", anvil_url="http://127.0.0.1:8546")
        fresh.save()
        fresh.wallet_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _state_dir(state_dir: Path | None, config: Path | None) -> Path:
    if state_dir is not None:
        return state_dir.resolve()
    named = os.environ.get(STATE_ENV)
    if named:
        return Path(named).expanduser().resolve()
    return config_path(config).resolve().parent / DEFAULT_STATE_DIR


@devnet_app.command("up")
def up_command(
    chain: str | None = typer.Option(
        None, "--chain", help="embedded (py-evm, the default) or anvil; a resumed devnet keeps its own."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=16, help="How many workers (default 1; a resumed devnet keeps its own)."
    ),
    state_dir: Path | None = _STATE_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Start the devnet (or resume the stopped one) and make it this project's default chain."""
    # The launcher loads web3, eth-account and the local chain (seconds): only `up` pays.
    from sealrun.adapters.keystore import Keystore
    from sealrun.devnet.launch import DevnetOptions, up

    out = Output(json_out)
    if chain not in (None, "embedded", "anvil"):
        raise UsageError(f"--chain must be embedded or anvil, not {chain!r}", code="USAGE")
    path = _project(config)
    project = ProjectConfig.load(path)
    wallets = [w.address for w in Keystore(project.wallet_dir).list()]
    begun = time.monotonic()
    state = up(
        DevnetOptions(
            state_dir=_state_dir(state_dir, config),
            chain=None if chain is None else "anvil" if chain == "anvil" else "embedded",
            workers=workers,
            fund=wallets,
        ),
        progress=lambda message: out.info(f"devnet: {message} ..."),
    )
    out.result(
        {
            "state": str(state.path),
            "chain": state.chain,
            "rpc_url": state.rpc_url,
            "chain_id": state.chain_id,
            "hub": state.hub,
            "workerpool": state.workerpool,
            "services": dict(state.services),
            "funded": wallets,
            "seconds": round(time.monotonic() - begun, 2),
        }
    )
    if not wallets:
        out.info("note: this project has no wallet yet; `sealrun wallet create` then `sealrun chain fund`")


@devnet_app.command("down")
def down_command(
    state_dir: Path | None = _STATE_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Stop every process the devnet started (whole process groups); `up` resumes it."""
    from sealrun.devnet.launch import down

    out = Output(json_out)
    state = DevnetState.load(_state_dir(state_dir, config))
    out.result(down(state))


@devnet_app.command("reset")
def reset_command(
    yes: bool = YES_OPTION,
    state_dir: Path | None = _STATE_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Stop the devnet and delete everything it holds (chain, keys, data): the next `up` starts anew."""
    from sealrun.devnet.launch import reset

    out = Output(json_out)
    root = _state_dir(state_dir, config)
    if not root.exists():
        raise ConfigError(f"there is no devnet at {root} to reset", code="DEVNET_NOT_FOUND")
    out.confirm(
        f"Delete the devnet at {root}: its chain, apps, datasets, deals, balances, keys and data?", yes=yes
    )
    out.result(reset(root))


def _status_rows(state: DevnetState) -> list[dict[str, object]]:
    return [
        {
            "name": p.name,
            "pid": p.pid,
            "url": p.url,
            "alive": group_alive(p),
            "healthy": healthy(p),
            "restarts": p.restarts,
            "gave_up": p.gave_up,
        }
        for p in state.processes
    ]


@devnet_app.command("status")
def status(
    state_dir: Path | None = _STATE_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show the devnet's chain, contracts and the health of each process."""
    out = Output(json_out)
    state = DevnetState.load(_state_dir(state_dir, config))
    rows = _status_rows(state)
    data = {**state.to_json(), "processes": rows, "healthy": all(r["healthy"] for r in rows)}

    def human(console: Console) -> None:
        console.print(f"[bold]chain[/bold]: {state.chain} at {state.rpc_url} (chain id {state.chain_id})")
        console.print(f"[bold]hub[/bold]: {state.hub}   [bold]workerpool[/bold]: {state.workerpool}")
        for row in rows:
            mark = "[green]healthy[/green]" if row["healthy"] else "[red]DOWN[/red]"
            if row["gave_up"]:
                mark = "[red]FAILED (no more restarts)[/red]"
            restarts = f"restarts {row['restarts']}" if row["restarts"] else ""
            console.print(
                f"  {row['name']:<10} pid {row['pid']:<7} {mark}  {restarts:<11} {row['url'] or ''}"
            )

    out.result(data, human)


@devnet_app.command("logs")
def logs(
    name: str | None = typer.Argument(
        None, help="A process (chain, store, sms, market, scheduler, worker-1...)."
    ),
    lines: int = typer.Option(40, "--lines", "-n", min=1, help="How many lines of each log."),
    state_dir: Path | None = _STATE_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Print the end of the devnet's logs (one process, or all)."""
    out = Output(json_out)
    state = DevnetState.load(_state_dir(state_dir, config))
    chosen = [p for p in state.processes if name is None or p.name == name]
    if not chosen:
        known = ", ".join(p.name for p in state.processes)
        raise UsageError(f"no devnet process {name!r} (known: {known})", code="USAGE")
    tails = {p.name: log_tail(p, size=200 * lines).splitlines()[-lines:] for p in chosen}

    def human(console: Console) -> None:
        for process, text in tails.items():
            console.rule(process)
            for line in text:
                console.print(line, markup=False)

    out.result({"logs": tails}, human)
