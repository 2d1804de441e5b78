"""Connects the explorer to the chain, the scheduler and the market named by its settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.http.market import MarketClient
from sealrun.adapters.http.taskevents import TaskEventsClient
from sealrun.core.attestation import SimulatorPublicKey
from sealrun.errors import SealrunError
from sealrun.services.explorer.settings import ExplorerSettings
from sealrun.services.explorer.sources import OrderRow, PublicData, ReceiptView

if TYPE_CHECKING:
    from sealrun.adapters.receipts import Verdict

__all__ = ["connect_data", "receipt_view"]


def connect_data(settings: ExplorerSettings) -> PublicData:
    """The public data of the deployment in ``settings`` (no wallet: reads only).

    Raises:
        ChainError: ``CHAIN_UNREACHABLE``, ``CHAIN_NO_HUB``.
    """
    market = Marketplace.connect(settings.rpc_url, hub=settings.hub, start_block=settings.start_block)
    scheduler = TaskEventsClient(settings.scheduler_url) if settings.scheduler_url else None
    book = MarketClient(settings.market_url) if settings.market_url else None

    def orderbook(kind: str) -> list[OrderRow]:
        assert book is not None
        subject_field = "app" if kind == "request" else kind
        return [
            OrderRow(
                kind=out.kind,
                order_hash=out.order_hash,
                subject=str(getattr(out.order, subject_field, "")),
                price=out.price,
                remaining=out.remaining,
                signer=out.signer,
            )
            for out in book.orderbook(kind, limit=50)
        ]

    receipts = _receipts(settings, market) if settings.store_url else None
    return PublicData(
        market.reader,
        scheduler=scheduler,
        orderbook=orderbook if book is not None else None,
        receipts=receipts,
    )


def _receipts(settings: ExplorerSettings, market: Marketplace) -> Callable[[bytes], ReceiptView]:
    """Fetch a task's receipt (the one the chain bound) and verify it as ``sealrun verify`` does."""
    from sealrun.adapters.receipts import chain_facts, fetch_receipt, sms_facts, verify_receipt

    key = None
    if settings.simulator_key_file is not None:
        key = SimulatorPublicKey.parse(settings.simulator_key_file.read_bytes())
    store = settings.store_url
    assert store is not None

    def view(task: bytes) -> ReceiptView:
        try:
            facts = chain_facts(market, task, start_block=settings.start_block)
            raw = fetch_receipt(store, task, prefer=facts.receipt_digest)
            verdict = verify_receipt(
                raw, now=int(time.time()), simulator_key=key, allow_simulated=settings.allow_simulated,
                expected_task=task, chain=facts, sms=sms_facts(settings.sms_url, raw),
            )  # fmt: skip
        except SealrunError as error:
            return ReceiptView(error=error.code)
        return receipt_view(verdict)

    return view


def receipt_view(verdict: Verdict) -> ReceiptView:
    """What the task page shows of ``sealrun verify``'s verdict on a receipt."""
    receipt = verdict.receipt
    return ReceiptView(
        verified=verdict.verified,
        digest="0x" + receipt.digest.hex(),
        tee=str(receipt.field("tee", "type")),
        simulated=receipt.field("tee", "simulated") is True,
        checks=tuple((c.code, c.status, c.detail, c.reason or "") for c in verdict.checks),
    )
