"""finalize, finalizeMany, reportFailure, claim, claimMany: payments, deadlines, replays."""

from __future__ import annotations

from typing import Any

import boa

from sealrun.core.tasks import task_id
from tests.contracts.market import DEPOSIT, RECEIPT, Market

STATUS_ACTIVE, STATUS_COMPLETED, STATUS_FAILED, STATUS_CLAIMED = 1, 2, 3, 4
DIGEST = b"\x42" * 32


def balances(market: Market, *names: str) -> dict[str, tuple[int, int]]:
    return {n: (market.hub.balanceOf(market.addr(n)), market.hub.lockedOf(market.addr(n))) for n in names}


def test_finalize_pays_everyone_and_records_the_digest(market: Market) -> None:
    dealid, deal = market.deal()
    total = market.totals()
    market.finalize(dealid, deal, 0)
    event = market.hub.get_logs()[-1]
    assert type(event).__name__ == "TaskCompleted"
    assert event.taskid == task_id(dealid, 0)
    assert event.digest == DIGEST
    assert event.resultURI == "https://store.example/results/0"
    assert event.receiptDigest == RECEIPT  # the receipt the enclave signed, logged, not stored
    assert event.worker == market.addr("worker")
    got = balances(market, "app", "dataset", "worker", "pool", "requester")
    # pool price 100: scheduler ratio 20 -> 20 to the pool owner, 80 to the worker; stake 30 back.
    assert got["app"] == (5, 0)
    assert got["dataset"] == (3, 0)
    assert got["worker"] == (80, 0)
    assert got["pool"] == (DEPOSIT + 20, 0)
    assert got["requester"] == (DEPOSIT - 108, 0)
    assert market.totals() == total
    assert market.hub.results(task_id(dealid, 0)) == DIGEST
    assert market.hub.taskStatus(dealid, 0) == STATUS_COMPLETED


def test_finalize_twice_is_rejected(market: Market) -> None:
    dealid, deal = market.deal()
    market.finalize(dealid, deal, 0)
    with boa.reverts("task-completed"):
        market.finalize(dealid, deal, 0)


def test_finalize_without_dataset(market: Market) -> None:
    dealid, deal = market.deal(with_dataset=False, request_datasetmaxprice=0)
    market.finalize(dealid, deal, 0)
    assert balances(market, "app", "worker")["worker"] == (80, 0)
    assert market.hub.balanceOf("0x0000000000000000000000000000000000000000") == 0


def test_finalize_checks(market: Market) -> None:
    dealid, deal = market.deal(volume=2)
    args = market.finalize_args(dealid, deal, 0)
    worker = market.addr("worker")
    # A forged deal (any field changed) is unknown.
    forged = list(deal)
    forged[2] = 1000  # app price
    with boa.reverts("deal-unknown"):
        market.hub.finalize(tuple(forged), *args[1:], sender=worker)
    with boa.reverts("task-index"):
        market.hub.finalize(*market.finalize_args(dealid, deal, 2), sender=worker)
    for reserved in (0, 1, 2, 3):  # digests below 4 would read as a task state
        with boa.reverts("digest-invalid"):
            market.hub.finalize(deal, 0, reserved.to_bytes(32, "big"), *args[3:], sender=worker)
    with boa.reverts("enclave-missing"):
        market.hub.finalize(deal, 0, DIGEST, "0x" + "00" * 20, *args[4:], sender=worker)
    # A worker without authorization: someone else submitting the worker's authorization.
    with boa.reverts("authorization-invalid"):
        market.hub.finalize(*args, sender=market.addr("stranger"))
    # An authorization signed by someone who is not the pool owner.
    bad_auth = market.authorization(dealid, 0, signer="stranger")
    with boa.reverts("authorization-invalid"):
        market.hub.finalize(deal, 0, DIGEST, args[3], bad_auth, *args[5:], sender=worker)
    # An authorization for another task is not replayable.
    other_auth = market.authorization(dealid, 1)
    with boa.reverts("authorization-invalid"):
        market.hub.finalize(deal, 0, DIGEST, args[3], other_auth, *args[5:], sender=worker)
    # The enclave signature must be over this digest, this task, this worker, by this enclave.
    with boa.reverts("enclave-signature"):
        market.hub.finalize(deal, 0, b"\x43" * 32, *args[3:], sender=worker)
    with boa.reverts("enclave-signature"):
        market.hub.finalize(
            deal,
            0,
            DIGEST,
            args[3],
            args[4],
            market.result_signature(dealid, 1, DIGEST),
            args[6],
            args[7],
            sender=worker,
        )
    wrong_key = market.result_signature(dealid, 0, DIGEST, enclave="stranger")
    with boa.reverts("enclave-signature"):
        market.hub.finalize(deal, 0, DIGEST, args[3], args[4], wrong_key, args[6], args[7], sender=worker)
    # The signature covers the receipt digest: another receipt is not the one the enclave signed.
    with boa.reverts("enclave-signature"):
        market.hub.finalize(*args[:7], b"\x5f" * 32, sender=worker)
    # An enclave signature is not a valid authorization (different preimage lengths).
    with boa.reverts("authorization-invalid"):
        market.hub.finalize(deal, 0, DIGEST, args[3], args[5], args[5], args[6], args[7], sender=worker)
    market.hub.finalize(*args, sender=worker)


def test_finalize_after_the_deadline_is_rejected(market: Market) -> None:
    dealid, deal = market.deal()
    boa.env.time_travel(seconds=10 * 300 - 1)
    with boa.env.anchor():
        market.finalize(dealid, deal, 0)  # one second before the deadline: fine
    boa.env.time_travel(seconds=1)
    with boa.reverts("deadline-passed"):
        market.finalize(dealid, deal, 0)
    with boa.reverts("deadline-passed"):
        market.hub.reportFailure(*market.report_args(dealid, deal, 0), sender=market.addr("worker"))
    with boa.reverts("deadline-passed"):
        market.hub.finalizeMany(
            deal, [market.finalize_args(dealid, deal, 0)[1:]], sender=market.addr("worker")
        )


def test_finalize_many_pays_once_for_the_batch(market: Market) -> None:
    dealid, deal = market.deal(volume=5)
    total = market.totals()
    batch = [market.finalize_args(dealid, deal, i, bytes([i + 1]) * 32)[1:] for i in range(4)]
    market.hub.finalizeMany(deal, batch, sender=market.addr("worker"))
    assert [market.hub.taskStatus(dealid, i) for i in range(5)] == [2, 2, 2, 2, 1]
    got = balances(market, "app", "dataset", "worker", "pool", "requester")
    assert got["app"] == (20, 0)
    assert got["dataset"] == (12, 0)
    assert got["worker"] == (320, 0)
    assert got["pool"] == (DEPOSIT - 30 + 80, 30)
    assert got["requester"] == (DEPOSIT - 5 * 108, 108)
    assert market.totals() == total
    with boa.reverts("batch-empty"):
        market.hub.finalizeMany(deal, [], sender=market.addr("worker"))
    # A duplicate inside a batch is caught like a replay.
    dup = [market.finalize_args(dealid, deal, 4)[1:]] * 2
    with boa.reverts("task-completed"):
        market.hub.finalizeMany(deal, dup, sender=market.addr("worker"))


def test_report_failure_refunds_at_once(market: Market) -> None:
    dealid, deal = market.deal(volume=2)
    total = market.totals()
    worker = market.addr("worker")
    args = market.report_args(dealid, deal, 0, code=3)
    with boa.reverts("failure-code"):
        market.hub.reportFailure(deal, 0, 0, *args[3:], sender=worker)
    with boa.reverts("authorization-invalid"):
        market.hub.reportFailure(*args, sender=market.addr("stranger"))
    with boa.reverts("enclave-signature"):
        market.hub.reportFailure(deal, 0, 4, *args[3:], sender=worker)  # receipt says code 3
    with boa.reverts("enclave-signature"):
        market.hub.reportFailure(*args[:7], b"\x5f" * 32, sender=worker)  # another receipt
    market.hub.reportFailure(*args, sender=worker)
    event = market.hub.get_logs()[-1]
    assert type(event).__name__ == "TaskFailed"
    assert event.code == 3
    assert event.logDigest == b"\x07" * 32
    assert event.receiptDigest == RECEIPT
    assert market.hub.taskStatus(dealid, 0) == STATUS_FAILED
    got = balances(market, "requester", "pool")
    assert got["requester"] == (DEPOSIT - 108, 108)
    assert got["pool"] == (DEPOSIT - 30, 30)
    assert market.totals() == total
    with boa.reverts("task-failed"):
        market.hub.reportFailure(*args, sender=worker)
    with boa.reverts("task-failed"):
        market.finalize(dealid, deal, 0)
    with boa.reverts("task-index"):
        market.hub.reportFailure(*market.report_args(dealid, deal, 2), sender=worker)
    market.finalize(dealid, deal, 1)
    with boa.reverts("task-completed"):
        market.hub.reportFailure(*market.report_args(dealid, deal, 1), sender=worker)


def test_claim_after_the_deadline_refunds_and_seizes_the_stake(market: Market) -> None:
    dealid, deal = market.deal(volume=3)
    total = market.totals()
    with boa.reverts("deadline-not-reached"):
        market.hub.claim(deal, 0, sender=market.addr("stranger"))
    with boa.reverts("deadline-not-reached"):
        market.hub.claimMany(deal, [0, 1], sender=market.addr("stranger"))
    market.finalize(dealid, deal, 2)
    boa.env.time_travel(seconds=10 * 300)
    market.hub.claim(deal, 0, sender=market.addr("stranger"))
    event = market.hub.get_logs()[-1]
    assert type(event).__name__ == "TaskClaimed"
    assert event.refund == 108
    assert event.seized == 30
    assert market.hub.taskStatus(dealid, 0) == STATUS_CLAIMED
    got = balances(market, "requester", "pool")
    assert got["requester"] == (DEPOSIT - 3 * 108 + 108 + 30, 108)
    assert got["pool"] == (DEPOSIT - 90 + 20 + 30, 30)
    assert market.totals() == total
    with boa.reverts("task-claimed"):
        market.hub.claim(deal, 0)
    with boa.reverts("task-completed"):
        market.hub.claim(deal, 2)
    with boa.reverts("task-index"):
        market.hub.claim(deal, 3)
    with boa.reverts("task-claimed"):
        market.finalize(dealid, deal, 0) if False else market.hub.claimMany(deal, [1, 0])
    market.hub.claimMany(deal, [1])
    assert market.hub.lockedOf(market.addr("requester")) == 0
    assert market.hub.lockedOf(market.addr("pool")) == 0
    with boa.reverts("batch-empty"):
        market.hub.claimMany(deal, [])
    forged: Any = list(deal)
    forged[10] = 0  # stake
    with boa.reverts("deal-unknown"):
        market.hub.claim(tuple(forged), 1)


def test_failed_task_cannot_be_claimed(market: Market) -> None:
    dealid, deal = market.deal()
    market.hub.reportFailure(*market.report_args(dealid, deal, 0), sender=market.addr("worker"))
    boa.env.time_travel(seconds=10 * 300)
    with boa.reverts("task-failed"):
        market.hub.claim(deal, 0)


def test_task_zero_states_keep_the_deal_known(market: Market) -> None:
    # Task 0's slot doubles as the deal's existence marker: every state of it keeps the deal.
    worker = market.addr("worker")
    for close in ("finalize", "fail", "claim"):
        with boa.env.anchor():
            dealid, deal = market.deal(volume=3)
            if close == "finalize":
                market.finalize(dealid, deal, 0)
            elif close == "fail":
                market.hub.reportFailure(*market.report_args(dealid, deal, 0), sender=worker)
            else:
                boa.env.time_travel(seconds=10 * 300)
                market.hub.claim(deal, 0)
            assert market.hub.dealExists(dealid)
            assert market.hub.taskStatus(dealid, 1) == STATUS_ACTIVE
            if close == "claim":
                market.hub.claim(deal, 2)
            else:
                market.finalize(dealid, deal, 2)
            assert market.hub.results(task_id(dealid, 0)) == (DIGEST if close == "finalize" else bytes(32))
