"""Where a worker finds an app's bundle: only a registered app's local ``file://`` folder."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import pytest
from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.core.orders import TagBit, make_tag
from sealrun.errors import ServiceError
from sealrun.services.worker.bundles import RegistryBundles


@pytest.fixture(scope="module")
def developer() -> Marketplace:
    """A funded developer's client on a fresh embedded marketplace."""
    rpc = Rpc(EmbeddedChain().web3(), reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=rpc.w3.eth.accounts[0])
    deployment = deploy_marketplace(deployer)
    account = Account.create()
    fund_accounts(deployer, deployment.token, [account.address], ether=10**18, tokens=0)
    return Marketplace(rpc, hub=deployment.hub, account=account, start_block=deployment.block)


def _app(developer: Marketplace, bundle_uri: str) -> str:
    return developer.registry.create_app(
        name=f"app-{secrets.token_hex(4)}", bundle_uri=bundle_uri, checksum=b"\1" * 32,
        fingerprint=b"\2" * 32, tee_technology=make_tag(TagBit.SGX),
    ).address  # fmt: skip


def test_a_registered_file_bundle_resolves_to_its_folder(developer: Marketplace, tmp_path: Path) -> None:
    folder = tmp_path / "my app"
    folder.mkdir()
    bundles = RegistryBundles(developer.registry)
    assert bundles(_app(developer, "file://" + quote(str(folder)))) == folder


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("https://bundles.example/app.tar", "only file://"),
        ("ipfs://bafyapp", "only file://"),
        ("file:///nonexistent/sealrun-bundle", "does not exist here"),
    ],
)
def test_a_bundle_not_on_this_machine_is_unavailable(developer: Marketplace, uri: str, words: str) -> None:
    with pytest.raises(ServiceError) as caught:
        RegistryBundles(developer.registry)(_app(developer, uri))
    assert caught.value.code == "BUNDLE_UNAVAILABLE"
    assert words in caught.value.message


def test_a_file_is_not_a_bundle_folder(developer: Marketplace, tmp_path: Path) -> None:
    (tmp_path / "app.tar").write_bytes(b"not a folder")
    with pytest.raises(ServiceError) as caught:
        RegistryBundles(developer.registry)(_app(developer, f"file://{tmp_path}/app.tar"))
    assert caught.value.code == "BUNDLE_UNAVAILABLE"


def test_an_unregistered_app_is_unknown(developer: Marketplace) -> None:
    with pytest.raises(ServiceError) as caught:
        RegistryBundles(developer.registry)(Account.create().address)
    assert caught.value.code == "APP_UNKNOWN"


def test_an_app_s_bundle_uri_is_read_from_the_chain_once(
    developer: Marketplace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URI is fixed at creation: one registry read per app, not one per task; the folder is
    still checked every time."""
    folder = tmp_path / "bundle"
    folder.mkdir()
    app = _app(developer, "file://" + quote(str(folder)))
    bundles = RegistryBundles(developer.registry)
    reads: list[str] = []
    real = developer.registry.app
    monkeypatch.setattr(developer.registry, "app", lambda address: reads.append(address) or real(address))
    assert bundles(app) == folder
    assert bundles(app.lower()) == folder
    assert reads == [app]
    # A miss is not remembered: the app may be registered since.
    unknown = Account.create().address
    for _ in range(2):
        with pytest.raises(ServiceError) as missing:
            bundles(unknown)
        assert missing.value.code == "APP_UNKNOWN"
    assert reads == [app, unknown, unknown]
    folder.rmdir()
    with pytest.raises(ServiceError) as caught:
        bundles(app)
    assert caught.value.code == "BUNDLE_UNAVAILABLE"
