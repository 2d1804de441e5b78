"""The checks ``sealrun verify`` runs on a task receipt: pure, one stable code each.

Every check answers a :class:`Check`: its code (``VERIFY_*``, the check), a status
(``pass``, ``fail``, ``simulated``: passed, but the TEE is the simulator; ``skipped``: needs
the chain or the SMS and the run is offline) and on failure a reason code (``RECEIPT_*``).
Nothing here raises for a hostile receipt: a check that cannot be made fails with its reason.

Offline (the receipt alone): :func:`offline_checks`. Online, with what the chain and the SMS
say (:class:`ChainFacts`, :class:`SmsFacts`, gathered by ``sealrun.adapters.receipts``):
:func:`online_checks`. Codes and meanings: ``docs/formats.md``, "Verifying a receipt".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sealrun.core.attestation import Evidence, EvidenceVerifier
from sealrun.core.jsontypes import JsonObject, JsonValue
from sealrun.core.receipts.document import Receipt, params_digest
from sealrun.core.receipts.release import verify_release_record
from sealrun.core.releases.params import parse_release_params
from sealrun.core.tasks.signatures import recover_signer
from sealrun.errors import SealrunError

__all__ = ["ChainFacts", "Check", "SmsFacts", "all_passed", "offline_checks", "online_checks"]

Status = Literal["pass", "fail", "simulated", "skipped"]

# The checks, in the order they are reported.
SIGNATURE = "VERIFY_SIGNATURE"
TASK = "VERIFY_TASK"
EVIDENCE = "VERIFY_EVIDENCE"
FINGERPRINT = "VERIFY_FINGERPRINT"
RELEASE = "VERIFY_RELEASE"
CHAIN = "VERIFY_CHAIN"
APP = "VERIFY_APP"
INPUTS = "VERIFY_INPUTS"
RESULT = "VERIFY_RESULT"
AUDIT = "VERIFY_AUDIT"


@dataclass(frozen=True)
class Check:
    """One check's answer."""

    code: str
    status: Status
    detail: str
    reason: str | None = None

    def to_dict(self) -> JsonObject:
        """JSON-ready."""
        return {"code": self.code, "status": self.status, "detail": self.detail, "reason": self.reason}


def _ok(code: str, detail: str) -> Check:
    return Check(code, "pass", detail)


def _fail(code: str, reason: str, detail: str) -> Check:
    return Check(code, "fail", detail, reason)


@dataclass(frozen=True)
class ChainFacts:
    """What the chain says about the task (``None`` fields: the chain does not know it).

    Attributes:
        outcome: ``completed``/``failed``/``claimed``, or ``None`` while open or unknown.
        known: whether the hub knows the task at all.
        receipt_digest, result_digest, failure_code, log_digest: from the settlement event.
        deal_id, index, tx_hash: the settlement's task and transaction.
        app, app_fingerprint: the deal's app and its registered fingerprint.
        dataset, dataset_checksum: the deal's dataset (``None``: none) and its registered checksum.
        params: the deal's params string.
    """

    known: bool
    outcome: str | None = None
    receipt_digest: bytes | None = None
    result_digest: bytes | None = None
    failure_code: int | None = None
    log_digest: bytes | None = None
    deal_id: bytes | None = None
    index: int | None = None
    tx_hash: str | None = None
    app: str | None = None
    app_fingerprint: bytes | None = None
    dataset: str | None = None
    dataset_checksum: bytes | None = None
    params: str = ""


@dataclass(frozen=True)
class SmsFacts:
    """What the SMS publishes: its release signer and its audit head (``None``: unreachable)."""

    signer: str | None
    audit_head_seq: int | None = None
    audit_head_hash: str | None = None
    #: the hash of the log's entry at the position the receipt's release record names (``None``:
    #: not asked, or an older SMS without the public link route)
    audit_entry_hash: str | None = None


@dataclass(frozen=True)
class _Context:
    receipt: Receipt
    verifier: EvidenceVerifier
    now: int
    allow_simulated: bool
    expected_task: bytes | None
    sms_signer: str | None
    measurement: list[bytes] = field(default_factory=list)


def _hex(value: JsonValue) -> str:
    return str(value).lower()


def _signature(ctx: _Context) -> Check:
    receipt = ctx.receipt
    try:
        signer = recover_signer(receipt.preimage(), receipt.signature)
    except SealrunError as error:
        return _fail(SIGNATURE, "RECEIPT_SIGNATURE_INVALID", f"the signature does not verify: {error.code}")
    if signer.lower() != _hex(receipt.body["enclave"]):
        return _fail(SIGNATURE, "RECEIPT_SIGNATURE_INVALID", "the signature is not the enclave key's")
    return _ok(SIGNATURE, f"signed by the task's enclave key {receipt.body['enclave']}")


def _task(ctx: _Context) -> Check:
    receipt = ctx.receipt
    if ctx.expected_task is not None and receipt.task_id != ctx.expected_task:
        return _fail(TASK, "RECEIPT_TASK_MISMATCH", f"the receipt is for task 0x{receipt.task_id.hex()}")
    if not receipt.task_binding_ok():
        return _fail(TASK, "RECEIPT_TASK_UNBOUND", "task id is not keccak256(deal, index)")
    return _ok(TASK, f"task 0x{receipt.task_id.hex()} = deal {receipt.field('task', 'deal')} index "
               f"{receipt.field('task', 'index')}")  # fmt: skip


def _evidence(ctx: _Context) -> Check:  # noqa: PLR0911 (one return per refusal)
    receipt = ctx.receipt
    text = receipt.field("tee", "evidence")
    if not isinstance(text, str):
        return _fail(EVIDENCE, "RECEIPT_EVIDENCE_MISSING", "the receipt carries no evidence")
    if "0x" + hashlib.sha256(text.encode()).hexdigest() != receipt.field("tee", "evidence_sha256"):
        return _fail(EVIDENCE, "RECEIPT_EVIDENCE_DIGEST", "the evidence does not hash to evidence_sha256")
    try:
        evidence = Evidence.from_json(text)
        claims = ctx.verifier.verify(evidence, now=ctx.now)
    except SealrunError as error:
        return _fail(EVIDENCE, error.code, f"the evidence does not verify: {error.message}")
    if claims.tee.value != receipt.field("tee", "type") or claims.simulated != receipt.field(
        "tee", "simulated"
    ):
        return _fail(EVIDENCE, "RECEIPT_EVIDENCE_TYPE", "the evidence's TEE is not the receipt's")
    ctx.measurement.append(claims.measurement)
    if claims.simulated:
        if ctx.allow_simulated:
            return Check(EVIDENCE, "simulated", "simulated TEE evidence (allowed): not a real enclave")
        return _fail(EVIDENCE, "RECEIPT_EVIDENCE_SIMULATED", "simulated TEE evidence: pass --allow-simulated")
    return _ok(EVIDENCE, f"{claims.tee.value} evidence verified (TCB {claims.tcb_status})")


def _fingerprint(ctx: _Context) -> Check:
    fingerprint = ctx.receipt.field("app", "fingerprint")
    if not ctx.measurement:
        return _fail(FINGERPRINT, "RECEIPT_FINGERPRINT_UNPROVEN", "no verified evidence to compare with")
    if not isinstance(fingerprint, str) or ctx.measurement[0].hex() != fingerprint[2:]:
        return _fail(
            FINGERPRINT, "RECEIPT_FINGERPRINT_MISMATCH", "the evidence's measurement is not the app's"
        )
    return _ok(FINGERPRINT, f"the enclave measured {fingerprint}")


def _release(ctx: _Context) -> Check:
    receipt = ctx.receipt
    signed = receipt.body["release"]
    if not isinstance(signed, dict):
        return _fail(RELEASE, "RECEIPT_RELEASE_MISSING", "the receipt carries no signed SMS release record")
    try:
        record = verify_release_record(signed)
    except SealrunError as error:
        return _fail(RELEASE, error.code, error.message)
    expected: Mapping[str, JsonValue] = {
        "task_id": "0x" + receipt.task_id.hex(),
        "deal_id": receipt.field("task", "deal"),
        "task_index": receipt.field("task", "index"),
        "worker": _hex(receipt.body["worker"]),
        "enclave_challenge": _hex(receipt.body["enclave"]),
        "evidence_sha256": receipt.field("tee", "evidence_sha256"),
        "measurement": receipt.field("app", "fingerprint"),
        "tee": receipt.field("tee", "type"),
    }
    for key, value in expected.items():
        got = record[key]
        if (got.lower() if isinstance(got, str) else got) != value:
            return _fail(RELEASE, "RECEIPT_RELEASE_MISMATCH", f"the SMS's record has another {key}")
    if ctx.sms_signer is None:
        return Check(RELEASE, "skipped", f"signed by {signed['signer']}; no trusted SMS key given")
    if str(signed["signer"]).lower() != ctx.sms_signer.lower():
        return _fail(
            RELEASE, "RECEIPT_RELEASE_SIGNER_UNTRUSTED", f"signed by {signed['signer']}, not the SMS"
        )
    return _ok(
        RELEASE, f"the SMS ({signed['signer']}) released to this enclave, audit #{record['audit_seq']}"
    )


def offline_checks(
    receipt: Receipt,
    *,
    verifier: EvidenceVerifier,
    now: int,
    allow_simulated: bool = False,
    expected_task: bytes | None = None,
    sms_signer: str | None = None,
) -> list[Check]:
    """The checks the receipt alone supports (signature, task, evidence, fingerprint, release)."""
    ctx = _Context(receipt, verifier, now, allow_simulated, expected_task, sms_signer)
    return [_signature(ctx), _task(ctx), _evidence(ctx), _fingerprint(ctx), _release(ctx)]


def _chain(receipt: Receipt, chain: ChainFacts) -> Check:
    if not chain.known:
        return _fail(CHAIN, "RECEIPT_CHAIN_UNKNOWN_TASK", "the chain does not know this task")
    if chain.outcome != receipt.status:
        return _fail(
            CHAIN,
            "RECEIPT_CHAIN_STATUS",
            f"the chain says {chain.outcome or 'open'}, the receipt {receipt.status}",
        )
    if chain.receipt_digest != receipt.digest:
        return _fail(CHAIN, "RECEIPT_CHAIN_BINDING", "the settlement bound another receipt digest")
    deal = receipt.field("task", "deal")
    if (
        chain.deal_id is None
        or deal != "0x" + chain.deal_id.hex()
        or chain.index != receipt.field("task", "index")
    ):
        return _fail(CHAIN, "RECEIPT_CHAIN_BINDING", "the settlement is for another deal or index")
    return _ok(CHAIN, f"settled in {chain.tx_hash}, which bound this receipt's digest")


def _app(receipt: Receipt, chain: ChainFacts) -> Check:
    fingerprint = receipt.field("app", "fingerprint")
    if chain.app_fingerprint is None or fingerprint != "0x" + chain.app_fingerprint.hex():
        return _fail(APP, "RECEIPT_APP_MISMATCH", f"the registered fingerprint of {chain.app} is another")
    return _ok(APP, f"{fingerprint} is the registered fingerprint of app {chain.app}")


def _inputs(receipt: Receipt, chain: ChainFacts) -> Check:
    inputs = receipt.body["inputs"]
    assert isinstance(inputs, dict)
    dataset = inputs["dataset"]
    if chain.dataset is None:
        if dataset is not None:
            return _fail(INPUTS, "RECEIPT_INPUTS_MISMATCH", "the deal has no dataset, the receipt one")
    elif (
        not isinstance(dataset, dict)
        or chain.dataset_checksum is None
        or (
            _hex(dataset["address"]) != chain.dataset.lower()
            or dataset["checksum"] != "0x" + chain.dataset_checksum.hex()
        )
    ):
        return _fail(
            INPUTS, "RECEIPT_INPUTS_MISMATCH", "the dataset or its checksum is not the registered one"
        )
    try:
        params = parse_release_params(chain.params)
    except SealrunError:
        return _fail(INPUTS, "RECEIPT_INPUTS_MISMATCH", "the deal's params are unreadable")
    failed = receipt.status == "failed"
    if not failed and inputs["params_sha256"] != params_digest(params.args, params.input_files):
        return _fail(INPUTS, "RECEIPT_INPUTS_MISMATCH", "the params digest is not the deal's params")
    named = {f"IEXEC_REQUESTER_SECRET_{index}" for index in params.secrets}
    used = {str(name) for name in inputs["secrets"] if str(name).startswith("IEXEC_REQUESTER_SECRET_")}  # type: ignore[union-attr]
    if not failed and used != named:
        return _fail(INPUTS, "RECEIPT_INPUTS_MISMATCH", "the requester secrets used are not the deal's")
    return _ok(INPUTS, "dataset, params and secret names are the deal's")


def _result(receipt: Receipt, chain: ChainFacts) -> Check:
    if receipt.status == "completed":
        if (
            chain.result_digest is None
            or receipt.field("result", "digest") != "0x" + chain.result_digest.hex()
        ):
            return _fail(RESULT, "RECEIPT_RESULT_MISMATCH", "the chain recorded another result digest")
        return _ok(RESULT, f"result digest {receipt.field('result', 'digest')} is the chain's")
    logs = chain.log_digest
    if (
        chain.failure_code != receipt.field("result", "failure_code")
        or logs is None
        or (receipt.body["logs_sha256"] != "0x" + logs.hex())
    ):
        return _fail(
            RESULT, "RECEIPT_RESULT_MISMATCH", "the chain recorded another failure code or log digest"
        )
    return _ok(RESULT, f"failure {receipt.field('result', 'failure_name')} and its logs are the chain's")


def _audit(receipt: Receipt, sms: SmsFacts) -> Check:
    signed = receipt.body["release"]
    if not isinstance(signed, dict):
        return _fail(AUDIT, "RECEIPT_RELEASE_MISSING", "no release record to look up")
    if sms.audit_head_seq is None:
        return _fail(AUDIT, "RECEIPT_AUDIT_UNAVAILABLE", "the SMS's audit log could not be read")
    try:
        record = verify_release_record(signed)
    except SealrunError as error:
        return _fail(AUDIT, error.code, error.message)
    seq, wanted = record["audit_seq"], record["audit_entry_hash"]
    mismatch = _audit_mismatch(seq, wanted, sms)
    if mismatch is not None:
        return _fail(AUDIT, "RECEIPT_AUDIT_MISMATCH", mismatch)
    how = "its hash matches the log's entry" if sms.audit_entry_hash is not None else "by position only"
    mode = f"{record['isolation']} isolation" + (
        "" if record["session"] is None else f", session {record['session']}"
    )
    return _ok(AUDIT, f"audit record #{seq} is in the SMS's log, {how} (head #{sms.audit_head_seq}; {mode})")


def _audit_mismatch(seq: object, wanted: object, sms: SmsFacts) -> str | None:
    """Why the SMS's log does not hold the record at ``seq`` with hash ``wanted`` (None: it does)."""
    assert sms.audit_head_seq is not None
    if not isinstance(seq, int) or seq > sms.audit_head_seq:
        return "the SMS's audit log is shorter than the record says"
    if seq == sms.audit_head_seq and wanted != sms.audit_head_hash:
        return "the audit record at that position is another"
    if sms.audit_entry_hash is not None and wanted != sms.audit_entry_hash:
        return f"the SMS's audit entry #{seq} is another record"
    return None


def online_checks(receipt: Receipt, chain: ChainFacts, sms: SmsFacts) -> list[Check]:
    """The checks that need the chain and the SMS (run after :func:`offline_checks`)."""
    if not chain.known:
        unknown = _fail(CHAIN, "RECEIPT_CHAIN_UNKNOWN_TASK", "the chain does not know this task")
        return [
            unknown,
            *(_fail(c, "RECEIPT_CHAIN_UNKNOWN_TASK", "no chain record") for c in (APP, INPUTS, RESULT)),
        ]
    return [_chain(receipt, chain), _app(receipt, chain), _inputs(receipt, chain), _result(receipt, chain),
            _audit(receipt, sms)]  # fmt: skip


def all_passed(checks: list[Check], *, offline: bool) -> bool:
    """Whether every check passed (``simulated`` counts when it was allowed; ``skipped`` only offline)."""
    return all(c.status in ("pass", "simulated") or (offline and c.status == "skipped") for c in checks)
