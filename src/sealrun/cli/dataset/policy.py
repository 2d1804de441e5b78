"""``sealrun dataset policy show / set``: the dataset owner's release policy at the SMS.

The SMS applies the policy at every release of the dataset's key, on top of the deployment's
attestation policy: TEE types allowed, minimum TCB status, maximum collateral age, isolation
mode and workerpools allowed (docs/decisions/0090-owner-release-policy.md). A release that
breaks a rule ends the task with an attested failure and a refund, and the audit entry names
the policy's digest. ``set`` takes the rules as options or a whole document with ``--file``;
it replaces the policy (a rule not given is no rule).

Error codes: ``USAGE`` (``--file`` with rule options, a bad duration), ``INVALID_ADDRESS``,
``CONFIG_INVALID`` (an unreadable ``--file``), ``SECRET_POLICY_INVALID`` and the SMS's
(``SECRET_NOT_OWNER``, ``SECRET_ASSET_UNKNOWN``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sealrun.cli.dataset.assets import dataset_app
from sealrun.cli.dataset.grants import parse_duration
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    Session,
    parse_address,
)
from sealrun.errors import ConfigError, UsageError

__all__ = ["policy_app"]

policy_app = typer.Typer(name="policy", help="The owner's release policy the SMS applies (decision 0090).")
dataset_app.add_typer(policy_app)

_DATASET = typer.Argument(..., help="The dataset's address.")
_TEE = typer.Option(None, "--tee-type", help="An evidence type allowed (repeat): sgx-dcap, tdx-dcap, ...")
_TCB = typer.Option(None, "--min-tcb", help="UpToDate, or SWHardeningNeeded (also accepts that status).")
_AGE = typer.Option(None, "--max-collateral-age", help="The collateral's maximum age (e.g. 7d).")
_ISOLATION = typer.Option("any", "--isolation", help="any, or strict: only strictly isolated runs.")
_POOLS = typer.Option(None, "--workerpool", help="A workerpool allowed (repeat; default: any).")
_FILE = typer.Option(None, "--file", help="A whole policy document (JSON, version 1) instead of options.")


@policy_app.command("show")
def show(
    dataset: str = _DATASET,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """DATASET's release policy (none: only the deployment's policy applies)."""
    from sealrun.requester.smssecrets import dataset_policy

    out = Output(json_out)
    address = parse_address(dataset, "dataset")
    found = dataset_policy(Session.load(config, chain).service_url("sms"), address)
    out.result({"dataset": address, "policy": None} if found is None else found.model_dump())


@policy_app.command("set")
def set_policy(
    dataset: str = _DATASET,
    tee_type: list[str] | None = _TEE,
    min_tcb: str | None = _TCB,
    max_collateral_age: str | None = _AGE,
    isolation: str = _ISOLATION,
    workerpool: list[str] | None = _POOLS,
    file: Path | None = _FILE,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Set (replace) DATASET's release policy; signed by the dataset's owner (no gas)."""
    from sealrun.core.releases.ownerpolicy import parse_owner_policy
    from sealrun.requester.datasets import DataOwner

    out = Output(json_out)
    address = parse_address(dataset, "dataset")
    options = (tee_type, min_tcb, max_collateral_age, workerpool)
    if file is not None:
        if any(options) or isolation != "any":
            raise UsageError("give --file or rule options, not both", code="USAGE")
        document: object = _read(file)
    else:
        document = {
            "version": 1, "tee_types": tee_type or None, "min_tcb": min_tcb, "isolation": isolation,
            "max_collateral_age": None if max_collateral_age is None else parse_duration(max_collateral_age),
            "workerpools": None if not workerpool else [parse_address(p, "workerpool") for p in workerpool],
        }  # fmt: skip
    if not isinstance(document, dict):
        raise ConfigError(f"{file} must hold a JSON object", code="CONFIG_INVALID")
    parse_owner_policy(document)  # a bad rule is named before any project, wallet or network is touched
    connection = Session.load(config, chain, wallet, password_file).connection(out.progress)
    out.result(DataOwner(connection).set_policy(address, document).model_dump())


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path} is not a readable JSON file: {error}", code="CONFIG_INVALID") from error
