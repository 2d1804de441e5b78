"""``sealrun init``: write the project config (``sealrun.toml``) with its chain profiles."""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.adapters.profiles import CONFIG_FILE, default_config
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.errors import ConfigError

__all__ = ["init"]

_FOLDER_ARGUMENT = typer.Argument(Path("."), help="Project folder (created if missing).")


def init(
    folder: Path = _FOLDER_ARGUMENT,
    rpc_url: str | None = typer.Option(
        None, "--rpc-url", help="Add a `custom` profile for this JSON-RPC URL."
    ),
    embedded_url: str = typer.Option("http://127.0.0.1:8545", help="Where `sealrun chain serve` listens."),
    anvil_url: str = typer.Option("http://127.0.0.1:8546", help="Where `sealrun chain anvil` listens."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing sealrun.toml."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create sealrun.toml with chain profiles (embedded, anvil, and custom with --rpc-url)."""
    out = Output(json_out)
    path = folder.resolve() / CONFIG_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (pass --force to overwrite it)", code="CONFIG_EXISTS")
    for url in (rpc_url, embedded_url, anvil_url):
        if url is not None and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{url!r} is not an http(s) URL", code="CONFIG_INVALID")
    config = default_config(path, embedded_url=embedded_url, anvil_url=anvil_url, rpc_url=rpc_url)
    config.save()
    config.wallet_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.result(
        {
            "config": str(path),
            "profile": config.profile,
            "profiles": {name: p.rpc_url for name, p in config.profiles.items()},
            "wallet_dir": str(config.wallet_dir),
        }
    )
    out.info("next: `sealrun wallet create`, then `sealrun devnet up` (a whole local marketplace)")
