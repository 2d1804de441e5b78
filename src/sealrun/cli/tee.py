"""``sealrun tee``: the requester's local layout for confidential tasks.

``tee init`` creates ``tee/inputs`` (your data in clear), ``tee/encryptedOutputs`` (sealed
data and results), ``tee/outputs`` (opened results) and, unless one exists, a result key pair
(identity in ``keys/result.key``, 0600). Running it again keeps the existing key.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.adapters.sealedfiles import read_identity, write_identity
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.result import RESULT_KEY
from sealrun.core.sealing import Identity

__all__ = ["TEE_FOLDERS", "tee_app"]

TEE_FOLDERS = ("tee/inputs", "tee/encryptedOutputs", "tee/outputs")

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
