"""``sealrun app``: app bundles. ``deploy`` registers a bundle on chain, ``show`` reads it back.

``app deploy`` computes the bundle's fingerprint (our MRENCLAVE) from the folder with
:func:`sealrun.adapters.bundlefiles.load_bundle`; the fingerprint is what the SMS compares
with the attested measurement before releasing any key.
"""

from __future__ import annotations

from pathlib import Path

import typer

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
from sealrun.errors import ConfigError

__all__ = ["apps_app"]

apps_app = typer.Typer(name="app", help="Apps: measured bundles registered on chain.")

_BUNDLE_ARGUMENT = typer.Argument(..., help="The app bundle folder (with sealrun-app.toml).")
_TEE = {"sgx": 1, "tdx": 2, "sev-snp": 3, "nitro": 4}


@apps_app.command("deploy")
def deploy(
    bundle: Path = _BUNDLE_ARGUMENT,
    name: str | None = typer.Option(None, help="Name on chain (default: the manifest's name)."),
    uri: str | None = typer.Option(
        None, help="Where the bundle is published (default: file:// of the folder)."
    ),
    checksum: str | None = typer.Option(
        None, help="sha256 of the published bundle (default: its fingerprint)."
    ),
    tee: str = typer.Option("sgx", help=f"TEE technology the app is built for: {', '.join(_TEE)}."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Register an app bundle: its name, URI, checksum and fingerprint."""
    from sealrun.adapters.bundlefiles import load_bundle

    out = Output(json_out)
    if tee not in _TEE:
        raise ConfigError(f"--tee must be one of {', '.join(_TEE)}", code="CONFIG_INVALID")
    loaded = load_bundle(bundle)
    digest = parse_bytes32(checksum, "--checksum") if checksum else loaded.fingerprint
    session = Session.load(config, chain, wallet, password_file)
    market = session.market(wallet=True)
    app_name = name or loaded.manifest.name
    out.confirm(f"Register app {app_name!r} from {market.address} (costs gas)?", yes=yes)
    app = market.registry.create_app(
        name=app_name,
        bundle_uri=uri or bundle.resolve().as_uri(),
        checksum=digest,
        fingerprint=loaded.fingerprint,
        tee_technology=(1 << _TEE[tee]).to_bytes(32, "big"),
    )
    out.result({"app": app.address, "owner": app.owner, "name": app.name, "fingerprint": app.fingerprint})


@apps_app.command("show")
def show(
    address: str = typer.Argument(..., help="The app's address."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a registered app."""
    from sealrun.errors import ChainError

    out = Output(json_out)
    app_address = parse_address(address, "app")
    found = Session.load(config, chain).market(wallet=False).registry.app(app_address)
    if found is None:
        raise ChainError(f"no app is registered at {app_address}", code="CHAIN_APP_UNKNOWN")
    out.result(
        {
            "app": found.address,
            "owner": found.owner,
            "name": found.name,
            "bundle_uri": found.bundle_uri,
            "checksum": found.checksum,
            "fingerprint": found.fingerprint,
            "tee_technology": found.tee_technology,
        }
    )
