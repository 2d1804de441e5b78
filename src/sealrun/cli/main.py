"""The root ``sealrun`` command: a lazy click group with one Typer sub-app per noun.

Each noun lives in its own module or package (``sealrun.cli.<noun>``), holds all of its
commands (none is registered on another noun's group) and is registered in :data:`_COMMANDS`;
a module is imported only when its command runs, and nothing runs at import time. The work
is the SDK's (:mod:`sealrun.requester`); the nouns parse, call and print.

:func:`main` is the console entry point: it turns every :class:`~sealrun.errors.SealrunError`
into one line and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click

from sealrun.errors import SealrunError, UsageError

if TYPE_CHECKING:  # Typer and Rich cost a tenth of a second each: `sealrun --help` loads neither
    import typer

__all__ = ["cli", "main"]


def _as_group(sub: typer.Typer) -> click.Command:
    import typer.main

    # Mount the sub-app under a parent exactly as ``add_typer`` would, so a noun with a single
    # command (``deal show``) stays a group instead of collapsing into that command.
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.add_typer(sub)
    group = typer.main.get_command(holder)
    assert isinstance(group, click.Group)
    return group.commands[str(sub.info.name)]


def _sub_app(module: str, attribute: str) -> Callable[[], click.Command]:
    def load() -> click.Command:
        return _as_group(getattr(importlib.import_module(module), attribute))

    return load


def _single(module: str, attribute: str, name: str) -> Callable[[], click.Command]:
    def load() -> click.Command:
        import typer.main

        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        holder.command(name)(getattr(importlib.import_module(module), attribute))
        command = typer.main.get_command(holder)
        command.name = name
        return command

    return load


@dataclass(frozen=True)
class _Noun:
    """A top-level command: its one-line summary (for root ``--help``) and how to load it."""

    summary: str
    load: Callable[[], click.Command]


# One entry per top-level command, imported only when that command runs, so `sealrun tee init`
# never pays for web3 or FastAPI and root `--help` lists the summaries without importing any
# (tests/cli/test_startup.py checks each summary against its command's own help).
_COMMANDS: dict[str, _Noun] = {
    # Chain client (issue 4): project config, wallets, local chains, registries, orders, deals.
    "init": _Noun("Create sealrun.toml with chain profiles (embedded, anvil, and custom with --rpc-url).",
                  _single("sealrun.cli.init", "init", "init")),
    "wallet": _Noun("Encrypted wallets (keystores) in the project's key folder.",
                    _sub_app("sealrun.cli.wallet", "wallet_app")),
    "chain": _Noun("Local chains (embedded, anvil) and marketplace deployment.",
                   _sub_app("sealrun.cli.chain", "chain_app")),
    "account": _Noun("Your escrow account on the hub.", _sub_app("sealrun.cli.account", "account_app")),
    "app": _Noun("Apps: measured bundles registered on chain.", _sub_app("sealrun.cli.app", "app_app")),
    "dataset": _Noun("Datasets: sealed data, registered on chain.",
                     _sub_app("sealrun.cli.dataset", "dataset_app")),
    "workerpool": _Noun("Workerpools: compute sold by a scheduler's owner.",
                        _sub_app("sealrun.cli.workerpool", "workerpool_app")),
    "category": _Noun("Task categories: how long a task may run.",
                      _sub_app("sealrun.cli.category", "category_app")),
    "order": _Noun("Orders: templates, EIP-712 signatures, publish, show, fill.",
                   _sub_app("sealrun.cli.order", "order_app")),
    "deal": _Noun("Deals: matched orders and their tasks.", _sub_app("sealrun.cli.deal", "deal_app")),
    "task": _Noun("Tasks: status, sealed logs and deadline claims.",
                  _sub_app("sealrun.cli.task", "task_app")),
    # Secrets (issue 14): the requester's named secrets in the SMS (app/dataset secrets above).
    "requester": _Noun("Requester secrets in the SMS: push, check, list.",
                       _sub_app("sealrun.cli.requester", "requester_app")),
    # Attestation (issue 5): verify evidence, make simulator keys.
    "attestation": _Noun("Verify TEE evidence; fetch and bundle collateral; make simulator keys.",
                         _sub_app("sealrun.cli.attestation", "attestation_app")),
    # Sealed data (issue 2): tee layout and keys, result keys/decrypt.
    "tee": _Noun("Local layout and keys for confidential (TEE) tasks.",
                 _sub_app("sealrun.cli.tee", "tee_app")),
    "result": _Noun("Result keys and sealed results.", _sub_app("sealrun.cli.result", "result_app")),
    # The worker pool (issue 8): the market's order book.
    "orderbook": _Noun("The market's order book.", _sub_app("sealrun.cli.orderbook", "orderbook_app")),
    # The whole flow (issue 9): the devnet and the demo.
    "devnet": _Noun("A whole local marketplace: chain, contracts, services.",
                    _sub_app("sealrun.cli.devnet", "devnet_app")),
    # Receipts (issue 20): verify a task as a third party.
    "verify": _Noun("Verify a task's receipt: online (chain, store, SMS) or --offline (a receipt file).",
                    _single("sealrun.cli.verify", "verify", "verify")),
    # Issue 21: what a deal costs and takes, before a fill.
    "estimate": _Noun("Before a fill: each party's price, the stake, gas and the expected time.",
                      _single("sealrun.cli.estimate", "estimate", "estimate")),
    "demo": _Noun("Run the whole confidential journey on a fresh local devnet and print each step's time.",
                  _single("sealrun.cli.demo", "demo", "demo")),
}  # fmt: skip


class _LazyGroup(click.Group):
    """The root group: resolves each command from :data:`_COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        noun = _COMMANDS.get(cmd_name)
        if noun is None:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = noun.load()
        return self.commands[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Root `--help` lists the static summaries: loading every noun would import web3,
        # FastAPI and the local chain only to print one line each.
        rows = [(name, _COMMANDS[name].summary) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sealrun")
    except PackageNotFoundError:  # a source tree without installed metadata
        return "unknown"


cli = _LazyGroup(
    name="sealrun",
    help="Run a program over private data on machines you don't trust.",
    no_args_is_help=True,
    params=[
        click.Option(
            ["--version"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            help="Print the version and exit.",
            callback=lambda ctx, _param, value: _print_version(ctx) if value else None,
        )
    ],
)


def _print_version(ctx: click.Context) -> None:
    click.echo(f"sealrun {_version()}")
    ctx.exit()


def _fail(error: SealrunError, *, as_json: bool) -> NoReturn:
    from sealrun.cli.output import fail

    fail(error, as_json=as_json)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit 0 on success, 1 on a sealrun error, 2 on a usage error."""
    # cli.output (Rich, Typer) is imported only on the error paths: `--help` does without.
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        cli.main(args=args, prog_name="sealrun", standalone_mode=False)
    except SealrunError as error:
        _fail(error, as_json=as_json)
    except click.exceptions.Abort:
        _fail(UsageError("Cancelled by the user.", code="CANCELLED"), as_json=as_json)
    except click.exceptions.ClickException as error:
        if as_json:
            _fail(UsageError(error.format_message(), code="USAGE"), as_json=True)
        from sealrun.cli.output import EXIT_USAGE

        error.show()
        raise SystemExit(EXIT_USAGE) from None
    except click.exceptions.Exit as done:
        raise SystemExit(done.exit_code) from None
