"""Signed receipts for tests: real simulated evidence, a real SMS-signed release record."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

from sealrun.core.attestation import SimulatorKey, make_simulated_evidence
from sealrun.core.jsontypes import JsonObject
from sealrun.core.receipts import Receipt, build_receipt, params_digest
from sealrun.core.receipts.release import sign_release_record
from sealrun.core.tasks import address_of, sign_digest, task_id

DEAL = bytes.fromhex("d1" * 32)
INDEX = 3
TASK = task_id(DEAL, INDEX)
ENCLAVE_KEY = bytes.fromhex("11" * 32)
SMS_KEY = bytes.fromhex("22" * 32)
WORKER = "0x" + "ab" * 20
FINGERPRINT = bytes.fromhex("f0" * 32)
SIMULATOR = SimulatorKey.from_private_bytes(b"\x07" * 32)
NOW = 1_800_000_000


@dataclass(frozen=True)
class Signed:
    """A receipt and the bytes it is stored as."""

    receipt: Receipt
    raw: bytes


def body(*, status: str = "completed", fingerprint: bytes = FINGERPRINT, task: bytes = TASK,
         deal: bytes = DEAL, index: int = INDEX) -> JsonObject:  # fmt: skip
    """An unsigned receipt body (signature zero) with evidence and a signed release record."""
    evidence = make_simulated_evidence(SIMULATOR, measurement=fingerprint, report_data=b"\x01" * 64).to_json()
    evidence_sha = "0x" + hashlib.sha256(evidence.encode()).hexdigest()
    enclave = address_of(ENCLAVE_KEY).lower()
    record: JsonObject = {
        "version": 1, "task_id": "0x" + task.hex(), "deal_id": "0x" + deal.hex(), "task_index": index,
        "worker": WORKER, "enclave_challenge": enclave, "app": "0x" + "a1" * 20, "dataset": "0x" + "da" * 20,
        "requester": "0x" + "ee" * 20, "workerpool": "0x" + "bb" * 20, "tee": "simulated",
        "measurement": "0x" + fingerprint.hex(), "evidence_sha256": evidence_sha, "event": "release",
        "code": "RELEASED", "at": NOW - 60, "audit_seq": 7, "audit_entry_hash": "0x" + "77" * 32,
        "isolation": "strict", "session": None,
    }  # fmt: skip
    completed = status == "completed"
    return {
        "version": 1,
        "status": status,
        "task": {"id": "0x" + task.hex(), "deal": "0x" + deal.hex(), "index": index},
        "worker": WORKER,
        "enclave": address_of(ENCLAVE_KEY),
        "app": {"fingerprint": "0x" + fingerprint.hex(), "isolation": "bubblewrap"},
        "tee": {
            "type": "simulated",
            "simulated": True,
            "evidence_sha256": evidence_sha,
            "evidence": evidence,
            "evidence_url": None,
            "collateral_sha256": None,
            "collateral_times": None,
        },
        "policy": {
            "attestation": None,
            "network": "none",
            "wall_time_s": 60,
            "memory_bytes": 1 << 28,
            "processes": 64,
            "input_bytes": 1 << 20,
            "output_bytes": 1 << 20,
        },
        "inputs": {
            "dataset": {"address": "0x" + "da" * 20, "checksum": "0x" + "c5" * 32},
            "input_files": [{"url": "https://example.org/in.txt", "sha256": "0x" + "1f" * 32}],
            "params_sha256": params_digest("--fast", ["https://example.org/in.txt"]),
            "secrets": ["IEXEC_REQUESTER_SECRET_1", "dataset-key"],
        },
        "result": {
            "digest": "0x" + "de" * 32 if completed else None,
            "sealed_sha256": "0x" + "5e" * 32 if completed else None,
            "failure_code": None if completed else 3,
            "failure_name": None if completed else "APP_EXIT_NONZERO",
        },
        "logs_sha256": "0x" + "10" * 32,
        "release": sign_release_record(record, SMS_KEY),
        "signature": "0x" + "00" * 65,
    }


def sign(document: JsonObject, key: bytes = ENCLAVE_KEY) -> Signed:
    """Sign a body with ``key`` as the enclave does (the preimage the hub checks)."""
    document = copy.deepcopy(document)
    document["signature"] = "0x" + "00" * 65
    unsigned = build_receipt(document)
    document["signature"] = "0x" + sign_digest(key, unsigned.preimage()).hex()
    receipt = build_receipt(document)
    return Signed(receipt, receipt.to_bytes())


def signed(**changes: object) -> Signed:
    """A signed receipt (``body(**changes)``)."""
    return sign(body(**changes))  # type: ignore[arg-type]
