"""Accounts (deposit/withdraw), registry, categories, hub ownership and the devnet token."""

from __future__ import annotations

import boa
import pytest

from sealrun.core.orders import TagBit, make_tag
from tests.contracts.market import DEPOSIT, Market, partials

ZERO = "0x0000000000000000000000000000000000000000"

# An ERC-20 that answers False instead of reverting, to prove the hub checks the answer.
REFUSING_TOKEN = """
# pragma version 0.4.3
balanceOf: public(HashMap[address, uint256])

@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    return False

@external
def transfer(receiver: address, amount: uint256) -> bool:
    return False
"""


def test_deposit_deposit_for_and_withdraw(market: Market) -> None:
    hub, token = market.hub, market.token
    stranger = market.addr("stranger")
    token.mint(stranger, 1000, sender=market.addr("hubowner"))
    with boa.env.prank(stranger):
        token.approve(hub.address, 1000)
        hub.depositFor(400, market.addr("worker"))
        hub.deposit(600)
        assert hub.balanceOf(stranger) == 600
        assert hub.balanceOf(market.addr("worker")) == 400
        hub.withdraw(250)
        assert token.balanceOf(stranger) == 250
        assert hub.balanceOf(stranger) == 350
        with boa.reverts("amount-zero"):
            hub.deposit(0)
        with boa.reverts("amount-zero"):
            hub.withdraw(0)
        with boa.reverts("balance-insufficient"):
            hub.withdraw(351)
        with boa.reverts("zero-address"):
            hub.depositFor(1, ZERO)
        with boa.reverts("token: allowance too low"):
            hub.deposit(1)
    assert hub.token() == token.address
    assert hub.registry() == market.registry.address


def test_locked_funds_cannot_be_withdrawn(market: Market) -> None:
    market.deal(volume=2)
    requester = market.addr("requester")
    assert market.hub.lockedOf(requester) == 216
    with boa.reverts("balance-insufficient"):
        market.hub.withdraw(DEPOSIT - 215, sender=requester)
    market.hub.withdraw(DEPOSIT - 216, sender=requester)


def test_deposits_stay_below_two_to_the_128(market: Market) -> None:
    stranger = market.addr("stranger")
    market.token.mint(stranger, 2**128, sender=market.addr("hubowner"))
    with boa.env.prank(stranger):
        market.token.approve(market.hub.address, 2**256 - 1)
        with boa.reverts("deposit-overflow"):
            market.hub.deposit(2**128 - 2 * DEPOSIT)


def test_a_token_that_refuses_is_reported() -> None:
    owner = boa.env.generate_address()
    token = boa.loads(REFUSING_TOKEN)
    hub = partials()["Hub"].deploy(token.address, owner)
    with boa.reverts("transfer-failed"):
        hub.deposit(1)


def test_registry_creates_assets_with_predictable_ids(market: Market) -> None:
    registry = market.registry
    app_owner = market.addr("app")
    assert registry.appId(app_owner, "hello") == market.app
    app = registry.apps(market.app)
    assert app[0] == app_owner
    assert app[1] == "hello"
    assert app[4] == b"\x02" * 32
    assert registry.appOwner(market.app) == app_owner
    assert registry.datasetOwner(market.dataset) == market.addr("dataset")
    assert registry.workerpoolOwner(market.pool) == market.addr("pool")
    assert registry.datasetId(market.addr("dataset"), "data") == market.dataset
    assert registry.workerpoolId(market.addr("pool"), "pool") == market.pool
    assert registry.owners(market.app, ZERO, market.pool) == (app_owner, ZERO, market.addr("pool"), 20)
    with boa.env.prank(app_owner):
        with boa.reverts("asset-exists"):
            registry.createApp("hello", "u", b"\x01" * 32, b"\x02" * 32, make_tag(TagBit.SGX))
        with boa.reverts("name-empty"):
            registry.createApp("", "u", b"\x01" * 32, b"\x02" * 32, make_tag(TagBit.SGX))
        with boa.reverts("fingerprint-empty"):
            registry.createApp("x", "u", b"\x01" * 32, b"\x00" * 32, make_tag(TagBit.SGX))
        for tech in (bytes(32), make_tag(TagBit.TEE), make_tag(TagBit.GPU)):
            with boa.reverts("tee-technology"):
                registry.createApp("x", "u", b"\x01" * 32, b"\x02" * 32, tech)
        registry.createApp("multi", "u", b"\x01" * 32, b"\x02" * 32, make_tag(TagBit.SGX, TagBit.TDX))
    with boa.env.prank(market.addr("dataset")):
        with boa.reverts("asset-exists"):
            registry.createDataset("data", "u", b"\x01" * 32)
        with boa.reverts("name-empty"):
            registry.createDataset("", "u", b"\x01" * 32)
    with boa.env.prank(market.addr("pool")):
        with boa.reverts("asset-exists"):
            registry.createWorkerpool("pool", 1, 1)
        with boa.reverts("name-empty"):
            registry.createWorkerpool("", 1, 1)
        with boa.reverts("ratio-invalid"):
            registry.createWorkerpool("p2", 101, 1)
        with boa.reverts("ratio-invalid"):
            registry.setWorkerpoolPolicy(market.pool, 1, 101)
        registry.setWorkerpoolPolicy(market.pool, 40, 50)
        assert registry.workerpools(market.pool)[2:] == (40, 50)
    with boa.reverts("not-asset-owner"):
        registry.setWorkerpoolPolicy(market.pool, 1, 1, sender=market.addr("stranger"))


@pytest.mark.parametrize("kind", ["app", "dataset", "workerpool"])
def test_transfer_moves_signing_rights(market: Market, kind: str) -> None:
    registry = market.registry
    owner = {"app": "app", "dataset": "dataset", "workerpool": "pool"}[kind]
    asset = {"app": market.app, "dataset": market.dataset, "workerpool": market.pool}[kind]
    transfer = {
        "app": registry.transferApp,
        "dataset": registry.transferDataset,
        "workerpool": registry.transferWorkerpool,
    }[kind]
    with boa.reverts("not-asset-owner"):
        transfer(asset, market.addr("stranger"), sender=market.addr("stranger"))
    with boa.reverts("zero-address"):
        transfer(asset, ZERO, sender=market.addr(owner))
    orders = market.sign(*market.orders())
    transfer(asset, market.addr("stranger"), sender=market.addr(owner))
    event = registry.get_logs()[-1]
    assert (event.asset, event.previous, event.owner) == (asset, market.addr(owner), market.addr("stranger"))
    # Orders signed by the previous owner no longer match.
    with boa.reverts(f"{kind}-signature"):
        market.hub.matchOrders(*(o.to_abi() for o in orders), sender=market.addr("requester"))
    if kind == "workerpool":
        assert registry.owners(market.app, ZERO, market.pool)[2] == market.addr("stranger")


def test_categories_and_hub_ownership(market: Market) -> None:
    hub = market.hub
    assert hub.categoryCount() == 5
    assert [hub.categories(i)[2] for i in range(5)] == [300, 1200, 3600, 10800, 36000]
    assert [hub.categories(i)[0] for i in range(5)] == ["XS", "S", "M", "L", "XL"]
    owner = market.addr("hubowner")
    with boa.reverts("not-hub-owner"):
        hub.createCategory("GPU", "gpu jobs", 600, sender=market.addr("stranger"))
    with boa.reverts("category-time"):
        hub.createCategory("zero", "never", 0, sender=owner)
    assert hub.createCategory("GPU", "gpu jobs", 600, sender=owner) == 5
    assert hub.categories(5) == ("GPU", "gpu jobs", 600)
    with boa.reverts("not-hub-owner"):
        hub.transferOwnership(market.addr("stranger"), sender=market.addr("stranger"))
    with boa.reverts("zero-address"):
        hub.transferOwnership(ZERO, sender=owner)
    hub.transferOwnership(market.addr("stranger"), sender=owner)
    assert hub.owner() == market.addr("stranger")
    hub.createCategory("XXL", "a day", 86400, sender=market.addr("stranger"))
    # A deal in the new category uses its time for the deadline.
    _, deal = market.deal(request_category=6, workerpool_category=6)
    assert deal[18] - deal[17] == 10 * 86400


def test_devnet_token(market: Market) -> None:
    token = market.token
    owner, stranger, worker = market.addr("hubowner"), market.addr("stranger"), market.addr("worker")
    assert (token.name(), token.symbol(), token.decimals()) == ("sealrun devnet token", "SRLC", 9)
    with boa.reverts("token: not owner"):
        token.mint(stranger, 1, sender=stranger)
    with boa.reverts("token: mint to zero"):
        token.mint(ZERO, 1, sender=owner)
    token.mint(stranger, 10, sender=owner)
    with boa.env.prank(stranger):
        with boa.reverts("token: balance too low"):
            token.transfer(worker, 11)
        with boa.reverts("token: transfer to zero"):
            token.transfer(ZERO, 1)
        assert token.transfer(worker, 4)
        token.approve(worker, 3)
    with boa.reverts("token: allowance too low"):
        token.transferFrom(stranger, worker, 4, sender=worker)
    token.transferFrom(stranger, worker, 3, sender=worker)
    assert token.allowance(stranger, worker) == 0
    assert token.balanceOf(worker) == 7
    supply = token.totalSupply()
    with boa.reverts("token: not owner"):
        token.transferOwnership(stranger, sender=stranger)
    token.transferOwnership(stranger, sender=owner)
    token.mint(worker, 1, sender=stranger)
    assert token.totalSupply() == supply + 1
