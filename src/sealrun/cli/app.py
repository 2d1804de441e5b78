"""The root ``sealrun`` command: a lazy click group with one Typer sub-app per noun.

Each noun lives in its own module (``sealrun.cli.<noun>``) and is registered in
:data:`_COMMANDS`; a module is imported only when its command runs, and nothing runs at
import time. :func:`main` is the console entry point: it turns every
:class:`~sealrun.errors.SealrunError` into one line and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import click
import typer
import typer.main

from sealrun.cli.output import EXIT_USAGE, fail
from sealrun.errors import SealrunError

__all__ = ["cli", "main"]


def _as_group(sub: typer.Typer) -> click.Command:
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
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        holder.command(name)(getattr(importlib.import_module(module), attribute))
        command = typer.main.get_command(holder)
        command.name = name
        return command

    return load


def _journey(module: str, attribute: str) -> Callable[[], click.Command]:
    """A noun whose sub-app also carries the whole flow's commands (``sealrun.cli.confidential``,
    ``sealrun.cli.secrets``)."""

    def load() -> click.Command:
        from sealrun.cli import apps, confidential, dataset, secrets, task, tee

        extra = {
            "tee": ((tee.tee_app, "encryptedpush", confidential.encryptedpush),
                    (tee.tee_app, "decrypt", confidential.tee_decrypt)),
            "task": ((task.task_app, "logs", confidential.task_logs),),
            "app": ((apps.apps_app, "run", confidential.app_run),
                    (apps.apps_app, "push-secret", secrets.app_push_secret),
                    (apps.apps_app, "check-secret", secrets.app_check_secret)),
            "dataset": ((dataset.dataset_app, "push-secret", secrets.dataset_push_secret),
                        (dataset.dataset_app, "check-secret", secrets.dataset_check_secret)),
        }  # fmt: skip
        sub = getattr(importlib.import_module(module), attribute)
        for target, name, function in extra[sub.info.name]:
            if not any(command.name == name for command in target.registered_commands):
                target.command(name)(function)
        return _as_group(sub)

    return load


# One entry per top-level command, imported only when that command runs, so `sealrun tee init`
# never pays for web3 or FastAPI. Root `--help` loads them all to list their summaries.
_COMMANDS: dict[str, Callable[[], click.Command]] = {
    # Chain client (issue 4): project config, wallets, local chains, registries, orders, deals.
    "init": _single("sealrun.cli.init", "init", "init"),
    "wallet": _sub_app("sealrun.cli.wallet", "wallet_app"),
    "chain": _sub_app("sealrun.cli.chain", "chain_app"),
    "account": _sub_app("sealrun.cli.account", "account_app"),
    "app": _journey("sealrun.cli.apps", "apps_app"),
    "dataset": _journey("sealrun.cli.dataset", "dataset_app"),
    "workerpool": _sub_app("sealrun.cli.workerpool", "workerpool_app"),
    "category": _sub_app("sealrun.cli.category", "category_app"),
    "order": _sub_app("sealrun.cli.order", "order_app"),
    "deal": _sub_app("sealrun.cli.deal", "deal_app"),
    "task": _journey("sealrun.cli.task", "task_app"),
    # Secrets (issue 14): the requester's named secrets in the SMS (app/dataset secrets above).
    "requester": _sub_app("sealrun.cli.secrets", "requester_app"),
    # Attestation (issue 5): verify evidence, make simulator keys.
    "attestation": _sub_app("sealrun.cli.attestation", "attestation_app"),
    # Sealed data (issue 2): tee layout and keys, result keys/decrypt.
    "tee": _journey("sealrun.cli.tee", "tee_app"),
    "result": _sub_app("sealrun.cli.result", "result_app"),
    # The worker pool (issue 8): the market's order book.
    "orderbook": _sub_app("sealrun.cli.orderbook", "orderbook_app"),
    # The whole flow (issue 9): the devnet and the demo.
    "devnet": _sub_app("sealrun.cli.devnet", "devnet_app"),
    "demo": _single("sealrun.cli.demo", "demo", "demo"),
}


class _LazyGroup(click.Group):
    """The root group: resolves each command from :data:`_COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        load = _COMMANDS.get(cmd_name)
        if load is None:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load()
        return self.commands[cmd_name]


cli = _LazyGroup(
    name="sealrun",
    help="Run a program over private data on machines you don't trust.",
    no_args_is_help=True,
)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit 0 on success, 1 on a sealrun error, 2 on a usage error."""
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        cli.main(args=args, prog_name="sealrun", standalone_mode=False)
    except SealrunError as error:
        fail(error, as_json=as_json)
    except click.exceptions.Abort:
        fail(SealrunError("Cancelled by the user.", code="CANCELLED"), as_json=as_json)
    except click.exceptions.ClickException as error:
        if as_json:
            fail(SealrunError(error.format_message(), code="USAGE"), as_json=True)
        error.show()
        raise SystemExit(EXIT_USAGE) from None
    except click.exceptions.Exit as done:
        raise SystemExit(done.exit_code) from None
