"""Dataset grants through the SDK on a real chain: plan, match, the deal index and the reader."""

from __future__ import annotations

import pytest

from sealrun.core.orders import ZERO_ADDRESS, DatasetOrder, grant_order
from sealrun.errors import ChainError, OrderError
from tests.chain.conftest import World
from tests.chain.test_marketplace import register, signed_orders


@pytest.fixture(scope="module")
def funded(world: World) -> World:
    world.markets["requester"].deposit(100_000)
    world.markets["pool"].deposit(100_000)
    return world


def test_a_deal_under_a_grant_and_its_revocation(funded: World) -> None:
    world = funded
    app, dataset, pool = register(world)
    owner, requester = world.markets["owner"], world.markets["requester"]
    hub = requester.hub.address
    now = requester.chain_time()
    made = owner.registry.grant(
        dataset=dataset, app=app, requester=world.accounts["requester"].address,
        price=3, max_uses=3, expiry=now + 86_400,
    )  # fmt: skip
    grant = owner.registry.get_grant(made, hub=hub)
    assert grant is not None
    assert (grant.dataset, grant.app, grant.workerpool, grant.uses) == (dataset, app, ZERO_ADDRESS, 0)
    assert [g.grant_id for g in owner.registry.grants(hub=hub, dataset=dataset)] == [made]

    a, _signed, w, r = signed_orders(world, app, dataset, pool, volume=2)
    d = grant_order(grant)
    plan = requester.plan(a, d, w, r)  # the Python rules agree with the hub before gas is spent
    deal = requester.match(a, d, w, r)
    assert deal.volume == plan.volume == 2
    assert owner.registry.get_grant(made, hub=hub).uses == 2  # type: ignore[union-attr]

    reader = world.market(None).reader  # a second client: the grant id comes from the event index
    record = reader.deal(deal.deal_id)
    assert record is not None
    assert record.grant_id == made
    assert reader.grant(made) == owner.registry.get_grant(made, hub=hub)

    owner.registry.revoke_grant(made)
    assert reader.grant(made).revoked  # type: ignore[union-attr]
    _, _, w2, r2 = signed_orders(world, app, dataset, pool, volume=1)
    with pytest.raises(OrderError) as planned:
        requester.plan(a, d, w2, r2)
    assert planned.value.code == "ORDER_GRANT_REVOKED"
    locked = requester.balance().locked
    with pytest.raises(ChainError) as sent:
        requester.match(a, d, w2, r2)
    assert sent.value.code == "ORDER_GRANT_REVOKED"
    assert requester.balance().locked == locked


def test_a_signed_dataset_order_has_no_grant(funded: World) -> None:
    world = funded
    app, dataset, pool = register(world)
    deal = world.markets["requester"].match(*signed_orders(world, app, dataset, pool, volume=1))
    record = world.market(None).reader.deal(deal.deal_id)
    assert record is not None
    assert record.grant_id is None


def test_an_unknown_grant_is_refused_before_gas(funded: World) -> None:
    world = funded
    app, dataset, pool = register(world)
    a, _d, w, r = signed_orders(world, app, dataset, pool, volume=1)
    fake = DatasetOrder(
        dataset=dataset,
        datasetprice=3,
        volume=1,
        tag=bytes(32),
        salt=b"sealrungrant" + b"\x00" * 19 + b"\x63",
    )
    with pytest.raises(OrderError) as planned:
        world.markets["requester"].plan(a, fake, w, r)
    assert planned.value.code == "ORDER_GRANT_UNKNOWN"
