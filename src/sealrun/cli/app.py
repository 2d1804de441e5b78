"""The root ``sealrun`` command: one Typer app, with one sub-app per noun.

Each noun lives in its own module (``sealrun.cli.<noun>``) and is registered here; nothing
runs at import time. :func:`main` is the console entry point: it turns every
:class:`~sealrun.errors.SealrunError` into one line and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from sealrun.cli import (
    account,
    apps,
    category,
    chain,
    confidential,
    dataset,
    deal,
    init,
    order,
    task,
    wallet,
    workerpool,
)
from sealrun.cli.attestation import attestation_app
from sealrun.cli.demo import demo
from sealrun.cli.devnet import devnet_app
from sealrun.cli.orderbook import orderbook_app
from sealrun.cli.output import EXIT_USAGE, fail
from sealrun.cli.result import result_app
from sealrun.cli.tee import tee_app
from sealrun.errors import SealrunError

__all__ = ["app", "main"]

app = typer.Typer(
    name="sealrun",
    help="Run a program over private data on machines you don't trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Chain client (issue 4): project config, wallets, local chains, registries, orders, deals.
app.command("init")(init.init)
for _sub in (
    wallet.wallet_app,
    chain.chain_app,
    account.account_app,
    apps.apps_app,
    dataset.dataset_app,
    workerpool.workerpool_app,
    category.category_app,
    order.order_app,
    deal.deal_app,
    task.task_app,
):
    app.add_typer(_sub)


# Attestation (issue 5): verify evidence, make simulator keys.
app.add_typer(attestation_app)

# Sealed data (issue 2): tee layout and keys, result keys/decrypt, the local demo.
app.add_typer(tee_app)
app.add_typer(result_app)
app.command("demo")(demo)

# The worker pool (issue 8): the market's order book.
app.add_typer(orderbook_app)

# The whole flow (issue 9): the devnet and the journey's commands that join the parts.
app.add_typer(devnet_app)
tee_app.command("encryptedpush")(confidential.encryptedpush)
tee_app.command("decrypt")(confidential.tee_decrypt)
task.task_app.command("logs")(confidential.task_logs)
apps.apps_app.command("run")(confidential.app_run)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit 0 on success, 1 on a sealrun error, 2 on a usage error."""
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        app(args=args, prog_name="sealrun", standalone_mode=False)
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
