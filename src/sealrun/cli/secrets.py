"""Secrets in the SMS from the command line, and the check a task's buyer makes before paying.

- ``sealrun requester push-secret NAME`` / ``check-secret NAME`` / ``list-secrets``: the
  requester's named secrets (``--secret INDEX=NAME`` or params ``iexec_secrets`` hand them to
  the app as ``IEXEC_REQUESTER_SECRET_<INDEX>``);
- ``sealrun app push-secret APP`` / ``check-secret APP``: the app developer secret
  (``IEXEC_APP_DEVELOPER_SECRET``), which only the app's on-chain owner may push;
- ``sealrun dataset push-secret DATASET`` / ``check-secret DATASET``: the dataset's key
  (re-pushed from ``.sealrun/datasets/<DATASET>.key`` or ``--file``), once per dataset.

A value comes from a hidden prompt (typed twice), ``--file PATH`` or ``--stdin``, never from an
argument (arguments end up in shell history and ``ps``); it is kept exactly as read and is
never printed. Names and values follow :mod:`sealrun.core.secretrules`. ``check-secret``
prints whether the secret exists (never its value) and exits 1 when it does not.

:func:`require_request_secrets` is what ``app run`` and ``order fill`` call before any money
moves: a task whose secret is missing would only end ``FAILED`` (``SECRET_MISSING``).

Error codes: ``SECRET_NAME_INVALID``, ``SECRET_VALUE_INVALID``, ``SECRET_MISSING``
(:class:`~sealrun.errors.SecretError`), ``USAGE``, ``FILE_NOT_FOUND``
(:class:`~sealrun.errors.ConfigError`), and the SMS's own (``SECRET_NOT_OWNER``,
``SECRET_ASSET_UNKNOWN``, ``SECRET_EXISTS``, ...).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sealrun.cli.output import EXIT_ERROR, JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    Session,
    parse_address,
)
from sealrun.core.secretrules import (
    MAX_SECRET_VALUE,
    check_secret_name,
    check_secret_value,
    decode_secret_value,
)
from sealrun.errors import ConfigError, SealrunError, SecretError

if TYPE_CHECKING:
    from sealrun.adapters.http.sms import SmsClient
    from sealrun.api.sms import SecretStatusOut
    from sealrun.cli.journey import Journey

    Push = Callable[[SmsClient, Journey], SecretStatusOut]

__all__ = [
    "app_check_secret",
    "app_push_secret",
    "dataset_check_secret",
    "dataset_push_secret",
    "read_secret_value",
    "requester_app",
    "require_request_secrets",
]

requester_app = typer.Typer(name="requester", help="Requester secrets in the SMS: push, check, list.")

_NAME = typer.Argument(..., help="The secret's name (A-Z a-z 0-9 _ . -, 1 to 64, starting alphanumeric).")
_VALUE_FILE = typer.Option(None, "--file", help="Read the value from this file (exact bytes, UTF-8).")
_STDIN = typer.Option(False, "--stdin", help="Read the value from standard input (exact bytes, UTF-8).")
_APP = typer.Argument(..., help="The app's address.")
_DATASET = typer.Argument(..., help="The dataset's address.")
_KEY_FILE = typer.Option(
    None, "--file", help="The dataset's age identity file (default: .sealrun/datasets/DATASET.key)."
)


def read_secret_value(file: Path | None, stdin: bool) -> str:
    """The secret value from ``--file``, ``--stdin`` or a hidden prompt (only on a terminal).

    Raises:
        ConfigError: ``USAGE`` (both sources, or none and no terminal), ``FILE_NOT_FOUND``.
        SecretError: ``SECRET_VALUE_INVALID`` (not UTF-8, empty, too long, NUL).
    """
    limit = 4 * MAX_SECRET_VALUE + 1  # enough to tell "too long" without reading a huge file
    if file is not None and stdin:
        raise ConfigError("give the value with --file or --stdin, not both", code="USAGE")
    if file is not None:
        try:
            with file.open("rb") as handle:
                return decode_secret_value(handle.read(limit))
        except (FileNotFoundError, IsADirectoryError):
            raise ConfigError(f"{file} is not a readable file", code="FILE_NOT_FOUND") from None
    if stdin:
        return decode_secret_value(sys.stdin.buffer.read(limit))
    if not sys.stdin.isatty():
        raise ConfigError(
            "no value: pass --file PATH or --stdin (a value is never an argument), "
            "or run in a terminal to type it",
            code="USAGE",
        )
    typed = typer.prompt("Secret value", hide_input=True, confirmation_prompt=True, err=True)
    return check_secret_value(str(typed))


def _sms(session: Session) -> SmsClient:
    from sealrun.adapters.http.sms import SmsClient

    return SmsClient(session.service_url("sms"))


def _push(session: Session, push: Push, out: Output, describe: Mapping[str, object], what: str) -> None:
    """Unlock the wallet, sign the write with it, print the SMS's answer (never a value)."""
    from sealrun.cli.journey import Journey

    journey = Journey(session)
    sms = journey.sms()
    try:
        out.info(f"pushing {what} to the SMS as {journey.account.address} ...")
        answer = push(sms, journey)
    finally:
        sms.close()
    out.result({**describe, "pushed": True, "owner": answer.owner, "updated_at": answer.updated_at})


def _status(session: Session, ask: Callable[[SmsClient], SecretStatusOut | None]) -> SecretStatusOut | None:
    """Ask the SMS whether a secret exists (an unsigned read: no wallet unlock)."""
    sms = _sms(session)
    try:
        return ask(sms)
    finally:
        sms.close()


def _report(out: Output, data: dict[str, Any], status: SecretStatusOut | None, push: str) -> None:
    """Print whether a secret exists; exit 1 when it does not, naming the command that pushes it."""
    data["exists"] = status is not None
    if status is not None:
        data.update(owner=status.owner, updated_at=status.updated_at)
    else:
        data["push"] = push
    out.result(data)
    if status is None:
        out.info(f"not in the SMS: `{push}` pushes it")
        raise SystemExit(EXIT_ERROR)  # the result is printed above; the status tells scripts


def _wallet_flag(session: Session, owner: str) -> str:
    """The ``--wallet`` a hint needs to run as ``owner`` from this project (empty for the default)."""
    try:
        mine = session.wallet_address()
    except SealrunError:
        return f" --wallet {owner}"
    if mine.lower() != owner.lower():
        return f" --wallet {owner}"
    return f" --wallet {session.wallet_name}" if session.wallet_name else ""


# -- requester -------------------------------------------------------------------------------
@requester_app.command("push-secret")
def requester_push_secret(
    name: str = _NAME,
    file: Path | None = _VALUE_FILE,
    stdin: bool = _STDIN,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Push (or replace) your secret NAME to the SMS; a request names it with --secret INDEX=NAME."""
    out = Output(json_out)
    check_secret_name(name)
    value = read_secret_value(file, stdin)
    session = Session.load(config, chain, wallet, password_file)
    _push(
        session,
        lambda sms, journey: sms.push_requester_secret(journey.key, name, value),
        out,
        {"kind": "requester", "name": name},
        f"requester secret {name!r}",
    )


@requester_app.command("check-secret")
def requester_check_secret(
    name: str = _NAME,
    requester: str | None = typer.Option(None, "--requester", help="Whose secret (default: your wallet)."),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Whether the SMS holds the requester secret NAME (exit status 1 if not); never its value."""
    out = Output(json_out)
    check_secret_name(name)
    session = Session.load(config, chain, wallet)
    owner = parse_address(requester, "--requester") if requester else session.wallet_address()
    status = _status(session, lambda sms: sms.requester_secret_status(owner, name))
    push = f"sealrun requester push-secret {name}{_wallet_flag(session, owner)}"
    _report(out, {"kind": "requester", "requester": owner, "name": name}, status, push)


@requester_app.command("list-secrets")
def requester_list_secrets(
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """The names of your secrets in the SMS (a signed request: only you may list them)."""
    from sealrun.cli.journey import Journey

    out = Output(json_out)
    journey = Journey(Session.load(config, chain, wallet, password_file))
    sms = journey.sms()
    try:
        names = sms.requester_secret_names(journey.key)
    finally:
        sms.close()
    out.result({"requester": journey.account.address, "secrets": [name.model_dump() for name in names]})


# -- app developer secret --------------------------------------------------------------------
def app_push_secret(
    app: str = _APP,
    file: Path | None = _VALUE_FILE,
    stdin: bool = _STDIN,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Push (or replace) APP's developer secret (IEXEC_APP_DEVELOPER_SECRET); only its owner may."""
    out = Output(json_out)
    address = parse_address(app, "app")
    value = read_secret_value(file, stdin)
    session = Session.load(config, chain, wallet, password_file)
    _push(
        session,
        lambda sms, journey: sms.push_app_secret(journey.key, address, value),
        out,
        {"kind": "app", "app": address},
        f"the developer secret of {address}",
    )


def app_check_secret(
    app: str = _APP,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Whether the SMS holds APP's developer secret (exit status 1 if not); never its value."""
    out = Output(json_out)
    address = parse_address(app, "app")
    session = Session.load(config, chain, wallet)
    status = _status(session, lambda sms: sms.app_secret_status(address))
    _report(out, {"kind": "app", "app": address}, status, f"sealrun app push-secret {address}")


# -- dataset key -----------------------------------------------------------------------------
def dataset_push_secret(
    dataset: str = _DATASET,
    file: Path | None = _KEY_FILE,
    filename: str | None = typer.Option(
        None,
        "--filename",
        help="The name the app sees it under (IEXEC_DATASET_FILENAME; default: its address).",
    ),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Push DATASET's key to the SMS (once; only the dataset's owner may)."""
    from sealrun.adapters.sealedfiles import read_identity
    from sealrun.cli.journey import DATASETS
    from sealrun.core.tasks.filenames import check_dataset_filename

    out = Output(json_out)
    address = parse_address(dataset, "dataset")
    name = None if filename is None else check_dataset_filename(filename)
    session = Session.load(config, chain, wallet, password_file)
    key_file = file or session.config.path.parent / DATASETS / f"{address}.key"
    identity = str(read_identity(key_file))
    _push(
        session,
        lambda sms, journey: sms.push_dataset_key(journey.key, address, identity, filename=name),
        out,
        {"kind": "dataset", "dataset": address, "key_file": str(key_file)},
        f"the key of {address}",
    )


def dataset_check_secret(
    dataset: str = _DATASET,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Whether the SMS holds DATASET's key (exit status 1 if not); never the key."""
    out = Output(json_out)
    address = parse_address(dataset, "dataset")
    session = Session.load(config, chain)
    status = _status(session, lambda sms: sms.dataset_key_status(address))
    _report(out, {"kind": "dataset", "dataset": address}, status, f"sealrun dataset push-secret {address}")


# -- the check before buying -----------------------------------------------------------------
def require_request_secrets(
    session: Session,
    *,
    requester: str,
    secrets_by_index: Mapping[int, str],
    dataset: str | None = None,
) -> None:
    """Refuse to buy a task the SMS could not serve: every requester secret it names and its
    dataset's key must be in the SMS. Asks nothing when there is nothing to check, and checks
    no dataset key where no SMS is configured (a chain without services).

    Raises:
        SecretError: ``SECRET_NAME_INVALID``; ``SECRET_MISSING`` naming each missing secret and
            the command that pushes it.
        ConfigError: ``SERVICE_URL_MISSING`` (no SMS to ask).
    """
    for name in secrets_by_index.values():
        check_secret_name(name)
    if not secrets_by_index and dataset is None:
        return
    try:
        sms = _sms(session)
    except ConfigError as error:
        # A chain without services (`chain deploy` on a bare node): there is no SMS to ask. A
        # dataset's key is its owner's business there; secrets the request names are ours to
        # check, so without an SMS those stay a refusal.
        if error.code == "SERVICE_URL_MISSING" and not secrets_by_index:
            return
        raise
    try:
        missing = [
            f"requester secret {name!r} (index {index}) of {requester}: "
            f"`sealrun requester push-secret {name}{_wallet_flag(session, requester)}`"
            for index, name in sorted(secrets_by_index.items())
            if sms.requester_secret_status(requester, name) is None
        ]
        if dataset is not None and sms.dataset_key_status(dataset) is None:
            missing.append(
                f"the key of dataset {dataset}: `sealrun dataset push-secret {dataset}` (its owner)"
            )
    finally:
        sms.close()
    if missing:
        raise SecretError(
            "the SMS lacks what this task needs, so it would end FAILED at once; nothing was bought. "
            "Missing: " + "; ".join(missing),
            code="SECRET_MISSING",
        )
