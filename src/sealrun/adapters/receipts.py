"""Gather what ``sealrun verify`` needs from public sources: no wallet, no account.

- :func:`fetch_receipt`: a task's receipt from the store (``GET /v1/tasks/<id>/receipts``, public);
- :func:`chain_facts`: the task's settlement event (the receipt digest it bound), the deal's
  app fingerprint, dataset checksum and params, read from the chain;
- :func:`sms_facts`: the SMS's release signer and its audit head;
- :func:`verify_receipt`: the checks (:mod:`sealrun.core.receipts.checks`), offline or online.

Every failure to reach a source is a check that fails with its own code, never a crash and
never a false "verified".
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.http.store import StoreClient
from sealrun.core.attestation import EvidenceVerifier, SimulatorPublicKey, standard_verifier
from sealrun.core.chainstate import ZERO_ADDRESS
from sealrun.core.receipts import Receipt, parse_receipt
from sealrun.core.receipts.checks import (
    ChainFacts,
    Check,
    SmsFacts,
    all_passed,
    offline_checks,
    online_checks,
)
from sealrun.core.receipts.release import parse_release_record, verify_release_record
from sealrun.errors import ReceiptError, SealrunError

if TYPE_CHECKING:
    import httpx

    from sealrun.adapters.chain.client import Marketplace

__all__ = ["Verdict", "chain_facts", "fetch_receipt", "sms_facts", "task_tee", "verify_receipt"]


@dataclass(frozen=True)
class Verdict:
    """Every check's answer and whether the receipt is verified."""

    receipt: Receipt
    checks: list[Check]
    verified: bool
    offline: bool


def fetch_receipt(
    store_url: str, task_id: bytes, *, prefer: bytes | None = None, http: httpx.Client | None = None
) -> bytes:
    """The receipt the store holds for ``task_id`` (its bytes, sha256-checked): the one whose
    digest is ``prefer`` (what the chain bound: a retried task has one receipt per attempt),
    else the newest.

    Raises:
        ReceiptError: ``RECEIPT_UNAVAILABLE`` (none stored, or the store unreachable).
    """
    store = StoreClient(store_url, http=http)
    try:
        receipts = store.task_receipts(task_id)
        if not receipts:
            raise ReceiptError(
                f"the store holds no receipt for task 0x{task_id.hex()}", code="RECEIPT_UNAVAILABLE"
            )
        with tempfile.TemporaryDirectory(prefix="sealrun-receipt-") as folder:
            newest: bytes | None = None
            for number, blob in enumerate(reversed(receipts[-_MAX_RECEIPTS:])):
                raw = store.download(blob.checksum, Path(folder) / f"receipt-{number}.json").read_bytes()
                newest = raw if newest is None else newest
                if prefer is None or _digest_of(raw) == prefer:
                    return raw
            assert newest is not None
            return newest
    except SealrunError as error:
        if isinstance(error, ReceiptError):
            raise
        raise ReceiptError(
            f"the receipt could not be fetched: {error.code}", code="RECEIPT_UNAVAILABLE"
        ) from error
    finally:
        store.close()


def task_tee(store_url: str, task_id: bytes) -> dict[str, object]:
    """Which TEE ran the task, as its receipt says (not verified: ``sealrun verify`` does that).

    Returns ``{"type": ..., "simulated": bool, "isolation": "strict" | "session" | None,
    "session": "0x…" | None}`` (the isolation mode as the SMS's release record in the receipt
    names it, decision 0080; ``None`` without a release record), or ``{"error": {"code",
    "message"}}`` when no receipt could be read (an older pool, the store unreachable): never
    raises for that.
    """
    try:
        receipt = parse_receipt(fetch_receipt(store_url, task_id))
    except SealrunError as error:
        return {"error": {"code": error.code, "message": error.message}}
    isolation, session = release_isolation(receipt)
    return {
        "type": str(receipt.field("tee", "type")),
        "simulated": receipt.field("tee", "simulated") is True,
        "isolation": isolation,
        "session": session,
    }


def release_isolation(receipt: Receipt) -> tuple[str | None, str | None]:
    """The isolation mode and session the receipt's release record names (not verified)."""
    signed = receipt.body.get("release")
    if not isinstance(signed, dict):
        return None, None
    try:
        record = parse_release_record(str(signed.get("record")))
    except SealrunError:
        return None, None
    isolation, session = record.get("isolation"), record.get("session")
    return (str(isolation) if isolation is not None else None, str(session) if session is not None else None)


# A retried task has a receipt per attempt; past this many, only the newest are looked at.
_MAX_RECEIPTS = 16


def _digest_of(raw: bytes) -> bytes | None:
    try:
        return parse_receipt(raw).digest
    except ReceiptError:
        return None


def chain_facts(market: Marketplace, task_id: bytes, *, start_block: int = 0) -> ChainFacts:
    """What the chain says about ``task_id`` (``known=False`` when it never heard of it).

    Raises:
        ChainError: the chain could not be read.
    """
    from sealrun.adapters.chain.outcomes import task_outcome  # web3: only online

    task = market.task(task_id)
    if task is None or task.status.name == "UNSET":
        return ChainFacts(known=False)
    outcome = task_outcome(market.hub, task_id, from_block=start_block)
    deal = market.reader.deal(task.deal_id)
    app = None if deal is None else market.reader.app(deal.app)
    has_dataset = deal is not None and deal.dataset != ZERO_ADDRESS
    dataset = market.reader.dataset(deal.dataset) if deal is not None and has_dataset else None
    return ChainFacts(
        known=True,
        outcome=None if outcome is None else outcome.kind,
        receipt_digest=None if outcome is None else outcome.receipt_digest,
        result_digest=None if outcome is None else outcome.result_digest,
        failure_code=None if outcome is None else outcome.failure_code,
        log_digest=None if outcome is None else outcome.log_digest,
        deal_id=task.deal_id,
        index=task.index,
        tx_hash=None if outcome is None else outcome.tx_hash,
        app=None if deal is None else deal.app,
        app_fingerprint=None if app is None else app.fingerprint,
        dataset=deal.dataset if deal is not None and has_dataset else None,
        dataset_checksum=None if dataset is None else dataset.checksum,
        params="" if deal is None else deal.params,
    )


def sms_facts(sms_url: str | None, receipt: bytes | None = None) -> SmsFacts:
    """The SMS's release signer and audit head (``None`` fields when it cannot be read), and the
    hash of its audit entry at the position ``receipt``'s release record names."""
    if sms_url is None:
        return SmsFacts(signer=None)
    seq = None if receipt is None else _audit_seq(receipt)
    client = SmsClient(sms_url)
    try:
        health = client.health()
        head = client.audit_head()
        link = None if seq is None else client.audit_link(seq)
    except SealrunError:
        return SmsFacts(signer=None)
    finally:
        client.close()
    return SmsFacts(
        signer=health.release_signer,
        audit_head_seq=0 if head is None else head.seq,
        audit_head_hash=None if head is None else head.entry_hash,
        audit_entry_hash=None if link is None else link.entry_hash,
    )


def _audit_seq(raw: bytes) -> int | None:
    """The audit position a receipt's signed release record names (``None``: none readable)."""
    try:
        signed = parse_receipt(raw).body.get("release")
        record = verify_release_record(signed) if isinstance(signed, dict) else None
    except SealrunError:
        return None
    seq = None if record is None else record.get("audit_seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1 else None


def verify_receipt(
    raw: bytes,
    *,
    now: int,
    simulator_key: SimulatorPublicKey | None = None,
    allow_simulated: bool = False,
    expected_task: bytes | None = None,
    sms_signer: str | None = None,
    chain: ChainFacts | None = None,
    sms: SmsFacts | None = None,
) -> Verdict:
    """Parse and check a receipt; online when ``chain`` is given.

    Raises:
        ReceiptError: ``RECEIPT_INVALID``/``RECEIPT_VERSION_UNSUPPORTED`` (unreadable receipt).
    """
    receipt = parse_receipt(raw)
    verifier: EvidenceVerifier = standard_verifier(simulator_public_key=simulator_key)
    signer = sms_signer or (None if sms is None else sms.signer)
    checks = offline_checks(
        receipt, verifier=verifier, now=now, allow_simulated=allow_simulated,
        expected_task=expected_task, sms_signer=signer,
    )  # fmt: skip
    offline = chain is None
    if chain is not None:
        checks += online_checks(receipt, chain, sms or SmsFacts(signer=None))
    return Verdict(receipt, checks, all_passed(checks, offline=offline), offline)
