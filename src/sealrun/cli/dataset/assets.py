"""``sealrun dataset`` (assets). ``deploy`` registers sealed data (URI + checksum), ``show`` reads it,
``encrypt`` seals a file or folder to a fresh key; ``push-secret`` gives the dataset's key to the
SMS (re-pushed from ``.sealrun/datasets/<DATASET>.key`` or ``--file``, once per dataset) and
``check-secret`` says whether the SMS holds it.

``dataset deploy --from FILE`` takes the JSON that ``dataset encrypt --json`` prints
(keys ``uri``/``url`` and ``checksum``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.registered import show_registered
from sealrun.cli.secretprompts import push, report
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
from sealrun.errors import ConfigError, UsageError

__all__ = ["dataset_app"]

_FROM_OPTION = typer.Option(None, "--from", help="JSON from `dataset encrypt --json` (uri, checksum).")

dataset_app = typer.Typer(name="dataset", help="Datasets: sealed data, registered on chain.")


def _from_file(path: Path) -> tuple[str | None, str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path} is not a readable JSON file: {error}", code="CONFIG_INVALID") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object", code="CONFIG_INVALID")
    uri = data.get("uri") or data.get("url")
    checksum = data.get("checksum")
    return (str(uri) if uri else None, str(checksum) if checksum else None)


@dataset_app.command("deploy")
def deploy(
    name: str = typer.Option(..., help="Name on chain (unique per owner)."),
    uri: str | None = typer.Option(None, help="Where the sealed data is."),
    checksum: str | None = typer.Option(None, help="0x sha256 of the ciphertext."),
    from_file: Path | None = _FROM_OPTION,
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Register a dataset: where its ciphertext is and the ciphertext's sha256."""
    out = Output(json_out)
    if from_file is not None:
        file_uri, file_checksum = _from_file(from_file)
        uri, checksum = uri or file_uri, checksum or file_checksum
    if not uri or not checksum:
        raise UsageError(
            "a dataset needs --uri and --checksum (or --from a `dataset encrypt` JSON)", code="USAGE"
        )
    digest = parse_bytes32(checksum, "checksum")
    market = Session.load(config, chain, wallet, password_file).market_after(
        lambda address: out.confirm(f"Register dataset {name!r} from {address} (costs gas)?", yes=yes)
    )
    found = market.registry.create_dataset(name=name, uri=uri, checksum=digest)
    out.result(
        {"dataset": found.address, "owner": found.owner, "name": found.name, "uri": uri, "checksum": digest}
    )


@dataset_app.command("show")
def show(
    address: str = typer.Argument(..., help="The dataset's address."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a registered dataset."""
    show_registered(
        "dataset", address, read=lambda registry, at: registry.dataset(at),
        unknown_code="CHAIN_DATASET_UNKNOWN",
        fields=lambda found: {
            "dataset": found.address, "owner": found.owner, "name": found.name, "uri": found.uri,
            "checksum": found.checksum,
        },
        chain=chain, config=config, json_out=json_out,
    )  # fmt: skip


_DATA = typer.Argument(..., help="The file or folder to seal.")
_SEALED_OUT = typer.Option(
    None, "--out", help="Sealed file (default: tee/encryptedOutputs/NAME.age or PATH.age)."
)
_KEY_OUT = typer.Option(
    None, "--key-out", help="Dataset identity file (default: keys/datasets/NAME.key, 0600)."
)
_OVERWRITE = typer.Option(False, "--force", help="Overwrite an existing sealed file and key file.")


@dataset_app.command("encrypt")
def encrypt(
    path: Path = _DATA,
    out: Path | None = _SEALED_OUT,
    key_out: Path | None = _KEY_OUT,
    force: bool = _OVERWRITE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Seal a file or folder (age v1) to a fresh dataset key; print the file, checksum and key file."""
    from sealrun.adapters.sealedfiles import seal_path, write_identity
    from sealrun.core.sealing import Identity
    from sealrun.requester.layout import KEYS_DIR

    output = Output(json_out)
    if not path.exists():
        raise ConfigError(f"{path} does not exist.", code="FILE_NOT_FOUND")
    name = path.resolve().name or "dataset"
    if out is None:
        folder = Path("tee/encryptedOutputs")
        out = folder / f"{name}.age" if folder.is_dir() else path.resolve().with_name(f"{name}.age")
    key_path = key_out or KEYS_DIR / "datasets" / f"{name}.key"
    if key_path.exists() and not force:
        raise ConfigError(f"{key_path} already exists (pass --force to replace it).", code="KEY_FILE_EXISTS")
    identity = Identity.generate()
    with output.progress(f"sealing {name}", path.stat().st_size if path.is_file() else None) as advance:
        sealed = seal_path(path, out, [identity.recipient], progress=advance, overwrite=force)
    try:
        write_identity(key_path, identity, overwrite=force)
    except BaseException:
        sealed.path.unlink(missing_ok=True)  # without its key the sealed file is useless
        raise
    output.result(
        {
            "path": str(sealed.path),
            "checksum": sealed.checksum,
            "kind": sealed.kind,
            "key_file": str(key_path),
            "recipient": str(identity.recipient),
            "plaintext_size": sealed.plaintext_size,
            "ciphertext_size": sealed.ciphertext_size,
        }
    )


_DATASET = typer.Argument(..., help="The dataset's address.")
_KEY_FILE = typer.Option(
    None, "--file", help="The dataset's age identity file (default: .sealrun/datasets/DATASET.key)."
)
_FILENAME = typer.Option(
    None,
    "--filename",
    help="The name the app sees it under (IEXEC_DATASET_FILENAME; default: its address).",
)


@dataset_app.command("push-secret")
def push_secret(
    dataset: str = _DATASET,
    file: Path | None = _KEY_FILE,
    filename: str | None = _FILENAME,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Push DATASET's key to the SMS (once; only the dataset's owner may)."""
    from sealrun.adapters.sealedfiles import read_identity
    from sealrun.core.tasks.filenames import check_dataset_filename
    from sealrun.requester.layout import DATASETS
    from sealrun.requester.smssecrets import push_dataset_key

    out = Output(json_out)
    address = parse_address(dataset, "dataset")
    name = None if filename is None else check_dataset_filename(filename)
    session = Session.load(config, chain, wallet, password_file)
    key_file = file or session.config.path.parent / DATASETS / f"{address}.key"
    identity = str(read_identity(key_file))
    push(
        session,
        lambda connection: push_dataset_key(connection, address, identity, filename=name),
        out,
        {"kind": "dataset", "dataset": address, "key_file": str(key_file)},
        f"the key of {address}",
    )


@dataset_app.command("check-secret")
def check_secret(
    dataset: str = _DATASET,
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Whether the SMS holds DATASET's key (exit status 1 if not); never the key."""
    from sealrun.requester.smssecrets import dataset_key_status

    out = Output(json_out)
    address = parse_address(dataset, "dataset")
    status = dataset_key_status(Session.load(config, chain).service_url("sms"), address)
    report(out, {"kind": "dataset", "dataset": address}, status, f"sealrun dataset push-secret {address}")
