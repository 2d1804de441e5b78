"""Dataset grants: grant, revoke, and matchOrders counting uses through the registry."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import boa
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sealrun.core.orders import DatasetOrder, order_hash, sign_order
from sealrun.core.orders.grants import grant_id, is_grant_id
from tests.contracts.market import ACTORS, DEPOSIT, Market, deploy_market

ZERO = "0x" + "00" * 20
DAY = 86_400


def make_grant(
    market: Market,
    *,
    app: str | None = None,
    requester: str = ZERO,
    workerpool: str = ZERO,
    price: int = 3,
    uses: int = 5,
    expiry: int | None = None,
    sender: str = "dataset",
) -> bytes:
    now = int(boa.env.evm.patch.timestamp)
    return bytes(
        market.registry.grant(
            market.dataset,
            app or market.app,
            requester,
            workerpool,
            price,
            uses,
            expiry if expiry is not None else now + DAY,
            False,
            sender=market.addr(sender),
        )
    )


def granted_orders(market: Market, gid: bytes, *, volume: int = 1, price: int = 3) -> tuple[Any, ...]:
    """Signed app, pool and request orders with an unsigned dataset order referencing ``gid``."""
    salt = secrets.token_bytes(32)  # a fresh request each time (an equal one would be consumed)
    a, d, w, r = market.sign(*market.orders(volume=volume, request_datasetmaxprice=10, request_salt=salt))
    d = DatasetOrder(dataset=market.dataset, datasetprice=price, volume=0, tag=bytes(32), salt=gid)
    return a, d, w, r


def matched_dataset_hash(market: Market, orders: tuple[Any, ...]) -> tuple[bytes, tuple[Any, ...], bytes]:
    """Match; return the deal id, the deal and the event's datasetHash (the grant id under a grant)."""
    a, d, w, r = orders
    dealid = market.hub.matchOrders(
        a.to_abi(), d.to_abi(), w.to_abi(), r.to_abi(), sender=market.addr("requester")
    )
    event = [log for log in market.hub.get_logs() if type(log).__name__ == "OrdersMatched"][-1]
    return bytes(dealid), tuple(event.deal), bytes(event.datasetHash)


def test_grant_ids_carry_the_mark(market: Market) -> None:
    first = make_grant(market)
    second = make_grant(market)
    assert first == grant_id(1)
    assert second == grant_id(2)
    assert is_grant_id(first)
    assert not is_grant_id(b"\x01" * 32)
    stored = market.registry.grants(first)
    assert stored[0] == market.dataset
    assert stored[1] == market.addr("dataset")
    assert stored[9] is False  # revoked


def test_only_the_owner_grants_and_revokes(market: Market) -> None:
    with boa.reverts("not-asset-owner"):
        make_grant(market, sender="stranger")
    gid = make_grant(market)
    with boa.reverts("not-asset-owner"):
        market.registry.revokeGrant(gid, sender=market.addr("stranger"))
    market.registry.revokeGrant(gid, sender=market.addr("dataset"))
    with boa.reverts("grant-revoked"):
        market.registry.revokeGrant(gid, sender=market.addr("dataset"))
    with boa.reverts("grant-unknown"):
        market.registry.revokeGrant(grant_id(99), sender=market.addr("dataset"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"uses": 0}, "grant-uses"),
        ({"uses": 2**64}, "grant-uses"),
        ({"price": 2**128}, "grant-price-range"),
        ({"expiry": 0}, "grant-expiry"),
        ({"app": ZERO}, "zero-address"),
    ],
)
def test_grant_bad_input(market: Market, changes: dict[str, Any], reason: str) -> None:
    with boa.reverts(reason):
        make_grant(market, **changes)


def test_match_under_a_grant_counts_uses_and_pays_the_grant_price(market: Market) -> None:
    gid = make_grant(market, uses=5, price=3)
    before = market.totals()
    dealid, deal, emitted = matched_dataset_hash(market, granted_orders(market, gid, volume=3))
    assert emitted == gid
    assert deal[20] == 3  # volume
    assert deal[5] == 3  # datasetPrice
    assert market.registry.grantUses(market.hub.address, gid) == 3
    # The rest of the grant: the deal takes only what is left (like an order's volume).
    _dealid2, deal2 = market.match(*granted_orders(market, gid, volume=4))
    assert deal2[20] == 2
    assert market.registry.grantUses(market.hub.address, gid) == 5
    with boa.reverts("grant-exhausted"):
        market.match(*granted_orders(market, gid, volume=1))
    market.finalize(dealid, deal, 0)
    assert market.hub.balanceOf(market.addr("dataset")) == 3
    assert market.totals() == before


def test_a_signed_dataset_order_is_untouched_by_grants(market: Market) -> None:
    _dealid, _deal, emitted = matched_dataset_hash(market, market.sign(*market.orders()))
    assert emitted == order_hash(market.sign(*market.orders())[1], market.domain)
    assert not is_grant_id(emitted)


def test_revoked_and_expired_grants_do_not_match(market: Market) -> None:
    gid = make_grant(market)
    market.registry.revokeGrant(gid, sender=market.addr("dataset"))
    with boa.reverts("grant-revoked"):
        market.match(*granted_orders(market, gid))
    now = int(boa.env.evm.patch.timestamp)
    short = make_grant(market, expiry=now + 10)
    boa.env.time_travel(seconds=10)
    with boa.reverts("grant-expired"):
        market.match(*granted_orders(market, short))


@pytest.mark.parametrize(
    ("grant_changes", "order_price", "reason"),
    [
        ({"app": "0x" + "77" * 20}, 3, "grant-app"),
        ({"requester": "0x" + "77" * 20}, 3, "grant-requester"),
        ({"workerpool": "0x" + "77" * 20}, 3, "grant-workerpool"),
        ({"price": 2}, 2, "grant-price-mismatch-skip"),
        ({}, 2, "grant-price"),
    ],
)
def test_a_grant_for_someone_else_does_not_match(
    market: Market, grant_changes: dict[str, Any], order_price: int, reason: str
) -> None:
    gid = make_grant(market, **grant_changes)
    orders = granted_orders(market, gid, price=order_price)
    if reason == "grant-price-mismatch-skip":  # a cheaper grant matches at its own price
        _dealid, deal = market.match(*orders)
        assert deal[5] == 2
        return
    locked = market.hub.lockedOf(market.addr("requester"))
    with boa.reverts(reason):
        market.match(*orders)
    assert market.hub.lockedOf(market.addr("requester")) == locked


def test_a_grant_of_another_dataset_or_unknown_id_does_not_match(market: Market) -> None:
    other = market.registry.createDataset("other", "u", b"\x09" * 32, sender=market.addr("dataset"))
    gid = market.registry.grant(
        other, market.app, ZERO, ZERO, 3, 5, int(boa.env.evm.patch.timestamp) + DAY, False,
        sender=market.addr("dataset"),
    )  # fmt: skip
    with boa.reverts("grant-unknown"):
        market.match(*granted_orders(market, bytes(gid)))
    with boa.reverts("grant-unknown"):
        market.match(*granted_orders(market, grant_id(1234)))


def test_a_transferred_dataset_voids_its_grants(market: Market) -> None:
    gid = make_grant(market)
    market.registry.transferDataset(market.dataset, market.addr("stranger"), sender=market.addr("dataset"))
    with boa.reverts("grant-owner"):
        market.match(*granted_orders(market, gid))


def test_uses_are_counted_per_hub(market: Market) -> None:
    """A stranger calling useGrant directly spends nothing of the hub's column."""
    gid = make_grant(market, uses=2)
    market.registry.useGrant(
        gid, market.dataset, market.app, market.addr("requester"), market.pool, 3, 2,
        sender=market.addr("stranger"),
    )  # fmt: skip
    assert market.registry.grantUses(market.hub.address, gid) == 0
    _dealid, deal = market.match(*granted_orders(market, gid, volume=2))
    assert deal[20] == 2


def test_a_signed_order_with_a_grant_salt_still_needs_the_grant(market: Market) -> None:
    """The salt decides: a grant-marked salt is a grant reference, signed or not."""
    a, d, w, r = market.sign(*market.orders())
    d = sign_order(dataclasses.replace(d, salt=grant_id(77)), market.key("dataset"), market.domain)
    with boa.reverts("grant-unknown"):
        market.match(a, d, w, r)


class GrantUses(RuleBasedStateMachine):
    """Random grant/revoke/match/finalize/fail sequences: uses never pass a grant's count,
    a revoked or expired grant never matches, and the hub's tokens are conserved."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = boa.env.anchor()
        self.anchor.__enter__()
        self.grants: dict[bytes, dict[str, Any]] = {}
        self.deals: list[tuple[bytes, tuple[Any, ...], list[bool]]] = []

    def teardown(self) -> None:
        self.anchor.__exit__(None, None, None)

    @initialize()
    def start(self) -> None:
        self.market = deploy_market()
        self.total = self.market.totals()

    def _now(self) -> int:
        return int(boa.env.evm.patch.timestamp)

    @rule(uses=st.integers(1, 4), ttl=st.integers(1, 200), price=st.integers(0, 5))
    def grant(self, uses: int, ttl: int, price: int) -> None:
        gid = make_grant(self.market, uses=uses, price=price, expiry=self._now() + ttl)
        self.grants[gid] = {
            "max": uses,
            "used": 0,
            "revoked": False,
            "expiry": self._now() + ttl,
            "price": price,
        }

    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        live = [g for g, s in self.grants.items() if not s["revoked"]]
        if not live:
            return
        gid = data.draw(st.sampled_from(live))
        self.market.registry.revokeGrant(gid, sender=self.market.addr("dataset"))
        self.grants[gid]["revoked"] = True

    @rule(data=st.data(), volume=st.integers(1, 3))
    def match(self, data: st.DataObject, volume: int) -> None:
        if not self.grants:
            return
        gid = data.draw(st.sampled_from(sorted(self.grants)))
        state = self.grants[gid]
        orders = granted_orders(self.market, gid, volume=volume, price=state["price"])
        usable = not state["revoked"] and self._now() < state["expiry"] and state["used"] < state["max"]
        if not usable:
            with boa.reverts():
                self.market.match(*orders)
            return
        dealid, deal = self.market.match(*orders)
        expected = min(volume, state["max"] - state["used"])
        assert deal[20] == expected
        state["used"] += expected
        self.deals.append((dealid, deal, [False] * expected))

    @rule(data=st.data(), fail=st.booleans())
    def settle(self, data: st.DataObject, fail: bool) -> None:
        open_tasks = [
            (i, j) for i, (_, _, done) in enumerate(self.deals) for j, d in enumerate(done) if not d
        ]
        if not open_tasks:
            return
        i, j = data.draw(st.sampled_from(open_tasks))
        dealid, deal, done = self.deals[i]
        market = self.market
        if self._now() >= deal[18]:  # past the deadline: claim
            market.hub.claim(deal, j, sender=market.addr("stranger"))
        elif fail:
            market.hub.reportFailure(*market.report_args(dealid, deal, j), sender=market.addr("worker"))
        else:
            market.finalize(dealid, deal, j)
        done[j] = True

    @rule(seconds=st.integers(1, 120))
    def wait(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    @invariant()
    def uses_within_count(self) -> None:
        if not hasattr(self, "market"):
            return
        for gid, state in self.grants.items():
            used = self.market.registry.grantUses(self.market.hub.address, gid)
            assert used == state["used"] <= state["max"]

    @invariant()
    def tokens_conserved(self) -> None:
        if not hasattr(self, "market"):
            return
        market = self.market
        assert market.totals() == self.total
        assert market.token.balanceOf(market.hub.address) == self.total == 2 * DEPOSIT
        assert len(ACTORS) > 0


GrantUses.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
test_grant_uses_property = GrantUses.TestCase
