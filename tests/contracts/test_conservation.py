"""Hypothesis stateful test: tokens are never created or destroyed, and no task is paid twice.

Random sequences of deposits, withdrawals, matches (with and without dataset), order
cancellations, finalizations, failure receipts, claims and time travel run against the real
contracts; a Python model predicts every free and locked balance and every task state, and
after each step the hub must agree with it, and hold exactly the tokens it accounts for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.contracts.market import ACTORS, DEPOSIT, Market, deploy_market

ACTIVE, COMPLETED, FAILED, CLAIMED = 1, 2, 3, 4
STAKE = 30


@dataclass
class ModelDeal:
    dealid: bytes
    deal: tuple[Any, ...]
    price: int
    app_price: int
    dataset_price: int
    deadline: int
    states: list[int]


class Conservation(RuleBasedStateMachine):
    market: Market

    def __init__(self) -> None:
        super().__init__()
        self.anchor = boa.env.anchor()
        self.anchor.__enter__()
        self.deals: list[ModelDeal] = []
        self.salt = 0
        self.deposited = 2 * DEPOSIT  # deploy_market funded requester and pool
        self.free: Counter[str] = Counter({"requester": DEPOSIT, "pool": DEPOSIT})
        self.locked: Counter[str] = Counter()
        self.paid: Counter[tuple[bytes, int]] = Counter()

    def teardown(self) -> None:
        self.anchor.__exit__(None, None, None)

    def _now(self) -> int:
        return int(boa.env.evm.patch.timestamp)

    @initialize()
    def start(self) -> None:
        assert self.market.totals() == self.deposited

    @rule(who=st.sampled_from(["requester", "pool", "stranger"]), amount=st.integers(1, 5000))
    def deposit(self, who: str, amount: int) -> None:
        self.market.fund(who, amount)
        self.deposited += amount
        self.free[who] += amount

    @rule(who=st.sampled_from(["requester", "pool", "app", "worker"]), share=st.floats(0.0, 1.2))
    def withdraw(self, who: str, share: float) -> None:
        amount = int(self.free[who] * share)
        if amount == 0 or amount > self.free[who]:
            with pytest.raises(BoaError):
                self.market.hub.withdraw(amount, sender=self.market.addr(who))
            return
        self.market.hub.withdraw(amount, sender=self.market.addr(who))
        self.deposited -= amount
        self.free[who] -= amount

    def _orders(self, volume: int, with_dataset: bool) -> tuple[Any, ...]:
        self.salt += 1
        salt = self.salt.to_bytes(32, "big")
        overrides: dict[str, Any] = {"app_salt": salt, "workerpool_salt": salt, "request_salt": salt}
        if with_dataset:
            overrides["dataset_salt"] = salt
        else:
            overrides["request_datasetmaxprice"] = 0
        return self.market.sign(*self.market.orders(volume=volume, with_dataset=with_dataset, **overrides))

    @rule(volume=st.integers(1, 3), with_dataset=st.booleans())
    def match(self, volume: int, with_dataset: bool) -> None:
        orders = self._orders(volume, with_dataset)
        dataset_price = 3 if with_dataset else 0
        price = 5 + dataset_price + 100
        if self.free["requester"] < price * volume or self.free["pool"] < STAKE * volume:
            with pytest.raises(BoaError):
                self.market.match(*orders)
            return
        dealid, deal = self.market.match(*orders)
        self.free["requester"] -= price * volume
        self.locked["requester"] += price * volume
        self.free["pool"] -= STAKE * volume
        self.locked["pool"] += STAKE * volume
        self.deals.append(ModelDeal(dealid, deal, price, 5, dataset_price, deal[18], [ACTIVE] * volume))

    @rule()
    def cancelled_request_never_matches(self) -> None:
        a, d, w, r = self._orders(1, True)
        self.market.hub.manageRequestOrder(r.to_abi(), True, sender=self.market.addr("requester"))
        with boa.reverts("request-closed"):
            self.market.match(a, d, w, r)

    @rule(seconds=st.integers(0, 4000))
    def time_passes(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    def _pick(self, data: st.DataObject) -> tuple[ModelDeal, int]:
        deal = data.draw(st.sampled_from(self.deals))
        return deal, data.draw(st.integers(0, len(deal.states) - 1))

    @precondition(lambda self: self.deals)
    @rule(data=st.data())
    def finalize(self, data: st.DataObject) -> None:
        deal, index = self._pick(data)
        digest = bytes([index + 7]) * 32
        if deal.states[index] != ACTIVE or self._now() >= deal.deadline:
            with pytest.raises(BoaError):
                self.market.finalize(deal.dealid, deal.deal, index, digest)
            return
        self.market.finalize(deal.dealid, deal.deal, index, digest)
        self.paid[(deal.dealid, index)] += 1
        deal.states[index] = COMPLETED
        self.locked["requester"] -= deal.price
        self.free["app"] += deal.app_price
        self.free["dataset"] += deal.dataset_price
        self.free["worker"] += 80
        self.locked["pool"] -= STAKE
        self.free["pool"] += STAKE + 20

    @precondition(lambda self: self.deals)
    @rule(data=st.data(), code=st.integers(1, 2**32))
    def report_failure(self, data: st.DataObject, code: int) -> None:
        deal, index = self._pick(data)
        args = self.market.report_args(deal.dealid, deal.deal, index, code)
        worker = self.market.addr("worker")
        if deal.states[index] != ACTIVE or self._now() >= deal.deadline:
            with pytest.raises(BoaError):
                self.market.hub.reportFailure(*args, sender=worker)
            return
        self.market.hub.reportFailure(*args, sender=worker)
        deal.states[index] = FAILED
        self.locked["requester"] -= deal.price
        self.free["requester"] += deal.price
        self.locked["pool"] -= STAKE
        self.free["pool"] += STAKE

    @precondition(lambda self: self.deals)
    @rule(data=st.data(), many=st.booleans())
    def claim(self, data: st.DataObject, many: bool) -> None:
        deal, index = self._pick(data)
        call = (
            (lambda: self.market.hub.claimMany(deal.deal, [index]))
            if many
            else (lambda: self.market.hub.claim(deal.deal, index))
        )
        if deal.states[index] != ACTIVE or self._now() < deal.deadline:
            with pytest.raises(BoaError):
                call()
            return
        call()
        deal.states[index] = CLAIMED
        self.locked["requester"] -= deal.price
        self.free["requester"] += deal.price + STAKE
        self.locked["pool"] -= STAKE

    @precondition(lambda self: self.deals)
    @rule(data=st.data())
    def forged_deal_is_unknown(self, data: st.DataObject) -> None:
        deal, index = self._pick(data)
        forged = list(deal.deal)
        forged[8] = data.draw(st.integers(101, 10**6))  # a richer workerpool price
        with boa.reverts("deal-unknown"):
            self.market.hub.finalize(*self.market.finalize_args(deal.dealid, tuple(forged), index))

    @invariant()
    def balances_match_the_model(self) -> None:
        hub = self.market.hub
        for name in ACTORS:
            address = self.market.addr(name)
            assert (hub.balanceOf(address), hub.lockedOf(address)) == (self.free[name], self.locked[name]), (
                name
            )

    @invariant()
    def no_token_is_created_or_destroyed(self) -> None:
        assert self.market.totals() == self.deposited
        assert self.market.token.balanceOf(self.market.hub.address) == self.deposited

    @invariant()
    def task_states_match_and_nothing_is_paid_twice(self) -> None:
        assert all(count == 1 for count in self.paid.values())
        for deal in self.deals:
            for index, state in enumerate(deal.states):
                assert self.market.hub.taskStatus(deal.dealid, index) == state


@pytest.fixture(scope="module")
def deployed() -> Any:
    with boa.env.anchor():
        yield deploy_market()


def test_conservation(deployed: Market) -> None:
    Conservation.market = deployed
    run = Conservation.TestCase
    run.settings = settings(
        max_examples=20,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    run().runTest()
