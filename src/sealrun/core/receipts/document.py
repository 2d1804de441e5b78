"""Task receipt v1: the document, its canonical encoding, its digest and its signature.

A receipt is one JSON object (``docs/formats.md``, "Task receipt v1"). Its **canonical
encoding** is the UTF-8 of ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=True)`` over a document that holds only objects, arrays, strings, booleans,
``null`` and integers in ``[0, 2**63)`` (no floats); decoding refuses anything that does not
re-encode to the very same bytes (whitespace, key order, escapes, duplicate keys), so one
receipt has exactly one byte form.

``digest = sha256(b"sealrun-task-receipt-v1\\x00" ‖ canonical(receipt without "signature"))``.
The enclave does not sign the receipt on its own: the digest enters the preimage the hub
already checks (:func:`sealrun.core.tasks.result_signature_digest` for a completed task,
:func:`sealrun.core.tasks.failure_digest` for a failed one), and ``signature`` is that one
EIP-191 signature by the task's enclave challenge key. A receipt therefore verifies offline
(recompute the preimage from its own fields) and is bound to the chain (the hub verified the
same signature at settlement and logged the digest).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from sealrun.core.jsontypes import JsonObject, JsonValue
from sealrun.core.tasks.hashing import failure_digest, result_hash, result_seal, result_signature_digest
from sealrun.core.tasks.hashing import task_id as task_id_of
from sealrun.errors import ReceiptError

__all__ = [
    "DIGEST_DOMAIN",
    "MAX_RECEIPT_BYTES",
    "RECEIPT_VERSION",
    "SCHEMA",
    "Receipt",
    "build_receipt",
    "canonical_bytes",
    "params_digest",
    "parse_receipt",
    "receipt_digest",
    "signed_preimage",
]

RECEIPT_VERSION: Final = 1
DIGEST_DOMAIN: Final = b"sealrun-task-receipt-v1\x00"
#: A receipt embeds its evidence (a DCAP quote with its certificates is ~10 KiB, plus collateral).
MAX_RECEIPT_BYTES: Final = 4 << 20
_MAX_INT: Final = 2**63
_MAX_TEXT: Final = 4096
_MAX_ITEMS: Final = 256

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SIGNATURE = re.compile(r"^0x[0-9a-f]{130}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _invalid(where: str, what: str) -> ReceiptError:
    return ReceiptError(f"receipt field {where}: {what}", code="RECEIPT_INVALID")


# ---------------------------------------------------------------- canonical JSON


def _check_canonical_value(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not 0 <= value < _MAX_INT:
            raise _invalid(where, "integers are 0 to 2**63 - 1")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_canonical_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _invalid(where, "object keys are strings")
            _check_canonical_value(item, f"{where}.{key}")
        return
    raise _invalid(where, f"{type(value).__name__} is not allowed (no floats)")


def canonical_bytes(document: Mapping[str, JsonValue]) -> bytes:
    """The one byte form of a receipt document (see the module docs).

    Raises:
        ReceiptError: ``RECEIPT_INVALID`` for a float, a negative or huge integer, a non-string key.
    """
    _check_canonical_value(dict(document), "$")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, JsonValue]]) -> JsonObject:
    result: JsonObject = {}
    for key, value in pairs:
        if key in result:
            raise _invalid(key, "appears twice")
        result[key] = value
    return result


def _no_constant(name: str) -> JsonValue:
    raise _invalid("$", f"{name} is not JSON")


# ---------------------------------------------------------------- schema

# A field's check: raises on a bad value. The schema below is the format's single description.
_Check = Callable[[JsonValue, str], None]


def _hex32(value: JsonValue, where: str) -> None:
    if not isinstance(value, str) or not _HEX32.match(value):
        raise _invalid(where, "must be 0x and 64 lower-case hex digits")


def _address(value: JsonValue, where: str) -> None:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise _invalid(where, "must be an address (0x and 40 hex digits)")


def _signature(value: JsonValue, where: str) -> None:
    if not isinstance(value, str) or not _SIGNATURE.match(value):
        raise _invalid(where, "must be a 65-byte signature (0x and 130 lower-case hex digits)")


def _text(value: JsonValue, where: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
        raise _invalid(where, f"must be a string of 1 to {_MAX_TEXT} characters")


def _name(value: JsonValue, where: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _invalid(where, "must be a short name")


def _uint(value: JsonValue, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_INT:
        raise _invalid(where, "must be an unsigned integer")


def _bool(value: JsonValue, where: str) -> None:
    if not isinstance(value, bool):
        raise _invalid(where, "must be true or false")


def _status(value: JsonValue, where: str) -> None:
    if value not in ("completed", "failed"):
        raise _invalid(where, 'must be "completed" or "failed"')


def _version(value: JsonValue, where: str) -> None:  # noqa: ARG001 (a schema check's signature)
    if value != RECEIPT_VERSION:
        raise ReceiptError(f"receipt version {value!r} is not supported", code="RECEIPT_VERSION_UNSUPPORTED")


def _nullable(check: _Check) -> _Check:
    def nullable(value: JsonValue, where: str) -> None:
        if value is not None:
            check(value, where)

    return nullable


def _evidence(value: JsonValue, where: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_RECEIPT_BYTES:
        raise _invalid(where, "must be the evidence envelope's JSON text")


def _list_of(check: _Check) -> _Check:
    def listed(value: JsonValue, where: str) -> None:
        if not isinstance(value, list) or len(value) > _MAX_ITEMS:
            raise _invalid(where, f"must be a list of at most {_MAX_ITEMS} items")
        for index, item in enumerate(value):
            check(item, f"{where}[{index}]")

    return listed


Schema = Mapping[str, "_Check | Schema"]


def _object(schema: Schema) -> _Check:
    def checked(value: JsonValue, where: str) -> None:
        _check_object(schema, value, where)

    return checked


def _check_object(schema: Schema, value: JsonValue, where: str) -> None:
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    if set(value) != set(schema):
        missing, unknown = sorted(set(schema) - set(value)), sorted(set(value) - set(schema))
        raise _invalid(where, f"missing {missing}, unknown {unknown}")
    for key, check in schema.items():
        path = f"{where}.{key}"
        if callable(check):
            check(value[key], path)
        else:
            _check_object(check, value[key], path)


_INPUT_FILE: Schema = {"url": _text, "sha256": _hex32}

#: Every field of a receipt v1 (the order here is the documentation's; the encoding sorts keys).
SCHEMA: Final[Schema] = {
    "version": _version,
    "status": _status,
    "task": {"id": _hex32, "deal": _nullable(_hex32), "index": _nullable(_uint)},
    "worker": _address,
    "enclave": _address,
    "app": {"fingerprint": _nullable(_hex32), "isolation": _name},
    "tee": {
        "type": _name,
        "simulated": _bool,
        "evidence_sha256": _nullable(_hex32),
        "evidence": _nullable(_evidence),
        "evidence_url": _nullable(_text),
        "collateral_sha256": _nullable(_hex32),
        "collateral_times": _nullable(_object({"issued_at": _uint, "next_update": _uint})),
    },
    "policy": {
        "attestation": _nullable(_name),
        "network": _name,
        "wall_time_s": _uint,
        "memory_bytes": _uint,
        "processes": _uint,
        "input_bytes": _uint,
        "output_bytes": _uint,
    },
    "inputs": {
        "dataset": _nullable(_object({"address": _address, "checksum": _hex32})),
        "input_files": _list_of(_object(_INPUT_FILE)),
        "params_sha256": _hex32,
        "secrets": _list_of(_name),
    },
    "result": {
        "digest": _nullable(_hex32),
        "sealed_sha256": _nullable(_hex32),
        "failure_code": _nullable(_uint),
        "failure_name": _nullable(_name),
    },
    "logs_sha256": _hex32,
    "release": _nullable(_object({"record": _text, "signature": _signature, "signer": _address})),
    "signature": _signature,
}


# ---------------------------------------------------------------- the receipt


def receipt_digest(body: Mapping[str, JsonValue]) -> bytes:
    """``sha256(DIGEST_DOMAIN ‖ canonical(body without "signature"))``: what the enclave signs."""
    unsigned = {key: value for key, value in body.items() if key != "signature"}
    return hashlib.sha256(DIGEST_DOMAIN + canonical_bytes(unsigned)).digest()


def params_digest(args: str, input_files: tuple[str, ...] | list[str]) -> str:
    """The receipt's ``params_sha256``: sha256 of the canonical ``{"args", "input_files"}``."""
    body = canonical_bytes({"args": args, "input_files": list(input_files)})
    return "0x" + hashlib.sha256(body).hexdigest()


def signed_preimage(
    *, status: str, task: bytes, worker: str, digest: bytes, result: bytes | None, failure_code: int | None,
    logs: bytes,
) -> bytes:  # fmt: skip
    """The 32 bytes the enclave signs for this receipt (the hub checks the same signature).

    Raises:
        ReceiptError: ``RECEIPT_INVALID`` when the status and its result fields disagree.
    """
    if status == "completed":
        if result is None:
            raise _invalid("result.digest", "a completed receipt names its result digest")
        return result_signature_digest(result_hash(task, result), result_seal(worker, task, result), digest)
    if failure_code is None or failure_code == 0:
        raise _invalid("result.failure_code", "a failed receipt names a non-zero failure code")
    return failure_digest(task, failure_code, logs, digest)


@dataclass(frozen=True)
class Receipt:
    """A parsed, well-formed receipt (not yet verified: see :mod:`sealrun.core.receipts.checks`).

    Attributes:
        body: the whole document, signature included (validated against :data:`SCHEMA`).
        digest: :func:`receipt_digest` of it.
    """

    body: JsonObject
    digest: bytes

    def _section(self, name: str) -> JsonObject:
        section = self.body[name]
        assert isinstance(section, dict)  # the schema guarantees it
        return section

    def field(self, section: str, name: str) -> JsonValue:
        """One field of a section (``receipt.field("task", "id")``)."""
        return self._section(section)[name]

    @property
    def status(self) -> str:
        """``completed`` or ``failed``."""
        return str(self.body["status"])

    @property
    def task_id(self) -> bytes:
        """The task id (32 bytes)."""
        return bytes.fromhex(str(self.field("task", "id"))[2:])

    @property
    def signature(self) -> bytes:
        """The enclave's 65-byte signature."""
        return bytes.fromhex(str(self.body["signature"])[2:])

    def to_bytes(self) -> bytes:
        """The canonical encoding (what is stored and what :func:`parse_receipt` reads)."""
        return canonical_bytes(self.body)

    def preimage(self) -> bytes:
        """:func:`signed_preimage` for this receipt's own fields."""
        result = self.field("result", "digest")
        code = self.field("result", "failure_code")
        return signed_preimage(
            status=self.status,
            task=self.task_id,
            worker=str(self.body["worker"]),
            digest=self.digest,
            result=None if result is None else bytes.fromhex(str(result)[2:]),
            failure_code=code if isinstance(code, int) else None,
            logs=bytes.fromhex(str(self.body["logs_sha256"])[2:]),
        )

    def task_binding_ok(self) -> bool:
        """Whether ``task.id == keccak256(task.deal ‖ task.index)``."""
        deal, index = self.field("task", "deal"), self.field("task", "index")
        if not isinstance(deal, str) or not isinstance(index, int):
            return False
        return task_id_of(bytes.fromhex(deal[2:]), index) == self.task_id


def build_receipt(body: JsonObject) -> Receipt:
    """Validate a document (the enclave's, before or after signing) and wrap it.

    Raises:
        ReceiptError: ``RECEIPT_INVALID`` or ``RECEIPT_VERSION_UNSUPPORTED``.
    """
    _check_object(SCHEMA, body, "$")
    canonical_bytes(body)
    status, code = body["status"], body["result"]["failure_code"]  # type: ignore[index, call-overload]
    if (status == "completed") != (code is None):
        raise _invalid("result", "a completed receipt has no failure code, a failed one has one")
    return Receipt(body=body, digest=receipt_digest(body))


def parse_receipt(raw: bytes) -> Receipt:
    """Read a receipt from its canonical bytes.

    Raises:
        ReceiptError: ``RECEIPT_INVALID`` (too large, not JSON, not canonical, a field out of
            the schema) or ``RECEIPT_VERSION_UNSUPPORTED``.
    """
    if len(raw) > MAX_RECEIPT_BYTES:
        raise ReceiptError(f"a receipt is at most {MAX_RECEIPT_BYTES} bytes", code="RECEIPT_INVALID")
    try:
        document = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ReceiptError("the receipt is not JSON", code="RECEIPT_INVALID") from error
    if not isinstance(document, dict):
        raise ReceiptError("the receipt is not a JSON object", code="RECEIPT_INVALID")
    if document.get("version") != RECEIPT_VERSION and "version" in document:
        _version(document["version"], "$.version")
    receipt = build_receipt(document)
    if receipt.to_bytes() != raw:
        raise ReceiptError("the receipt is not in its canonical encoding", code="RECEIPT_INVALID")
    return receipt
