"""The audit log: one hash-chained record per release and per refusal.

Each record's hash is ``sha256(canonical JSON of the record without entry_hash)``, and the
JSON includes ``prev_hash``, the previous record's hash (64 zero hex digits for the first).
Editing, inserting or deleting a record therefore breaks every later hash; an auditor who
kept any later hash (``GET /v1/audit/head``) detects it with :func:`verify_audit_chain`.

A record (also the API's JSON) holds: ``seq``, ``at`` (UNIX seconds), ``event``
(``release`` | ``refusal`` | ``failure``: a failure bundle released to a genuine enclave for
an unusable order), ``code`` (``RELEASED`` or the refusal's error code), ``task_id``,
``dataset``, ``app``, ``requester``, ``workerpool``, ``worker``, ``tee``, ``measurement``
(hex), ``policy`` (the digest of the dataset owner's release policy the decision applied,
decision 0090; hashed only when set, so records written before it keep their hashes),
``detail`` (a sentence; never a secret), ``prev_hash``, ``entry_hash``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sealrun.errors import SecretError

__all__ = ["GENESIS_HASH", "AuditFacts", "AuditRecord", "audit_entry_hash", "verify_audit_chain"]

GENESIS_HASH = "0x" + "00" * 32


@dataclass(frozen=True)
class AuditFacts:
    """What is known about one release attempt when it ends (fields may be unknown)."""

    event: str
    code: str
    detail: str
    task_id: str | None = None
    dataset: str | None = None
    app: str | None = None
    requester: str | None = None
    workerpool: str | None = None
    worker: str | None = None
    tee: str | None = None
    measurement: str | None = None
    policy: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """A stored audit record."""

    seq: int
    at: int
    event: str
    code: str
    detail: str
    task_id: str | None
    dataset: str | None
    app: str | None
    requester: str | None
    workerpool: str | None
    worker: str | None
    tee: str | None
    measurement: str | None
    prev_hash: str
    entry_hash: str
    policy: str | None = None

    def to_dict(self) -> dict[str, int | str | None]:
        """The record as JSON-ready data."""
        return asdict(self)


def audit_entry_hash(fields: Mapping[str, Any]) -> str:
    """Hash a record's fields (everything but ``entry_hash``) into its ``0x``-hex hash."""
    body = {
        key: value
        for key, value in fields.items()
        if key != "entry_hash" and not (key == "policy" and value is None)
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "0x" + hashlib.sha256(canonical.encode()).hexdigest()


def verify_audit_chain(records: Iterable[AuditRecord], *, start_hash: str = GENESIS_HASH) -> str:
    """Check that consecutive records chain and hash correctly; return the last hash.

    Raises:
        SecretError: ``AUDIT_CHAIN_BROKEN`` naming the first bad record.
    """
    previous = start_hash
    for record in records:
        fields = record.to_dict()
        if record.prev_hash != previous or audit_entry_hash(fields) != record.entry_hash:
            raise SecretError(f"audit record {record.seq} does not chain", code="AUDIT_CHAIN_BROKEN")
        previous = record.entry_hash
    return previous
