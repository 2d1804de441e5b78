"""What every chain command shares: the project config, the wallet, the marketplace.

This is the CLI's composition root for the chain: it reads ``sealrun.toml`` (``--config``,
``$SEALRUN_CONFIG``, else ``./sealrun.toml``), picks the chain profile (``--chain``,
``$SEALRUN_CHAIN``), unlocks the wallet (``--wallet``; the password from
``--password-file``, ``$SEALRUN_WALLET_PASSWORD``, or a prompt on a terminal) and connects a
:class:`~sealrun.adapters.chain.client.Marketplace` whose deal index lives in
``.sealrun/<profile>-index.sqlite`` next to the config, so no command rescans the chain.

While a devnet runs (``sealrun devnet up``; its state file is found in
``.sealrun/devnet`` next to the config or in ``$SEALRUN_DEVNET``), it is the profile
``devnet`` and the default one, and :meth:`Session.service_url` gives its services' URLs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sealrun.adapters.http.base import normalize_service_urls
from sealrun.adapters.profiles import CONFIG_FILE, ChainProfile, ProjectConfig
from sealrun.api import ids
from sealrun.devnet.state import DevnetState, locate_state
from sealrun.errors import ConfigError

if TYPE_CHECKING:  # web3 and eth-account take seconds to import: only commands using them pay
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.keystore import Keystore, PasswordSource, Wallet
    from sealrun.requester.connection import Connection, ProgressBar

_SERVICES = ("market", "sms", "store", "scheduler")

__all__ = [
    "CHAIN_OPTION",
    "CONFIG_OPTION",
    "DEVNET_PROFILE",
    "PASSWORD_FILE_OPTION",
    "WALLET_OPTION",
    "YES_OPTION",
    "Session",
    "parse_address",
    "parse_amount",
    "parse_bytes32",
]

CONFIG_OPTION = typer.Option(
    None, "--config", help="Project config (default: $SEALRUN_CONFIG or ./sealrun.toml)."
)
CHAIN_OPTION = typer.Option(
    None, "--chain", help="Chain profile of sealrun.toml (default: the selected one)."
)
WALLET_OPTION = typer.Option(None, "--wallet", help="Wallet name or address (default: the project's wallet).")
PASSWORD_FILE_OPTION = typer.Option(
    None,
    "--password-file",
    help="File holding the wallet password (else $SEALRUN_WALLET_PASSWORD or a prompt).",
)
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask before spending.")
DEVNET_PROFILE = "devnet"


def _prompt(purpose: str, confirm: bool) -> str:
    return str(typer.prompt(f"Password to {purpose}", hide_input=True, confirmation_prompt=confirm, err=True))


def password_source(password_file: Path | None) -> PasswordSource:
    """File, then ``$SEALRUN_WALLET_PASSWORD``, then a prompt (only on a terminal)."""
    from sealrun.adapters.keystore import PasswordSource

    prompt = _prompt if sys.stdin.isatty() else None
    return PasswordSource(
        file=password_file, env_value=os.environ.get("SEALRUN_WALLET_PASSWORD"), prompt=prompt
    )


def config_path(config: Path | None) -> Path:
    """Where the project config is."""
    if config is not None:
        return config
    env = os.environ.get("SEALRUN_CONFIG")
    return Path(env) if env else Path.cwd() / CONFIG_FILE


@dataclass
class Session:
    """The project config plus the options of one command invocation."""

    config: ProjectConfig
    chain_name: str | None = None
    wallet_name: str | None = None
    password_file: Path | None = None

    @classmethod
    def load(
        cls,
        config: Path | None,
        chain: str | None = None,
        wallet: str | None = None,
        password_file: Path | None = None,
    ) -> Session:
        """Read the config.

        Raises:
            ConfigError: ``CONFIG_NOT_FOUND``, ``CONFIG_INVALID``.
        """
        chain = chain or os.environ.get("SEALRUN_CHAIN") or None
        return cls(ProjectConfig.load(config_path(config)), chain, wallet, password_file)

    @property
    def profile(self) -> ChainProfile:
        """The selected chain profile; a running devnet is the profile ``devnet`` and the default."""
        if self.chain_name in (None, DEVNET_PROFILE):
            devnet = self.devnet()
            if devnet is not None:
                return devnet.profile()
            if self.chain_name == DEVNET_PROFILE:
                raise ConfigError(
                    "no devnet is running: `sealrun devnet up` first", code="DEVNET_NOT_RUNNING"
                )
        return self.config.chain(self.chain_name)

    def devnet(self) -> DevnetState | None:
        """The running devnet of this project (or of ``$SEALRUN_DEVNET``), if any."""
        root = locate_state(self.config.path.parent, os.environ)
        return DevnetState.load(root) if root is not None else None

    def service_url(self, service: str) -> str:
        """The base URL of ``service`` (``market``, ``sms``, ``store``, ``scheduler``).

        ``$SEALRUN_<SERVICE>_URL`` wins; else the running devnet's (unless ``--chain`` names a
        profile other than ``devnet``).

        Raises:
            ConfigError: ``SERVICE_URL_MISSING``, ``SERVICE_URL_INVALID``.
        """
        explicit = os.environ.get(f"SEALRUN_{service.upper()}_URL")
        if explicit:
            # One URL or several replicas' (comma-separated): SERVICE_URL_INVALID otherwise.
            return normalize_service_urls(explicit)
        devnet = self.devnet() if self.chain_name in (None, DEVNET_PROFILE) else None
        if devnet is not None and service in devnet.services:
            return devnet.services[service]
        raise ConfigError(
            f"no {service} URL: start a devnet (`sealrun devnet up`) or set SEALRUN_{service.upper()}_URL",
            code="SERVICE_URL_MISSING",
        )

    def optional_service_url(self, service: str) -> str | None:
        """The base URL of ``service``, or ``None`` where none is configured (a bare chain)."""
        try:
            return self.service_url(service)
        except ConfigError as error:
            if error.code != "SERVICE_URL_MISSING":
                raise
            return None

    def connection(self, progress: ProgressBar | None = None) -> Connection:
        """Unlock the wallet and connect it, with the services' URLs, for the SDK
        (:mod:`sealrun.requester`); ``progress`` draws byte progress bars (silent by default).

        Raises:
            ConfigError, WalletError, ChainError: as :meth:`market`.
        """
        from sealrun.requester.connection import Connection, silent_progress

        services = {name: url for name in _SERVICES if (url := self.optional_service_url(name))}
        return Connection.of(
            self.market(wallet=True),
            services,
            self.config.path.parent,
            deploy_block=self.profile.deploy_block,
            progress=progress or silent_progress,
        )

    @property
    def keystore(self) -> Keystore:
        """The project's key folder."""
        from sealrun.adapters.keystore import Keystore

        return Keystore(self.config.wallet_dir)

    def wallet_address(self) -> str:
        """The selected wallet's address, read from its keystore without unlocking it.

        Raises:
            WalletError: ``WALLET_NOT_FOUND``.
        """
        return self.keystore.find(self.wallet_name or self.config.wallet).address

    def unlock(self) -> Wallet:
        """Unlock the selected wallet.

        Raises:
            WalletError: not found, wrong password, no password source.
        """
        name = self.wallet_name or self.config.wallet
        info = self.keystore.find(name)
        password = password_source(self.password_file).get(f"unlock wallet {info.name!r}")
        from sealrun.cli.output import working

        # scrypt takes seconds by design: say what the wait is.
        with working(f"unlocking wallet {info.name!r} (scrypt) ..."):
            return self.keystore.unlock(info.address, password)

    def index_path(self) -> Path:
        """The deal index file of the selected profile (a devnet's lives and dies with it)."""
        if self.profile.name == DEVNET_PROFILE:
            devnet = self.devnet()
            if devnet is not None:
                return devnet.root / "index.sqlite"
        return self.config.path.parent / ".sealrun" / f"{self.profile.name}-index.sqlite"

    def deployed_hub(self) -> str:
        """The hub of the selected profile.

        Raises:
            ConfigError: ``DEVNET_NOT_RUNNING`` when no chain was named, no devnet runs and the
                default profile has no marketplace (the usual case after `devnet down`);
                ``PROFILE_NOT_DEPLOYED`` for a named profile without one.
        """
        profile = self.profile
        if (profile.hub is None or profile.token is None) and self.chain_name is None:
            raise ConfigError(
                "the devnet is not running: `sealrun devnet up` "
                f"(or deploy on the profile {profile.name!r}: `sealrun chain deploy --chain {profile.name}`)",
                code="DEVNET_NOT_RUNNING",
            )
        return profile.deployed()[0]

    def market_after(self, confirm: Callable[[str], None]) -> Marketplace:
        """Check the chain, ask ``confirm(wallet address)``, and only then unlock and connect.

        Unlocking runs scrypt (seconds): a user who says no, or a script without ``--yes``,
        must not wait for it first.
        """
        self.deployed_hub()
        confirm(self.wallet_address())
        return self.market(wallet=True)

    def market(self, *, wallet: bool) -> Marketplace:
        """Connect to the selected chain's marketplace, unlocking the wallet if ``wallet``.

        Raises:
            ConfigError: ``PROFILE_NOT_DEPLOYED``, ``DEVNET_NOT_RUNNING``; ChainError:
                ``CHAIN_UNREACHABLE``, ``CHAIN_NO_HUB``.
        """
        from sealrun.adapters.chain.client import Marketplace

        profile = self.profile
        hub = self.deployed_hub()
        account = self.unlock().account if wallet else None
        return Marketplace.connect(
            profile.rpc_url,
            hub=hub,
            account=account,
            index=self.index_path(),
            start_block=profile.deploy_block,
        )


def parse_address(value: str, what: str) -> str:
    """A checksummed address (:func:`sealrun.api.ids.parse_address`) or ``INVALID_ADDRESS``."""
    return ids.parse_address(value, what)


def parse_bytes32(value: str, what: str) -> bytes:
    """32 bytes (:func:`sealrun.api.ids.parse_bytes32`), or ``INVALID_BYTES32`` naming ``what``."""
    return ids.parse_bytes32(value, what)


def parse_amount(value: str, decimals: int, what: str = "amount") -> int:
    """Tokens as typed by a user (``"1.5"``) to the smallest unit, or ``ConfigError(INVALID_AMOUNT)``."""
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise ConfigError(f"{what} is not a number: {value!r}", code="INVALID_AMOUNT") from None
    units = amount * (Decimal(10) ** decimals)
    if amount <= 0 or units != units.to_integral_value():
        raise ConfigError(
            f"{what} must be positive with at most {decimals} decimals: {value!r}", code="INVALID_AMOUNT"
        )
    return int(units)
