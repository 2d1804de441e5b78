"""``sealrun tee``: the requester's local layout for confidential tasks, pushing private inputs,
opening results.

``tee init`` creates ``tee/inputs`` (your data in clear), ``tee/encryptedOutputs`` (sealed
data and results), ``tee/outputs`` (opened results) and, unless one exists, a result key pair
(identity in ``keys/result.key``, 0600). Running it again keeps the existing key.
``tee doctor`` tells what this host can attest with (:mod:`sealrun.cli.teedoctor`).
``tee encryptedpush`` protects the inputs as a dataset (:meth:`sealrun.requester.DataOwner.protect`)
for one app and this requester; ``tee decrypt`` opens a downloaded sealed result.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.adapters.sealedfiles import read_identity, write_identity
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
    parse_address,
)
from sealrun.core.sealing import Identity
from sealrun.errors import ConfigError
from sealrun.requester.layout import RESULT_KEY, TEE_FOLDERS

__all__ = ["TEE_FOLDERS", "tee_app"]

tee_app = typer.Typer(
    name="tee", help="Local layout and keys for confidential (TEE) tasks.", no_args_is_help=True
)

_FOLDER = typer.Argument(Path("."), help="Project folder (created if missing).")


@tee_app.command("init")
def init(folder: Path = _FOLDER, json_out: bool = JSON_OPTION) -> None:
    """Create tee/inputs, tee/encryptedOutputs, tee/outputs and a result key pair."""
    output = Output(json_out)
    folders = [folder / name for name in TEE_FOLDERS]
    for path in folders:
        path.mkdir(parents=True, exist_ok=True)
    key_path = folder / RESULT_KEY
    if key_path.exists():
        identity = read_identity(key_path)
        created = False
    else:
        identity = Identity.generate()
        write_identity(key_path, identity)
        created = True
    output.result(
        {
            "folders": [str(path) for path in folders],
            "identity_file": str(key_path),
            "key_created": created,
            "recipient": str(identity.recipient),
        }
    )
    output.info("put your data in tee/inputs; results sealed to the recipient above open with your key")


_APPLICATION = typer.Option(..., "--application", help="The app that may use these inputs.")
_INPUTS = typer.Option(
    Path("tee/inputs"),
    "--inputs",
    help="The folder or single file to seal and push (the app finds it under its name in IEXEC_IN).",
)
_SEALED = typer.Argument(None, help="A sealed result (default: the newest in tee/encryptedOutputs).")
_KEY = typer.Option(None, "--key", help="Result identity file (default: keys/result.key).")
_OUT_DIR = typer.Option(Path("tee/outputs"), "--out", help="Where results are opened.")


@tee_app.command("encryptedpush")
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
    import json

    from sealrun.requester.datasets import DataOwner
    from sealrun.requester.smssecrets import register_result_key

    out = Output(json_out)
    app = parse_address(application, "--application")
    connection = Session.load(config, chain, wallet, password_file).connection(out.progress)
    out.confirm(f"Register a dataset from {connection.address} (costs gas)?", yes=yes)
    out.info(f"sealing {inputs} and pushing it ...")
    dataset = DataOwner(connection).protect(inputs.resolve(), app=app, name=name)
    result_key, recipient = register_result_key(connection)
    params = {"iexec_args": ""}
    pushed = {
        **dataset.to_json(),
        "result_key": str(result_key),
        "result_recipient": recipient,
        "params": params,
        "next": f"sealrun order init --buy --app {app} --dataset {dataset.address} "
        f"--params '{json.dumps(params)}'",
    }
    out.result(pushed)
    out.info(f"next: {pushed['next']}")


@tee_app.command("decrypt")
def decrypt(
    sealed: Path | None = _SEALED,
    key: Path | None = _KEY,
    out_dir: Path = _OUT_DIR,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Open a downloaded sealed result into tee/outputs (nothing appears unless all of it verifies)."""
    from sealrun.requester.layout import open_result, result_identity

    out = Output(json_out)
    root = Session.load(config).config.path.parent
    if sealed is None:
        folder = root / "tee" / "encryptedOutputs"
        found = (
            sorted(folder.glob("*.result.age"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        )
        if not found:
            raise ConfigError(
                f"no sealed result in {folder}: `sealrun task show ID --download` first",
                code="FILE_NOT_FOUND",
            )
        sealed = found[-1]
    identity = read_identity(key) if key is not None else result_identity(root, create=False)[1]
    folder_out, files = open_result(sealed.resolve(), out_dir.resolve(), identity)
    out.result({"sealed": str(sealed), "path": str(folder_out), "files": [str(f) for f in files]})


_ROOT = typer.Option(
    Path("/"), "--root", help="The folder that stands for / (tests: a fake host tree).", hidden=True
)
_BACKEND = typer.Option(
    None, "--backend", help="The worker backend to check (default: SEALRUN_WORKER_TEE, else simulated)."
)


@tee_app.command("doctor")
def doctor(json_out: bool = JSON_OPTION, root: Path = _ROOT, backend: str | None = _BACKEND) -> None:
    """What this host can attest and sandbox with, and which backend the worker will use."""
    from sealrun.cli.teedoctor import run_doctor

    run_doctor(json_out=json_out, root=root, backend=backend)
