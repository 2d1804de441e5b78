"""matchOrders: the happy path, every revert reason, and agreement with core.orders.check_match."""

from __future__ import annotations

import dataclasses
from typing import Any

import boa
import pytest

from sealrun.core.orders import (
    CLOSED,
    DatasetOrder,
    MatchContext,
    TagBit,
    check_match,
    make_tag,
    order_hash,
    reason_for_code,
    sign_order,
)
from sealrun.core.orders.reasons import REVERT_REASONS
from sealrun.errors import OrderError
from tests.contracts.market import DEPOSIT, TEE, Market

STRANGER_POOL_TAG = make_tag(TagBit.TEE, TagBit.TDX)


def context(market: Market, a: Any, d: Any, w: Any, r: Any) -> MatchContext:
    """What the chain knows, read from the hub, for the Python rules."""
    hub, registry = market.hub, market.registry
    owners = registry.owners(a.app, d.dataset, w.workerpool)
    hashes = [order_hash(o, market.domain) for o in (a, d, w, r)]
    return MatchContext(
        domain=market.domain,
        category_count=hub.categoryCount(),
        app_owner=owners[0],
        dataset_owner=owners[1],
        workerpool_owner=owners[2],
        scheduler_reward_ratio=owners[3],
        consumed={h: hub.consumed(h) for h in hashes},
        presigned={h: hub.presigned(h) for h in hashes},
        requester_free=hub.balanceOf(r.requester),
        workerpool_owner_free=hub.balanceOf(owners[2]),
    )


def expect_both(market: Market, reason: str, orders: tuple[Any, ...], *, sender: str = "requester") -> None:
    """The contract reverts with ``reason`` and the Python rules raise its code."""
    a, d, w, r = orders
    with pytest.raises(OrderError) as raised:
        check_match(a, d, w, r, context(market, a, d, w, r))
    assert raised.value.code == REVERT_REASONS[reason].code, raised.value
    with boa.reverts(reason):
        market.hub.matchOrders(a.to_abi(), d.to_abi(), w.to_abi(), r.to_abi(), sender=market.addr(sender))


def test_match_locks_price_and_stake_and_emits_the_deal(market: Market) -> None:
    a, d, w, r = market.sign(*market.orders(volume=3))
    plan = check_match(a, d, w, r, context(market, a, d, w, r))
    dealid, deal = market.match(a, d, w, r)
    assert plan.volume == 3
    assert plan.price == 108
    assert plan.stake == 30
    assert market.hub.dealExists(dealid)
    assert market.hub.dealId(deal) == dealid
    assert market.hub.lockedOf(market.addr("requester")) == 3 * 108
    assert market.hub.balanceOf(market.addr("requester")) == DEPOSIT - 3 * 108
    assert market.hub.lockedOf(market.addr("pool")) == 3 * 30
    for o in (a, d, w, r):
        assert market.hub.consumed(order_hash(o, market.domain)) == 3
    assert deal[20] == 3  # volume
    assert deal[19] == 0  # botFirst
    assert deal[18] == deal[17] + 10 * 300  # deadline = start + 10 x XS
    assert [market.hub.taskStatus(dealid, i) for i in range(3)] == [1, 1, 1]
    assert market.hub.taskStatus(b"\x01" * 32, 0) == 0


def test_match_without_dataset_and_partial_volumes(market: Market) -> None:
    a, d, w, r = market.orders(volume=5, with_dataset=False, app_volume=2, request_datasetmaxprice=0)
    _, deal = market.match(*market.sign(a, d, w, r))
    assert deal[20] == 2
    assert deal[3] == "0x0000000000000000000000000000000000000000"
    assert market.hub.lockedOf(market.addr("requester")) == 2 * 105
    # The request keeps 3 tasks: a second app order fills them, botFirst continues at 2.
    a2 = dataclasses.replace(a, salt=b"\x01" * 32, volume=10)
    _, deal2 = market.match(*market.sign(a2, d, w, r))
    assert deal2[20] == 3
    assert deal2[19] == 2


def test_compact_and_presigned_orders_match(market: Market) -> None:
    a, d, w, r = market.orders()
    dom = market.domain
    a = sign_order(a, market.key("app"), dom, compact=True)
    d = sign_order(d, market.key("dataset"), dom, compact=True)
    market.hub.manageWorkerpoolOrder(w.to_abi(), False, sender=market.addr("pool"))
    market.hub.manageRequestOrder(r.to_abi(), False, sender=market.addr("requester"))
    assert market.hub.presigned(order_hash(r, dom)) == market.addr("requester")
    market.match(a, d, w, r, sender="stranger")  # anyone may submit the match


def test_order_hash_views_equal_python(market: Market) -> None:
    a, d, w, r = market.orders()
    dom = market.domain
    assert market.hub.domainSeparator() == dom.separator()
    assert market.hub.appOrderHash(a.to_abi()) == order_hash(a, dom)
    assert market.hub.datasetOrderHash(d.to_abi()) == order_hash(d, dom)
    assert market.hub.workerpoolOrderHash(w.to_abi()) == order_hash(w, dom)
    assert market.hub.requestOrderHash(r.to_abi()) == order_hash(r, dom)


def test_closed_orders_cannot_match_and_only_signers_manage(market: Market) -> None:
    orders = market.sign(*market.orders())
    a, d, w, r = orders
    with boa.reverts("not-order-signer"):
        market.hub.manageAppOrder(a.to_abi(), True, sender=market.addr("stranger"))
    with boa.reverts("not-order-signer"):
        market.hub.manageDatasetOrder(d.to_abi(), True, sender=market.addr("stranger"))
    with boa.reverts("not-order-signer"):
        market.hub.manageWorkerpoolOrder(w.to_abi(), True, sender=market.addr("stranger"))
    with boa.reverts("not-order-signer"):
        market.hub.manageRequestOrder(r.to_abi(), True, sender=market.addr("stranger"))
    for kind, order, owner, fn in (
        ("app", a, "app", market.hub.manageAppOrder),
        ("dataset", d, "dataset", market.hub.manageDatasetOrder),
        ("workerpool", w, "pool", market.hub.manageWorkerpoolOrder),
        ("request", r, "requester", market.hub.manageRequestOrder),
    ):
        with boa.env.anchor():
            fn(order.to_abi(), True, sender=market.addr(owner))
            assert market.hub.consumed(order_hash(order, market.domain)) == CLOSED
            expect_both(market, f"{kind}-closed", orders)


def test_orders_signed_for_another_chain_or_hub_are_rejected(market: Market) -> None:
    from sealrun.core.orders import Domain

    other_chain = Domain(market.domain.chain_id + 1, market.hub.address)
    other_hub = Domain(market.domain.chain_id, market.registry.address)
    a, d, w, r = market.orders()
    for dom in (other_chain, other_hub):
        signed = market.sign(a, d, w, r, domain=dom)
        with boa.reverts("app-signature"):
            market.hub.matchOrders(*(o.to_abi() for o in signed), sender=market.addr("requester"))


def test_replayed_orders_are_rejected(market: Market) -> None:
    orders = market.sign(*market.orders(volume=1))
    market.match(*orders)
    expect_both(market, "request-volume", orders)


def _resign(market: Market, orders: tuple[Any, ...]) -> tuple[Any, ...]:
    return market.sign(*orders)


# Each case: (reason, overrides to market.orders) -- every order is then correctly signed.
MISMATCHES: list[tuple[str, dict[str, Any]]] = [
    ("category-mismatch", {"request_category": 1}),
    ("category-unknown", {"request_category": 9, "workerpool_category": 9}),
    ("trust-unsupported", {"request_trust": 2, "workerpool_trust": 2}),
    ("trust-mismatch", {"workerpool_trust": 0}),
    ("app-price", {"app_appprice": 6}),
    ("dataset-price", {"dataset_datasetprice": 4}),
    ("workerpool-price", {"workerpool_workerpoolprice": 101}),
    ("tee-required", {"app_tag": bytes(32), "request_tag": bytes(32)}),
    ("tag-coverage", {"request_tag": make_tag(TagBit.TEE, TagBit.GPU)}),
    ("app-mismatch", {"request_app": "0x" + "11" * 20}),
    ("dataset-mismatch", {"request_dataset": "0x" + "11" * 20}),
    ("workerpool-mismatch", {"request_workerpool": "0x" + "11" * 20}),
    ("app-dataset-restrict", {"app_datasetrestrict": "0x" + "11" * 20}),
    ("app-workerpool-restrict", {"app_workerpoolrestrict": "0x" + "11" * 20}),
    ("app-requester-restrict", {"app_requesterrestrict": "0x" + "11" * 20}),
    ("dataset-app-restrict", {"dataset_apprestrict": "0x" + "11" * 20}),
    ("dataset-workerpool-restrict", {"dataset_workerpoolrestrict": "0x" + "11" * 20}),
    ("dataset-requester-restrict", {"dataset_requesterrestrict": "0x" + "11" * 20}),
    ("workerpool-app-restrict", {"workerpool_apprestrict": "0x" + "11" * 20}),
    ("workerpool-dataset-restrict", {"workerpool_datasetrestrict": "0x" + "11" * 20}),
    ("workerpool-requester-restrict", {"workerpool_requesterrestrict": "0x" + "11" * 20}),
    ("app-unknown", {"app_app": "0x" + "22" * 20, "request_app": "0x" + "22" * 20}),
    ("dataset-unknown", {"dataset_dataset": "0x" + "22" * 20, "request_dataset": "0x" + "22" * 20}),
    (
        "workerpool-unknown",
        {"workerpool_workerpool": "0x" + "22" * 20, "request_workerpool": "0x" + "22" * 20},
    ),
    ("app-volume", {"app_volume": 0}),
    ("dataset-volume", {"dataset_volume": 0}),
    ("workerpool-volume", {"workerpool_volume": 0}),
    ("request-volume", {"request_volume": 0}),
    (
        "requester-balance",
        {
            "request_volume": 10**11,
            "app_volume": 10**11,
            "dataset_volume": 10**11,
            "workerpool_volume": 10**11,
        },
    ),
]


@pytest.mark.parametrize(("reason", "overrides"), MISMATCHES, ids=[case[0] for case in MISMATCHES])
def test_every_mismatch_reverts_with_its_own_reason(
    market: Market, reason: str, overrides: dict[str, Any]
) -> None:
    orders = market.sign(*market.orders(**overrides))
    expect_both(market, reason, orders)
    assert reason_for_code(REVERT_REASONS[reason].code).reason == reason


def test_tag_coverage_names_tee_technology(market: Market) -> None:
    # The app needs TDX; the pool offers SGX only.
    orders = market.sign(*market.orders(app_tag=make_tag(TagBit.TEE, TagBit.TDX)))
    expect_both(market, "tag-coverage", orders)
    orders = market.sign(*market.orders(app_tag=STRANGER_POOL_TAG, workerpool_tag=STRANGER_POOL_TAG))
    market.match(*orders)


@pytest.mark.parametrize("kind", ["app", "dataset", "workerpool", "request"])
def test_signature_by_someone_else_is_rejected(market: Market, kind: str) -> None:
    a, d, w, r = market.sign(*market.orders())
    found = {"app": a, "dataset": d, "workerpool": w, "request": r}
    found[kind] = sign_order(found[kind], market.key("stranger"), market.domain)
    expect_both(
        market, f"{kind}-signature", (found["app"], found["dataset"], found["workerpool"], found["request"])
    )


@pytest.mark.parametrize("kind", ["app", "dataset", "workerpool", "request"])
def test_missing_or_malformed_signature_is_rejected(market: Market, kind: str) -> None:
    a, d, w, r = market.sign(*market.orders())
    found = {"app": a, "dataset": d, "workerpool": w, "request": r}
    bad = {"app": b"", "dataset": b"\x01" * 65, "workerpool": b"\x00" * 64, "request": b""}[kind]
    found[kind] = dataclasses.replace(found[kind], sign=bad)
    expect_both(
        market, f"{kind}-signature", (found["app"], found["dataset"], found["workerpool"], found["request"])
    )


def test_high_s_signature_is_rejected(market: Market) -> None:
    from sealrun.core.tasks.signatures import SECP256K1_N  # the twin of a valid signature

    a, d, w, r = market.sign(*market.orders())
    s = int.from_bytes(r.sign[32:64], "big")
    v = r.sign[64]
    twin = r.sign[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    expect_both(market, "request-signature", (a, d, w, dataclasses.replace(r, sign=twin)))


def test_stake_must_be_covered(market: Market) -> None:
    orders = market.sign(*market.orders())
    with boa.env.prank(market.addr("pool")):
        market.hub.withdraw(market.hub.balanceOf(market.addr("pool")))
    expect_both(market, "workerpool-stake", orders)


def test_no_dataset_order_ignores_its_fields(market: Market) -> None:
    a, _, w, r = market.orders(with_dataset=False, request_datasetmaxprice=0)
    d = dataclasses.replace(DatasetOrder.none(), datasetprice=7, tag=make_tag(TagBit.GPU))
    dealid, deal = market.match(*market.sign(a, d, w, r))
    assert deal[5] == 0
    assert market.hub.dealExists(dealid)  # no dataset price charged
    assert r.tag == TEE


@pytest.mark.node
def test_orders_signed_by_metamask_are_accepted(market: Market) -> None:
    from sealrun.core.orders import to_compact, typed_data
    from tests.orders.metamask import metamask_sign

    a, d, w, r = market.orders(volume=2)
    keys = [market.key("app"), market.key("dataset"), market.key("pool"), market.key("requester")]
    signed = metamask_sign(
        [(key, typed_data(o, market.domain)) for key, o in zip(keys, (a, d, w, r), strict=True)]
    )
    for (_, digest), order in zip(signed, (a, d, w, r), strict=True):
        assert digest == order_hash(order, market.domain)
    a = dataclasses.replace(a, sign=signed[0][0])
    d = dataclasses.replace(d, sign=to_compact(signed[1][0]))  # EIP-2098 form of MetaMask's signature
    w = dataclasses.replace(w, sign=signed[2][0])
    r = dataclasses.replace(r, sign=signed[3][0])
    dealid, deal = market.match(a, d, w, r)
    assert market.hub.dealExists(dealid)
    assert deal[20] == 2
