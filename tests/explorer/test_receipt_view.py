"""The task page shows the task's receipt and ``sealrun verify``'s verdict on it, never a false
"verified": a good receipt, a tampered one, a simulated TEE named as such, none stored yet."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from sealrun.adapters.receipts import verify_receipt
from sealrun.core.chainstate import DealRecord, TaskRecord, TaskStatus
from sealrun.services.explorer.app import create_app
from sealrun.services.explorer.parts import receipt_view
from sealrun.services.explorer.sources import PublicData, ReceiptView
from sealrun.testing.chainstate import InMemoryChainReader
from tests.receipts.builder import DEAL, INDEX, NOW, SIMULATOR, TASK, signed


def _page(view: ReceiptView | None) -> str:
    chain = InMemoryChainReader()
    chain.add_deal(
        DealRecord(
            deal_id=DEAL, app="0x" + "a1" * 20, dataset="0x" + "00" * 20, workerpool="0x" + "0b" * 20,
            requester="0x" + "b1" * 20, beneficiary="0x" + "b1" * 20, tag=b"\x00" * 32, params="{}",
            category_time=300,
        )
    )  # fmt: skip
    chain.add_task(
        TaskRecord(task_id=TASK, deal_id=DEAL, index=INDEX, status=TaskStatus.COMPLETED, final_deadline=NOW)
    )
    data = PublicData(chain, receipts=None if view is None else (lambda _task: view))
    with TestClient(create_app(data)) as client:
        answer = client.get(f"/tasks/0x{TASK.hex()}")
    assert answer.status_code == 200
    return answer.text


def _verdict(raw: bytes) -> ReceiptView:
    return receipt_view(
        verify_receipt(
            raw, now=NOW, simulator_key=SIMULATOR.public_key, allow_simulated=True, expected_task=TASK
        )
    )


def test_a_good_receipt_is_verified_and_its_simulated_tee_named() -> None:
    good = signed()
    text = _page(_verdict(good.raw))
    assert "verified (TEE simulated: SIMULATED, no hardware protection)" in text
    assert "NOT verified" not in text
    assert "0x" + good.receipt.digest.hex() in text
    assert "VERIFY_SIGNATURE" in text
    assert '<tr class="check-fail">' not in text


def test_a_tampered_receipt_is_not_verified() -> None:
    document = json.loads(signed().raw)
    document["worker"] = "0x" + "cd" * 20  # any field: the signature no longer matches
    text = _page(_verdict(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()))
    assert "NOT verified" in text
    assert '<tr class="check-fail">' in text


def test_no_receipt_or_no_store_says_not_available() -> None:
    assert "receipt: not available (RECEIPT_UNAVAILABLE)" in _page(ReceiptView(error="RECEIPT_UNAVAILABLE"))
    assert "receipt: not available" in _page(None)
