"""Result callbacks (issue 21 item 4): the hub calls the deal's callback at settlement with
the task id and the result digest under a 200,000 gas cap; a callee that reverts, burns its
gas or is no contract never blocks settlement or payment, and its failure is logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boa
import pytest
from eth_abi import encode

from sealrun.core.orders.reasons import REVERT_REASONS
from sealrun.core.tasks import task_id
from tests.contracts.market import DEPOSIT, Market

TESTING = Path(__file__).resolve().parents[2] / "contracts" / "testing"
DIGEST = b"\x42" * 32


def deploy(name: str) -> Any:
    return boa.load(str(TESTING / f"{name}.vy"))


def events(market: Market, name: str) -> list[Any]:
    return [log for log in market.hub.get_logs() if type(log).__name__ == name]


def paid(market: Market) -> tuple[int, int, int]:
    return (
        market.hub.balanceOf(market.addr("app")),
        market.hub.balanceOf(market.addr("dataset")),
        market.hub.balanceOf(market.addr("worker")),
    )


def test_finalize_calls_the_callback_with_the_task_id_and_the_digest(market: Market) -> None:
    receiver = deploy("CallbackReceiver")
    dealid, deal = market.deal(request_callback=receiver.address)
    market.finalize(dealid, deal, 0)
    assert receiver.calls() == 1
    assert receiver.caller() == market.hub.address
    assert receiver.taskid() == task_id(dealid, 0)
    # iExec's receiveResult(bytes32, bytes): the bytes are the ABI word of the digest.
    assert receiver.results() == encode(["bytes32"], [DIGEST])
    assert events(market, "CallbackFailed") == []
    assert paid(market) == (5, 3, 80)


def test_finalize_many_calls_the_callback_once_per_task(market: Market) -> None:
    receiver = deploy("CallbackReceiver")
    dealid, deal = market.deal(volume=3, request_callback=receiver.address)
    batch = [market.finalize_args(dealid, deal, i, bytes([i + 7]) * 32)[1:] for i in range(3)]
    market.hub.finalizeMany(deal, batch, sender=market.addr("worker"))
    assert receiver.calls() == 3
    assert receiver.taskid() == task_id(dealid, 2)
    assert receiver.results() == bytes([9]) * 32
    assert paid(market) == (15, 9, 240)


@pytest.mark.parametrize("name", ["RevertingCallback", "GasBurningCallback"])
def test_a_failing_callback_never_blocks_settlement(market: Market, name: str) -> None:
    callee = deploy(name)
    dealid, deal = market.deal(volume=2, request_callback=callee.address)
    total = market.totals()
    market.finalize(dealid, deal, 0)
    batch = [market.finalize_args(dealid, deal, 1)[1:]]
    market.hub.finalizeMany(deal, batch, sender=market.addr("worker"))
    failed = events(market, "CallbackFailed")
    assert [(e.taskid, e.callback, e.isContract) for e in failed] == [
        (task_id(dealid, 1), callee.address, True)
    ]  # get_logs holds the last call's logs: finalizeMany's
    assert market.hub.taskStatus(dealid, 0) == 2
    assert market.hub.taskStatus(dealid, 1) == 2
    assert paid(market) == (10, 6, 160)
    assert market.totals() == total
    assert market.hub.balanceOf(market.addr("requester")) == DEPOSIT - 2 * 108


def test_a_callback_that_is_not_a_contract_is_refused_at_match(market: Market) -> None:
    total = market.totals()
    with boa.reverts("callback-not-contract"):
        market.deal(request_callback=market.addr("stranger"))
    assert REVERT_REASONS["callback-not-contract"].code == "ORDER_CALLBACK_NOT_CONTRACT"
    assert market.totals() == total
    assert market.hub.lockedOf(market.addr("requester")) == 0


def test_a_callback_whose_code_is_gone_at_settlement_is_logged_and_settlement_goes_on(market: Market) -> None:
    """Code can vanish after the match (SELFDESTRUCT on a chain before EIP-6780): the call is
    skipped, logged with isContract false, and everyone is paid."""
    receiver = deploy("CallbackReceiver")
    dealid, deal = market.deal(request_callback=receiver.address)
    boa.env.set_code(receiver.address, b"")
    market.finalize(dealid, deal, 0)
    [failed] = events(market, "CallbackFailed")
    assert (failed.taskid, failed.callback, failed.isContract) == (
        task_id(dealid, 0),
        receiver.address,
        False,
    )
    assert market.hub.taskStatus(dealid, 0) == 2
    assert paid(market) == (5, 3, 80)


def test_the_burning_callee_gets_the_whole_cap(market: Market) -> None:
    callee = deploy("GasBurningCallback")
    dealid, deal = market.deal(request_callback=callee.address)
    market.finalize(dealid, deal, 0)
    # The failed call consumed its whole 200,000 (no more: the cap is fixed).
    assert 200_000 < market.hub._computation.get_gas_used() < 400_000


def test_a_worker_cannot_starve_the_callback_with_a_low_gas_limit(market: Market) -> None:
    """EIP-150 forwards at most 63/64 of the gas left: with less than the cap's share the
    finalize reverts (TASK_CALLBACK_GAS) instead of failing the callback on purpose."""
    receiver = deploy("CallbackReceiver")
    dealid, deal = market.deal(request_callback=receiver.address)
    args = market.finalize_args(dealid, deal, 0)
    with boa.reverts("callback-gas"):
        market.hub.finalize(*args, sender=market.addr("worker"), gas=150_000)
    assert REVERT_REASONS["callback-gas"].code == "TASK_CALLBACK_GAS"
    assert market.hub.taskStatus(dealid, 0) == 1
    market.hub.finalize(*args, sender=market.addr("worker"))
    assert receiver.calls() == 1


def test_a_deal_without_callback_calls_nothing(market: Market) -> None:
    dealid, deal = market.deal()
    market.finalize(dealid, deal, 0)
    assert events(market, "CallbackFailed") == []
