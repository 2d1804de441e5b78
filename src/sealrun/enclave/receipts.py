"""The task receipt, written and signed inside the enclave (``docs/formats.md``, Task receipt v1).

:class:`RecordingQuoter` keeps the evidence the enclave presented to the SMS, so the receipt
can carry it; :func:`make_receipt` assembles the document from what the run learnt (never a
secret value: secrets are named, inputs are committed to by their sha256), signs the
preimage the hub checks and returns it with its digest; :func:`write_receipt` stores it next
to the report (temp file + rename) and :func:`upload_receipt` puts it in the task's store
(kind ``receipt``: public, a receipt holds no secret).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.adapters.http.store import StoreClient
from sealrun.adapters.tee import Quoter
from sealrun.api.blobs import store_of_upload_url
from sealrun.core.attestation import Evidence
from sealrun.core.jsontypes import JsonObject, JsonValue
from sealrun.core.receipts import Receipt, build_receipt, params_digest
from sealrun.core.tasks import FailureCode, SecretsBundle, address_of, sign_digest
from sealrun.errors import StorageError

__all__ = ["ReceiptFacts", "RecordingQuoter", "make_receipt", "upload_receipt", "write_receipt"]


@dataclass
class RecordingQuoter:
    """A :class:`Quoter` that remembers the last evidence it produced."""

    inner: Quoter
    last: Evidence | None = None

    @property
    def tee(self) -> str:
        """The wrapped quoter's TEE."""
        return self.inner.tee

    @property
    def measurement(self) -> bytes:
        """The wrapped quoter's measurement."""
        return self.inner.measurement

    def evidence(self, report_data: bytes) -> Evidence:
        """Produce evidence through the wrapped quoter and keep it."""
        self.last = self.inner.evidence(report_data)
        return self.last


@dataclass(frozen=True)
class ReceiptFacts:
    """What the runtime learnt about one task, for its receipt."""

    task: SecretsBundle
    fingerprint: str | None
    isolation: str
    quoter: RecordingQuoter
    deal_id: str | None = None
    task_index: int | None = None
    release: JsonObject | None = None
    attestation_policy: str | None = None
    limits: dict[str, int] = field(default_factory=dict)
    input_files: list[tuple[str, str]] = field(default_factory=list)
    result_digest: str | None = None
    result_sealed: str | None = None
    failure: FailureCode | None = None
    logs_sha256: str = "0x" + "00" * 32


def file_sha256(path: Path) -> str:
    """``0x`` + sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "0x" + digest.hexdigest()


def _secret_names(task: SecretsBundle) -> list[JsonValue]:
    names: list[JsonValue] = [f"IEXEC_REQUESTER_SECRET_{index}" for index in sorted(task.requester_secrets)]
    if task.app_developer_secret is not None:
        names.append("IEXEC_APP_DEVELOPER_SECRET")
    if task.dataset is not None:
        names.append("dataset-key")
    return names


def _tee(quoter: RecordingQuoter) -> JsonObject:
    evidence = quoter.last
    text = None if evidence is None else evidence.to_json()
    collateral = None if evidence is None or evidence.collateral is None else evidence.collateral
    # The evidence's own type (tdx-dcap, sev-snp, simulated): what a verifier dispatches on.
    kind = quoter.tee if evidence is None else evidence.type.value
    return {
        "type": kind,
        "simulated": kind == "simulated",
        "evidence_sha256": None if text is None else "0x" + hashlib.sha256(text.encode()).hexdigest(),
        "evidence": text,
        "evidence_url": None,
        "collateral_sha256": None if collateral is None else "0x" + hashlib.sha256(collateral).hexdigest(),
        "collateral_times": None,
    }


def make_receipt(facts: ReceiptFacts) -> Receipt:
    """Assemble, sign and validate the receipt.

    Raises:
        ReceiptError: ``RECEIPT_INVALID`` if a fact is out of the format (a bug).
    """
    task = facts.task
    dataset = task.dataset
    body: JsonObject = {
        "version": 1,
        "status": "failed" if facts.failure is not None else "completed",
        "task": {"id": task.task_id, "deal": facts.deal_id, "index": facts.task_index},
        "worker": task.worker,
        "enclave": address_of(task.enclave_key),
        "app": {"fingerprint": facts.fingerprint, "isolation": facts.isolation},
        "tee": _tee(facts.quoter),
        "policy": {
            "attestation": facts.attestation_policy,
            "network": "none",
            "wall_time_s": facts.limits.get("wall_time_s", 0),
            "memory_bytes": facts.limits.get("memory_bytes", 0),
            "processes": facts.limits.get("processes", 0),
            "input_bytes": facts.limits.get("input_bytes", 0),
            "output_bytes": facts.limits.get("output_bytes", 0),
        },
        "inputs": {
            "dataset": None
            if dataset is None
            else {"address": dataset.address, "checksum": dataset.checksum},
            "input_files": [{"url": url, "sha256": sha} for url, sha in facts.input_files],
            "params_sha256": params_digest(task.params.args, task.params.input_files),
            "secrets": _secret_names(task),
        },
        "result": {
            "digest": facts.result_digest,
            "sealed_sha256": facts.result_sealed,
            "failure_code": None if facts.failure is None else int(facts.failure),
            "failure_name": None if facts.failure is None else facts.failure.name,
        },
        "logs_sha256": facts.logs_sha256,
        "release": facts.release,
        "signature": "0x" + "00" * 65,
    }
    unsigned = build_receipt(body)
    signature = sign_digest(bytes.fromhex(task.enclave_key[2:]), unsigned.preimage())
    body["signature"] = "0x" + signature.hex()
    return build_receipt(body)


def write_receipt(receipt: Receipt, path: Path) -> None:
    """Write the canonical bytes to ``path`` (temp file + rename)."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(receipt.to_bytes())
    os.replace(partial, path)


def upload_receipt(path: Path, task: SecretsBundle, *, ca_file: Path | None = None) -> str | None:
    """Upload the receipt to the task's store (best effort: it also stays in the work folder,
    and a failed upload never changes the task's outcome); return its URL or ``None``."""
    try:
        base = store_of_upload_url(task.result_upload.url)
    except ValueError:
        return None  # a URL that does not parse: the result upload failed on it already
    if base is None:
        return None
    store = StoreClient(base, ca_file=ca_file)
    try:
        return store.upload_with_token(path, task.result_upload.token, kind="receipt").url
    except StorageError:
        return None
    finally:
        store.close()
