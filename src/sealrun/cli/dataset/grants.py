"""``sealrun dataset grant / grants / revoke``: the owner's on-chain grants of a dataset.

A grant lets an app (and, if named, only one requester and one workerpool) run up to
``--uses`` tasks on a dataset at ``--price`` each until an expiry (``--expires-in 7d`` or
``--expiry UNIX``); ``revoke`` ends it at once: no new deal matches it and the SMS refuses
every later key release under it (docs/decisions/0070-dataset-grants.md). A requester runs
under a grant with ``Requester.run(app, grant=...)`` (docs/sdk.md).

Error codes: ``USAGE`` (a bad duration, both or neither of ``--expires-in``/``--expiry``),
``INVALID_ADDRESS``, ``INVALID_BYTES32``, the SDK's ``ORDER_GRANT_*`` and the registry's
revert codes.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from sealrun.cli.dataset.assets import dataset_app
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
    parse_address,
    parse_bytes32,
)
from sealrun.errors import UsageError

__all__ = ["parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")


def parse_duration(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"12h"``, ``"7d"``, ``"2w"`` in seconds (ASCII digits, above zero).

    Raises:
        UsageError: ``USAGE``.
    """
    match = _DURATION.fullmatch(text.strip())
    seconds = 0 if match is None else int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(
            f"{text!r} is not a duration: a whole number and a unit s, m, h, d or w (e.g. 7d)", code="USAGE"
        )
    return seconds


_DATASET = typer.Argument(..., help="The dataset's address.")
_APP = typer.Option(..., "--app", help="The app the grant is for.")
_REQUESTER = typer.Option(None, "--requester", help="Only this requester (default: anyone).")
_POOL = typer.Option(None, "--workerpool", help="Only this workerpool (default: any).")
_PRICE = typer.Option(0, "--price", help="Price per task, in the token's smallest unit.")
_USES = typer.Option(..., "--uses", help="Maximum number of tasks (1 to 2**64 - 1).")
_EXPIRES_IN = typer.Option(None, "--expires-in", help="Valid for this long (e.g. 7d, 12h).")
_EXPIRY = typer.Option(None, "--expiry", help="Valid until this unix time (seconds).")
_BULK = typer.Option(False, "--bulk", help="Bulk tasks (many datasets per task) may use it.")


@dataset_app.command("grant")
def grant(
    dataset: str = _DATASET,
    app: str = _APP,
    requester: str | None = _REQUESTER,
    workerpool: str | None = _POOL,
    price: int = _PRICE,
    uses: int = _USES,
    expires_in: str | None = _EXPIRES_IN,
    expiry: int | None = _EXPIRY,
    bulk: bool = _BULK,
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Grant APP up to --uses tasks on DATASET at --price each, until an expiry."""
    from sealrun.requester.datasets import DataOwner

    out = Output(json_out)
    if (expires_in is None) == (expiry is None):
        raise UsageError("give exactly one of --expires-in and --expiry", code="USAGE")
    duration = None if expires_in is None else parse_duration(expires_in)
    terms = {
        "dataset": parse_address(dataset, "dataset"),
        "app": parse_address(app, "app"),
        "requester": None if requester is None else parse_address(requester, "requester"),
        "workerpool": None if workerpool is None else parse_address(workerpool, "workerpool"),
    }
    session = Session.load(config, chain, wallet, password_file)
    session.deployed_hub()
    out.confirm(f"Grant {terms['app']} {uses} uses of {terms['dataset']} (costs gas)?", yes=yes)
    connection = session.connection(out.progress)
    until = connection.market.chain_time() + duration if duration is not None else expiry or 0
    made = DataOwner(connection).grant(
        terms["dataset"] or "", app=terms["app"] or "", max_uses=uses, expiry=until, price=price,
        requester=terms["requester"], workerpool=terms["workerpool"], bulk=bulk,
    )  # fmt: skip
    out.result(made.to_json(connection.market.chain_time()))


@dataset_app.command("grants")
def grants(
    dataset: str | None = typer.Argument(None, help="Only this dataset's grants."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """List grants (of DATASET, or of every dataset), newest first, with their uses and status."""
    out = Output(json_out)
    address = None if dataset is None else parse_address(dataset, "dataset")
    market = Session.load(config, chain).market(wallet=False)
    now = market.chain_time()
    found = market.registry.grants(hub=market.hub.address, dataset=address)
    out.result({"grants": [g.to_json(now) for g in found]})


@dataset_app.command("revoke")
def revoke(
    grant_id: str = typer.Argument(..., help="The grant's id (0x + 64 hex digits)."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Revoke a grant for good: no new deal, and no further key release under it."""
    from sealrun.requester.datasets import DataOwner

    out = Output(json_out)
    wanted = parse_bytes32(grant_id, "grant")
    session = Session.load(config, chain, wallet, password_file)
    session.deployed_hub()
    out.confirm(f"Revoke grant {grant_id} (costs gas)?", yes=yes)
    connection = session.connection(out.progress)
    revoked = DataOwner(connection).revoke(wanted)
    out.result(revoked.to_json(connection.market.chain_time()))
