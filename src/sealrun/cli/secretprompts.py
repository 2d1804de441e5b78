"""What the secret commands of every noun share: reading a value, printing a status, the check
before buying.

``requester push-secret``/``check-secret``/``list-secrets`` (:mod:`sealrun.cli.requester`),
``app push-secret``/``check-secret`` (:mod:`sealrun.cli.app`) and ``dataset push-secret``/
``check-secret`` (:mod:`sealrun.cli.dataset`) read a value from a hidden prompt (typed twice),
``--file PATH`` or ``--stdin``, never from an argument (arguments end up in shell history and
``ps``); it is kept exactly as read and is never printed. Names and values follow
:mod:`sealrun.core.secretrules`. ``check-secret`` prints whether the secret exists (never its
value) and exits 1 when it does not.

:func:`require_request_secrets` is what ``app run`` and ``order fill`` call before any money
moves (:func:`sealrun.requester.smssecrets.require_request_secrets`).

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

from sealrun.cli.output import EXIT_ERROR, Output
from sealrun.cli.session import Session
from sealrun.core.secretrules import MAX_SECRET_VALUE, check_secret_value, decode_secret_value
from sealrun.errors import ConfigError, SealrunError, UsageError

if TYPE_CHECKING:
    from sealrun.api.sms import SecretStatusOut
    from sealrun.requester.connection import Connection

__all__ = [
    "STDIN_OPTION",
    "VALUE_FILE_OPTION",
    "push",
    "read_secret_value",
    "report",
    "require_request_secrets",
    "wallet_flag",
]

VALUE_FILE_OPTION = typer.Option(None, "--file", help="Read the value from this file (exact bytes, UTF-8).")
STDIN_OPTION = typer.Option(False, "--stdin", help="Read the value from standard input (exact bytes, UTF-8).")


def read_secret_value(file: Path | None, stdin: bool) -> str:
    """The secret value from ``--file``, ``--stdin`` or a hidden prompt (only on a terminal).

    Raises:
        ConfigError: ``USAGE`` (both sources, or none and no terminal), ``FILE_NOT_FOUND``.
        SecretError: ``SECRET_VALUE_INVALID`` (not UTF-8, empty, too long, NUL).
    """
    limit = 4 * MAX_SECRET_VALUE + 1  # enough to tell "too long" without reading a huge file
    if file is not None and stdin:
        raise UsageError("give the value with --file or --stdin, not both", code="USAGE")
    if file is not None:
        try:
            with file.open("rb") as handle:
                return decode_secret_value(handle.read(limit))
        except (FileNotFoundError, IsADirectoryError):
            raise ConfigError(f"{file} is not a readable file", code="FILE_NOT_FOUND") from None
    if stdin:
        return decode_secret_value(sys.stdin.buffer.read(limit))
    if not sys.stdin.isatty():
        raise UsageError(
            "no value: pass --file PATH or --stdin (a value is never an argument), "
            "or run in a terminal to type it",
            code="USAGE",
        )
    typed = typer.prompt("Secret value", hide_input=True, confirmation_prompt=True, err=True)
    return check_secret_value(str(typed))


def push(
    session: Session,
    write: Callable[[Connection], SecretStatusOut],
    out: Output,
    describe: Mapping[str, object],
    what: str,
) -> None:
    """Unlock the wallet, make the signed write with it, print the SMS's answer (never a value)."""
    connection = session.connection()
    out.info(f"pushing {what} to the SMS as {connection.address} ...")
    answer = write(connection)
    out.result({**describe, "pushed": True, "owner": answer.owner, "updated_at": answer.updated_at})


def report(out: Output, data: dict[str, Any], status: SecretStatusOut | None, push: str) -> None:
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


def wallet_flag(session: Session, owner: str) -> str:
    """The ``--wallet`` a hint needs to run as ``owner`` from this project (empty for the default)."""
    try:
        mine = session.wallet_address()
    except SealrunError:
        return f" --wallet {owner}"
    if mine.lower() != owner.lower():
        return f" --wallet {owner}"
    return f" --wallet {session.wallet_name}" if session.wallet_name else ""


def require_request_secrets(
    session: Session,
    *,
    requester: str,
    secrets_by_index: Mapping[int, str],
    dataset: str | None = None,
) -> None:
    """Refuse to buy a task the SMS could not serve (the SMS of this session, if any).

    Raises:
        SecretError: ``SECRET_NAME_INVALID``; ``SECRET_MISSING`` naming each missing secret and
            the command that pushes it.
        ConfigError: ``SERVICE_URL_MISSING`` (secrets named, no SMS to ask).
    """
    from sealrun.requester.smssecrets import require_request_secrets as require

    sms_url = session.optional_service_url("sms") if secrets_by_index or dataset else None
    require(
        sms_url,
        requester=requester,
        secrets_by_index=secrets_by_index,
        dataset=dataset,
        wallet_flag=lambda owner: wallet_flag(session, owner),
    )
