"""The app developer's side: register a measured bundle on chain and offer it on the market.

The bundle's fingerprint (our MRENCLAVE, :func:`sealrun.adapters.bundlefiles.load_bundle`) is
what the SMS compares with the attested measurement before it releases any key.

Error codes: ``CONFIG_INVALID`` (an unknown TEE technology, :class:`~sealrun.errors.ConfigError`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.core.orders import AppOrder
from sealrun.errors import ConfigError
from sealrun.requester.buying import TEE_TAG, publish_order
from sealrun.requester.connection import Connection

if TYPE_CHECKING:
    from sealrun.adapters.bundlefiles import AppBundle
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.chain.models import App

__all__ = ["TEE_TECHNOLOGIES", "AppDeveloper", "DeployedApp", "register_app"]

#: The TEE technologies an app may be built for, by their bit in ``tee_technology``.
TEE_TECHNOLOGIES = {"sgx": 1, "tdx": 2, "sev-snp": 3, "nitro": 4}


def register_app(
    market: Marketplace,
    bundle: AppBundle,
    *,
    name: str | None = None,
    uri: str | None = None,
    checksum: bytes | None = None,
    tee: str = "sgx",
) -> App:
    """Register a measured bundle (:func:`~sealrun.adapters.bundlefiles.load_bundle`) as an app:
    its name (default: the manifest's), URI (default: ``file://`` of the folder), checksum
    (default: its fingerprint) and fingerprint.

    Raises:
        ConfigError: ``CONFIG_INVALID`` (unknown ``tee``); ChainError.
    """
    if tee not in TEE_TECHNOLOGIES:
        raise ConfigError(f"--tee must be one of {', '.join(TEE_TECHNOLOGIES)}", code="CONFIG_INVALID")
    return market.registry.create_app(
        name=name or bundle.manifest.name,
        bundle_uri=uri or bundle.root.as_uri(),
        checksum=checksum or bundle.fingerprint,
        fingerprint=bundle.fingerprint,
        tee_technology=(1 << TEE_TECHNOLOGIES[tee]).to_bytes(32, "big"),
    )


@dataclass(frozen=True)
class DeployedApp:
    """An app registered on chain with an open app order."""

    address: str
    fingerprint: str
    order_hash: str


@dataclass
class AppDeveloper:
    """A wallet that publishes apps.

    Args:
        connection: the developer's wallet on the marketplace (:class:`~.connection.Connection`).
    """

    connection: Connection

    def deploy(self, bundle: Path, *, price: int = 0, volume: int = 1000, tee: str = "sgx") -> DeployedApp:
        """Register ``bundle`` and publish an app order: ``volume`` tasks at ``price`` each.

        Raises:
            ConfigError: the bundle or manifest is invalid; ChainError; OrderError.
        """
        market = self.connection.market
        app = register_app(market, load_bundle(bundle), tee=tee)
        order = market.sign(
            AppOrder(
                app=app.address, appprice=price, volume=volume, tag=TEE_TAG, salt=secrets.token_bytes(32)
            )
        )
        order_hash = publish_order(self.connection, "app", order)
        return DeployedApp(
            address=str(app.address), fingerprint="0x" + app.fingerprint.hex(), order_hash=order_hash
        )
