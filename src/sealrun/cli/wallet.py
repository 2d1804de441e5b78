"""``sealrun wallet``: create, import and show encrypted wallets (V3 keystores, scrypt).

Private keys are never printed: ``import`` reads the key from a file or a hidden prompt,
never from the command line (where shells keep it in their history).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import CONFIG_OPTION, PASSWORD_FILE_OPTION, Session, password_source
from sealrun.errors import WalletError

if TYPE_CHECKING:
    from sealrun.adapters.keystore import Keystore

__all__ = ["wallet_app"]

wallet_app = typer.Typer(name="wallet", help="Encrypted wallets (keystores) in the project's key folder.")

_KEY_FILE_OPTION = typer.Option(None, "--key-file", help="File holding the hex private key.")
_SCRYPT_OPTION = typer.Option(
    2**18,
    "--scrypt-n",
    help="scrypt cost for the new keystore (lower only for throwaway wallets).",
)


def _keystore(session: Session, scrypt_n: int) -> Keystore:
    from sealrun.adapters.keystore import Keystore

    if scrypt_n < 2**10 or scrypt_n & (scrypt_n - 1):
        raise WalletError("--scrypt-n must be a power of two >= 1024", code="WALLET_INVALID_COST")
    return Keystore(session.config.wallet_dir, scrypt_n=scrypt_n)


@wallet_app.command("create")
def create(
    name: str = typer.Argument("default", help="Wallet name."),
    scrypt_n: int = _SCRYPT_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a wallet with a fresh key, encrypted with a password."""
    out = Output(json_out)
    session = Session.load(config)
    password = password_source(password_file).get(f"encrypt wallet {name!r}", confirm=True)
    if len(password) < 8:
        raise WalletError("the password must have at least 8 characters", code="WALLET_WEAK_PASSWORD")
    info = _keystore(session, scrypt_n).create(name, password)
    out.result({"name": info.name, "address": info.address, "keystore": str(info.path)})


@wallet_app.command("import")
def import_key(
    name: str = typer.Argument("default", help="Wallet name."),
    key_file: Path | None = _KEY_FILE_OPTION,
    scrypt_n: int = _SCRYPT_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Import an existing private key (from --key-file or a hidden prompt)."""
    out = Output(json_out)
    session = Session.load(config)
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise WalletError(
                f"cannot read {key_file}: {error.strerror}", code="WALLET_INVALID_KEY"
            ) from error
    elif sys.stdin.isatty():
        key = str(typer.prompt("Private key (hex)", hide_input=True, err=True))
    else:
        raise WalletError("pass the private key with --key-file", code="WALLET_INVALID_KEY")
    password = password_source(password_file).get(f"encrypt wallet {name!r}", confirm=True)
    info = _keystore(session, scrypt_n).import_key(name, key, password)
    out.result({"name": info.name, "address": info.address, "keystore": str(info.path)})


@wallet_app.command("show")
def show(
    name: str | None = typer.Argument(None, help="Wallet name or address (default: every wallet)."),
    unlock: bool = typer.Option(False, "--unlock", help="Also check the password opens it."),
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show wallets: names, addresses and keystore files (never keys)."""
    out = Output(json_out)
    session = Session.load(config, password_file=password_file)
    wallets = [session.keystore.find(name)] if name else session.keystore.list()
    if unlock:
        for info in wallets:
            password = password_source(password_file).get(f"unlock wallet {info.name!r}")
            session.keystore.unlock(info.address, password)
    rows = [
        {
            "name": w.name,
            "address": w.address,
            "keystore": str(w.path),
            "default": w.name == session.config.wallet,
        }
        for w in wallets
    ]
    if name:
        out.result(rows[0])
        return

    def human(console: Console) -> None:
        if not rows:
            console.print("no wallets yet: `sealrun wallet create`")
        for row in rows:
            console.print(
                f"{'*' if row['default'] else ' '} {row['name']:<16} {row['address']}  {row['keystore']}"
            )

    out.result({"wallets": rows}, human=human)
