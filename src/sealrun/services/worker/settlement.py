"""The worker's transactions: ``finalize``, ``finalizeMany`` or ``reportFailure``.

The worker pays the gas from its own account. Every call carries the deal (the hub keeps
only its hash), the scheduler's authorization and the enclave's signature; the hub checks
them and pays (or refunds) at once. ``finalizeMany`` completes several tasks of one deal in
one transaction and pays each account once (the hub has no batched ``reportFailure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sealrun.adapters.chain.hub import HubClient
from sealrun.adapters.chain.models import CALLBACK_GAS_RESERVE, Deal, HubTaskStatus
from sealrun.adapters.tee import RunReport
from sealrun.api.ids import deal_id_hex
from sealrun.api.scheduler import DealOut
from sealrun.errors import EnclaveError

__all__ = ["HubSettlement", "Settlement", "SignedResult", "deal_from_assignment"]


@dataclass(frozen=True)
class SignedResult:
    """One task's result, ready for ``finalizeMany``: its index, run report and authorization."""

    index: int
    report: RunReport
    authorization: bytes


class Settlement(Protocol):
    """Where the worker settles tasks (the hub)."""

    def status(self, deal: Deal, index: int) -> HubTaskStatus:
        """The task's on-chain status."""

    def submit(self, deal: Deal, index: int, report: RunReport, *, authorization: bytes) -> str:
        """Send ``finalize`` or ``reportFailure`` for the report; returns the tx hash (0x hex)."""

    def finalize_many(self, deal: Deal, results: Sequence[SignedResult]) -> str:
        """Send one ``finalizeMany`` for results of ``deal``; returns the tx hash once mined."""


def deal_from_assignment(deal: DealOut) -> Deal:
    """Rebuild the hub's deal from an assignment's ``deal`` (``Deal.to_json()`` on the wire)."""
    return Deal(
        **{
            **deal.model_dump(),
            "deal_id": bytes.fromhex(deal.deal_id[2:]),
            "tag": bytes.fromhex(deal.tag[2:]),
            "request_hash": bytes.fromhex(deal.request_hash[2:]),
        }
    )


class HubSettlement:
    """Settles tasks on the hub with the worker's wallet.

    Args:
        hub: a hub client whose sender is the worker's account.
    """

    def __init__(self, hub: HubClient) -> None:
        self.hub = hub

    def status(self, deal: Deal, index: int) -> HubTaskStatus:
        """See :class:`Settlement`."""
        return self.hub.task_status(deal.deal_id, index)

    def submit(self, deal: Deal, index: int, report: RunReport, *, authorization: bytes) -> str:
        """See :class:`Settlement`."""
        if report.result is not None:
            receipt = self.hub.send(
                "finalize",
                [deal.as_struct(), *_result_fields(index, report, authorization)],
                f"finalize task {index} of deal {deal_id_hex(deal.deal_id)}",
                extra_gas=_callback_reserve(deal),
            )
        else:
            failure = report.failure
            if failure is None:  # RunReport guarantees a receipt on failure; be explicit anyway
                raise EnclaveError("a failed report carries no receipt", code="REPORT_INVALID")
            receipt = self.hub.send(
                "reportFailure",
                [
                    deal.as_struct(), index, failure.code, bytes.fromhex(failure.log_digest[2:]),
                    report.enclave, authorization, bytes.fromhex(failure.signature[2:]),
                    bytes.fromhex(failure.receipt_digest[2:]),
                ],
                f"report the failure of task {index} of deal {deal_id_hex(deal.deal_id)}",
            )  # fmt: skip
        return "0x" + receipt.tx_hash.hex()

    def finalize_many(self, deal: Deal, results: Sequence[SignedResult]) -> str:
        """See :class:`Settlement`."""
        batch = [_result_fields(r.index, r.report, r.authorization) for r in results]
        receipt = self.hub.send(
            "finalizeMany",
            [deal.as_struct(), batch],
            f"finalize {len(batch)} tasks of deal {deal_id_hex(deal.deal_id)}",
            extra_gas=_callback_reserve(deal),
        )
        return "0x" + receipt.tx_hash.hex()


def _callback_reserve(deal: Deal) -> int:
    """The gas a settlement of ``deal`` must keep available for its result callback, if any."""
    return 0 if int(deal.callback, 16) == 0 else CALLBACK_GAS_RESERVE


def _result_fields(index: int, report: RunReport, authorization: bytes) -> tuple[Any, ...]:
    """``finalize``'s arguments after the deal, which are also the hub's ``TaskResult`` struct."""
    result = report.result
    if result is None:
        raise EnclaveError("a failed report carries no result to finalize", code="REPORT_INVALID")
    return (
        index, bytes.fromhex(result.digest[2:]), report.enclave, authorization,
        bytes.fromhex(result.signature[2:]), result.upload_url or "",
        bytes.fromhex(result.receipt_digest[2:]),
    )  # fmt: skip
