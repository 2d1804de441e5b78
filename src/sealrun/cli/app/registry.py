"""``sealrun app deploy``/``show``: an app bundle registered on chain; ``push-secret``/
``check-secret``: its developer secret in the SMS (``IEXEC_APP_DEVELOPER_SECRET``), which only
the app's on-chain owner may push.

``app deploy`` computes the bundle's fingerprint (our MRENCLAVE) from the folder
(:func:`sealrun.requester.apps.register_app`); the fingerprint is what the SMS compares with
the attested measurement before releasing any key.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.app.group import BUNDLE_ARGUMENT, app_app
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.registered import show_registered
from sealrun.cli.secretprompts import STDIN_OPTION, VALUE_FILE_OPTION, push, read_secret_value, report
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

__all__ = ["check_secret", "deploy", "push_secret", "show"]

_APP = typer.Argument(..., help="The app's address.")
# The TEE technologies of sealrun.requester.apps, spelt here too: `--help` must not load the bundle reader.
_TEE = ("sgx", "tdx", "sev-snp", "nitro")


@app_app.command("deploy")
def deploy(
    bundle: Path = BUNDLE_ARGUMENT,
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
    from sealrun.requester.apps import register_app

    out = Output(json_out)
    if tee not in _TEE:
        raise ConfigError(f"--tee must be one of {', '.join(_TEE)}", code="CONFIG_INVALID")
    loaded = load_bundle(bundle)
    digest = parse_bytes32(checksum, "--checksum") if checksum else None
    market = Session.load(config, chain, wallet, password_file).market(wallet=True)
    app_name = name or loaded.manifest.name
    out.confirm(f"Register app {app_name!r} from {market.address} (costs gas)?", yes=yes)
    app = register_app(market, loaded, name=app_name, uri=uri, checksum=digest, tee=tee)
    out.result({"app": app.address, "owner": app.owner, "name": app.name, "fingerprint": app.fingerprint})


@app_app.command("show")
def show(
    address: str = typer.Argument(..., help="The app's address."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a registered app."""
    show_registered(
        "app", address, read=lambda registry, at: registry.app(at), unknown_code="CHAIN_APP_UNKNOWN",
        fields=lambda found: {
            "app": found.address, "owner": found.owner, "name": found.name, "bundle_uri": found.bundle_uri,
            "checksum": found.checksum, "fingerprint": found.fingerprint,
            "tee_technology": found.tee_technology,
        },
        chain=chain, config=config, json_out=json_out,
    )  # fmt: skip


@app_app.command("push-secret")
def push_secret(
    app: str = _APP,
    file: Path | None = VALUE_FILE_OPTION,
    stdin: bool = STDIN_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Push (or replace) APP's developer secret (IEXEC_APP_DEVELOPER_SECRET); only its owner may."""
    from sealrun.requester.smssecrets import push_app_secret

    out = Output(json_out)
    address = parse_address(app, "app")
    value = read_secret_value(file, stdin)
    session = Session.load(config, chain, wallet, password_file)
    push(
        session,
        lambda connection: push_app_secret(connection, address, value),
        out,
        {"kind": "app", "app": address},
        f"the developer secret of {address}",
    )


@app_app.command("check-secret")
def check_secret(
    app: str = _APP,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Whether the SMS holds APP's developer secret (exit status 1 if not); never its value."""
    from sealrun.requester.smssecrets import app_secret_status

    out = Output(json_out)
    address = parse_address(app, "app")
    status = app_secret_status(Session.load(config, chain, wallet).service_url("sms"), address)
    report(out, {"kind": "app", "app": address}, status, f"sealrun app push-secret {address}")
