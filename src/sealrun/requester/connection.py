"""One wallet connected to one marketplace: the chain, and the URLs of its services.

A :class:`Connection` is what every SDK role (:class:`~sealrun.requester.Requester`,
:class:`~sealrun.requester.DataOwner`, :class:`~sealrun.requester.AppDeveloper`) stands on. It
holds no settings of its own: the caller (the CLI's session, or a script) says which chain,
which hub, which wallet and where each service is. It opens a short-lived client per call, so a
connection is cheap to keep and safe to share between roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sealrun.core.requests import RequestDomain
from sealrun.errors import ConfigError, WalletError

if TYPE_CHECKING:  # web3 and eth-account take seconds to import
    from eth_account.signers.local import LocalAccount

    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.http.market import MarketClient
    from sealrun.adapters.http.signing import SignedRequestAuth
    from sealrun.adapters.http.sms import SmsClient
    from sealrun.adapters.http.store import StoreClient
    from sealrun.adapters.profiles import ChainProfile

__all__ = ["Connection", "ProgressBar", "silent_progress"]

#: Makes a byte progress bar: ``progress(description, total)`` yields ``advance(n)``.
ProgressBar = Callable[[str, "int | None"], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def silent_progress(_description: str, _total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar that shows nothing (the default)."""
    yield lambda _n: None


@dataclass
class Connection:
    """A wallet on a marketplace, with its services and the folder its files go to.

    Args:
        market: the chain client, with the wallet's account as sender.
        account: the wallet's account (signs transactions and requests to the services).
        services: base URL per service (``market``, ``sms``, ``store``, ``scheduler``).
        root: the project folder (keys, sealed datasets, downloads: :mod:`.layout`).
        deploy_block: the block the hub was deployed at (event scans start there).
        progress: makes byte progress bars for uploads and downloads (silent by default).
    """

    market: Marketplace
    account: LocalAccount
    services: Mapping[str, str]
    root: Path
    deploy_block: int = 0
    progress: ProgressBar = field(default=silent_progress, repr=False)

    @classmethod
    def open(
        cls,
        profile: ChainProfile,
        account: LocalAccount,
        services: Mapping[str, str],
        root: Path,
        *,
        index: Path | None = None,
        progress: ProgressBar = silent_progress,
    ) -> Connection:
        """Connect ``account`` to the marketplace of ``profile``.

        Raises:
            ConfigError: ``PROFILE_NOT_DEPLOYED``; ChainError: ``CHAIN_UNREACHABLE``, ``CHAIN_NO_HUB``.
        """
        from sealrun.adapters.chain.client import Marketplace

        hub, _ = profile.deployed()
        market = Marketplace.connect(
            profile.rpc_url, hub=hub, account=account, index=index, start_block=profile.deploy_block
        )
        return cls(market, account, dict(services), root, profile.deploy_block, progress)

    @classmethod
    def of(
        cls,
        market: Marketplace,
        services: Mapping[str, str],
        root: Path,
        *,
        deploy_block: int = 0,
        progress: ProgressBar = silent_progress,
    ) -> Connection:
        """Wrap a marketplace already connected with a wallet.

        Raises:
            WalletError: ``WALLET_REQUIRED`` when ``market`` has no account to sign with.
        """
        sender = market.sender
        if sender is None or sender.account is None:
            raise WalletError("no wallet is unlocked", code="WALLET_REQUIRED")
        return cls(market, sender.account, dict(services), root, deploy_block, progress)

    @property
    def address(self) -> str:
        """The wallet's address."""
        return str(self.account.address)

    @property
    def key(self) -> bytes:
        """The wallet's private key (signs requests to the services)."""
        return bytes(self.account.key)

    @property
    def domain(self) -> RequestDomain:
        """The EIP-712 domain of signed requests to this deployment's services."""
        return RequestDomain(chain_id=self.market.rpc.chain_id, hub=self.market.hub.address)

    def service_url(self, service: str) -> str:
        """The base URL of ``service`` (or its replicas' URLs, comma-separated).

        Raises:
            ConfigError: ``SERVICE_URL_MISSING``, ``SERVICE_URL_INVALID``.
        """
        url = self.services.get(service)
        if not url:
            raise ConfigError(
                f"no {service} URL: start a devnet (`sealrun devnet up`) "
                f"or set SEALRUN_{service.upper()}_URL",
                code="SERVICE_URL_MISSING",
            )
        from sealrun.adapters.http.base import normalize_service_urls

        return normalize_service_urls(url)

    def store(self) -> StoreClient:
        """A client of the store (close it after use)."""
        from sealrun.adapters.http.store import StoreClient

        return StoreClient(self.service_url("store"))

    def sms(self) -> SmsClient:
        """A client of the SMS, bound to this deployment (close it after use)."""
        from sealrun.adapters.http.sms import SmsClient

        return SmsClient(self.service_url("sms"), domain=self.domain)

    def book(self) -> MarketClient:
        """A client of the market (close it after use)."""
        from sealrun.adapters.http.market import MarketClient

        return MarketClient(self.service_url("market"))

    def signer(self) -> SignedRequestAuth:
        """Signs store requests with this wallet (uploads of its datasets, reads of its tasks' output)."""
        from sealrun.adapters.http.signing import SignedRequestAuth

        return SignedRequestAuth(self.key, self.domain)
