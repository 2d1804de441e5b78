"""How a task ended, read from the hub's events: where its sealed result is, or why it failed.

The hub keeps only a task's status and result digest in storage; the details a requester
needs travel in events whose first indexed topic is the task id:

- ``TaskCompleted(taskid, dealid, index, worker, digest, resultURI, receiptDigest)``: ``resultURI`` is where
  the enclave uploaded the sealed result archive, ``receiptDigest`` the task receipt's digest;
- ``TaskFailed(taskid, dealid, index, worker, code, logDigest, receiptDigest)``: the attested failure code
  (:class:`~sealrun.core.tasks.FailureCode`) and the sha256 of the sealed logs (their name
  in the blob store);
- ``TaskClaimed(taskid, dealid, index, refund, seized)``: refunded after the deadline.

:func:`task_outcome` reads them with one ``eth_getLogs`` per event, filtered by the task id
topic, from the hub's deployment block.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, cast

from web3.types import EventData, FilterParams, LogReceipt

from sealrun.adapters.chain.hub import HubClient
from sealrun.api.ids import task_id_hex

__all__ = ["TaskOutcome", "task_outcome"]

OutcomeKind = Literal["completed", "failed", "claimed"]
_EVENTS: tuple[tuple[str, OutcomeKind], ...] = (
    ("TaskCompleted", "completed"),
    ("TaskFailed", "failed"),
    ("TaskClaimed", "claimed"),
)


@dataclass(frozen=True)
class TaskOutcome:
    """The event that closed a task.

    Attributes:
        kind: ``completed``, ``failed`` or ``claimed``.
        worker: the worker that completed or failed it (``None`` for a claim).
        result_digest: sha256 of the result archive (completed).
        result_uri: where the sealed result is (completed).
        failure_code: the attested failure code (failed).
        log_digest: sha256 of the sealed logs, their blob name in the store (failed).
        refund: what the requester got back (claimed).
        block: the block of the event.
        receipt_digest: the digest of the task receipt the enclave signed (completed, failed).
        deal_id, index: the task's deal and index.
        tx_hash: the settlement transaction (``0x`` hex).
    """

    kind: OutcomeKind
    block: int
    worker: str | None = None
    result_digest: bytes | None = None
    result_uri: str | None = None
    failure_code: int | None = None
    log_digest: bytes | None = None
    refund: int | None = None
    receipt_digest: bytes | None = None
    deal_id: bytes | None = None
    index: int | None = None
    tx_hash: str | None = None


def _outcome(kind: OutcomeKind, event: EventData) -> TaskOutcome:
    args, block = event["args"], int(event["blockNumber"])
    deal, index = bytes(args["dealid"]), int(args["index"])
    tx_hash = "0x" + bytes(event["transactionHash"]).hex()
    if kind == "completed":
        return TaskOutcome(
            kind,
            block,
            deal_id=deal,
            index=index,
            tx_hash=tx_hash,
            worker=str(args["worker"]),
            result_digest=bytes(args["digest"]),
            result_uri=str(args["resultURI"]),
            receipt_digest=bytes(args["receiptDigest"]),
        )
    if kind == "failed":
        return TaskOutcome(
            kind,
            block,
            deal_id=deal,
            index=index,
            tx_hash=tx_hash,
            worker=str(args["worker"]),
            failure_code=int(args["code"]),
            log_digest=bytes(args["logDigest"]),
            receipt_digest=bytes(args["receiptDigest"]),
        )
    return TaskOutcome(kind, block, refund=int(args["refund"]), deal_id=deal, index=index, tx_hash=tx_hash)


def task_outcome(hub: HubClient, task_id: bytes, *, from_block: int = 0) -> TaskOutcome | None:
    """The event that closed ``task_id``, or ``None`` while it is still open.

    Raises:
        ChainError: translated RPC failures.
    """
    for name, kind in _EVENTS:
        event = hub.contract.events[name]()
        topic = "0x" + bytes.fromhex(str(event.topic).removeprefix("0x")).hex()
        params = cast(
            FilterParams,
            {
                "address": hub.address,
                "fromBlock": from_block,
                "toBlock": "latest",
                "topics": [topic, task_id_hex(task_id)],
            },
        )
        logs: list[LogReceipt] = hub.rpc.run(
            f"read the {name} events", functools.partial(hub.rpc.w3.eth.get_logs, params)
        )
        for log in logs:
            return _outcome(kind, event.process_log(log))
    return None
