"""``sealrun requester``: the requester's named secrets in the SMS.

``push-secret NAME`` / ``check-secret NAME`` / ``list-secrets``: ``--secret INDEX=NAME`` (or
params ``iexec_secrets``) hand them to the app as ``IEXEC_REQUESTER_SECRET_<INDEX>``. How values
are read and statuses printed: :mod:`sealrun.cli.secretprompts`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.secretprompts import (
    STDIN_OPTION,
    VALUE_FILE_OPTION,
    push,
    read_secret_value,
    report,
    wallet_flag,
)
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    Session,
    parse_address,
)
from sealrun.core.secretrules import check_secret_name

__all__ = ["requester_app"]

requester_app = typer.Typer(name="requester", help="Requester secrets in the SMS: push, check, list.")

_NAME = typer.Argument(..., help="The secret's name (A-Z a-z 0-9 _ . -, 1 to 64, starting alphanumeric).")


@requester_app.command("push-secret")
def push_secret(
    name: str = _NAME,
    file: Path | None = VALUE_FILE_OPTION,
    stdin: bool = STDIN_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Push (or replace) your secret NAME to the SMS; a request names it with --secret INDEX=NAME."""
    from sealrun.requester.smssecrets import push_requester_secret

    out = Output(json_out)
    check_secret_name(name)
    value = read_secret_value(file, stdin)
    session = Session.load(config, chain, wallet, password_file)
    push(
        session,
        lambda connection: push_requester_secret(connection, name, value),
        out,
        {"kind": "requester", "name": name},
        f"requester secret {name!r}",
    )


@requester_app.command("check-secret")
def check_secret(
    name: str = _NAME,
    requester: str | None = typer.Option(None, "--requester", help="Whose secret (default: your wallet)."),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Whether the SMS holds the requester secret NAME (exit status 1 if not); never its value."""
    from sealrun.requester.smssecrets import requester_secret_status

    out = Output(json_out)
    check_secret_name(name)
    session = Session.load(config, chain, wallet)
    owner = parse_address(requester, "--requester") if requester else session.wallet_address()
    status = requester_secret_status(session.service_url("sms"), owner, name)
    hint = f"sealrun requester push-secret {name}{wallet_flag(session, owner)}"
    report(out, {"kind": "requester", "requester": owner, "name": name}, status, hint)


@requester_app.command("list-secrets")
def list_secrets(
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """The names of your secrets in the SMS (a signed request: only you may list them)."""
    from sealrun.requester.smssecrets import requester_secret_names

    out = Output(json_out)
    connection = Session.load(config, chain, wallet, password_file).connection()
    out.result(
        {
            "requester": connection.address,
            "secrets": [n.model_dump() for n in requester_secret_names(connection)],
        }
    )
