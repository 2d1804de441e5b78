"""The run report: what the enclave tells the worker after a task, and nothing more.

The enclave process writes it (temp file + rename) as one versioned JSON object; the
worker reads it and submits the result or the failure receipt on chain. Everything in it
is public: digests, signatures, sizes, exit status, timings. Outputs and logs are only
referenced as sealed files (age, to the beneficiary), never in clear.

::

    {
      "version": 1,
      "status": "completed" | "failed",
      "task_id": "0x<32 B>", "worker": "0x<address>",
      "enclave": "0x<address of the enclave challenge key>",
      "fingerprint": "0x<32 B>" | null,          # the measured bundle (null: unreadable bundle)
      "result": null | {"digest", "result_hash", "result_seal", "signature",   # 0x-hex
                        "sealed_path", "sealed_checksum", "sealed_bytes", "receipt_digest",
                        "upload_url" | null},
      "failure": null | {"code": int, "name": str, "log_digest": "0x..", "signature": "0x..",
                         "receipt_digest": "0x.."},
      "receipt_path": str,                       # the task receipt (docs/formats.md), "" if none
      "logs": {"sealed_path": str, "sealed_checksum": "0x..", "sealed_bytes": int,
               "stdout_bytes": int, "stderr_bytes": int, "truncated": bool},
      "exit_status": int | null, "signal": int | null,
      "output_bytes": int, "input_bytes": int,
      "timings": {"precompute_s": float, "app_s": float, "postcompute_s": float, "total_s": float}
    }

``log_digest`` (signed in the failure receipt) is the sealed log's checksum: anyone holding
the sealed log can check it against the receipt, and only the beneficiary can read it.
Parsing refuses unknown versions (``REPORT_VERSION_UNSUPPORTED``) and malformed documents
(``REPORT_INVALID``), both :class:`~sealrun.errors.EnclaveError`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from sealrun.core.jsontypes import JsonObject
from sealrun.errors import EnclaveError

__all__ = ["REPORT_VERSION", "FailureReceipt", "LogsInfo", "ResultInfo", "RunReport", "Timings"]

REPORT_VERSION = 1


@dataclass(frozen=True)
class ResultInfo:
    """A completed task's result: digests, the enclave's signature, the sealed archive."""

    digest: str
    result_hash: str
    result_seal: str
    signature: str
    sealed_path: str
    sealed_checksum: str
    sealed_bytes: int
    receipt_digest: str
    upload_url: str | None = None


@dataclass(frozen=True)
class FailureReceipt:
    """A failed task's signed receipt: code, log digest and the enclave's signature."""

    code: int
    name: str
    log_digest: str
    signature: str
    receipt_digest: str


@dataclass(frozen=True)
class LogsInfo:
    """The sealed stdout/stderr/enclave log archive and the sizes the app wrote."""

    sealed_path: str
    sealed_checksum: str
    sealed_bytes: int
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each phase."""

    precompute_s: float = 0.0
    app_s: float = 0.0
    postcompute_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True)
class RunReport:
    """The outcome of one task run by the enclave (see the module docstring)."""

    status: Literal["completed", "failed"]
    task_id: str
    worker: str
    enclave: str
    fingerprint: str | None
    logs: LogsInfo
    result: ResultInfo | None = None
    failure: FailureReceipt | None = None
    exit_status: int | None = None
    signal: int | None = None
    output_bytes: int = 0
    input_bytes: int = 0
    timings: Timings = Timings()
    receipt_path: str = ""

    def __post_init__(self) -> None:
        if self.status not in ("completed", "failed"):
            raise EnclaveError(f"unknown run status {self.status!r}", code="REPORT_INVALID")
        if (self.status == "completed") != (self.result is not None and self.failure is None):
            raise EnclaveError(
                "a report is completed with a result or failed with a receipt", code="REPORT_INVALID"
            )
        if self.status == "failed" and self.failure is None:
            raise EnclaveError("a failed report needs a failure receipt", code="REPORT_INVALID")

    def to_dict(self) -> JsonObject:
        """Return the report as plain JSON-able data (with its version)."""
        return {"version": REPORT_VERSION, **asdict(self)}

    def to_json(self) -> bytes:
        """Serialize to canonical JSON bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RunReport:
        """Parse a report written by :meth:`to_json`.

        Raises:
            EnclaveError: ``REPORT_INVALID`` or ``REPORT_VERSION_UNSUPPORTED``.
        """
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise EnclaveError("run report is not JSON", code="REPORT_INVALID") from error
        if not isinstance(data, dict):
            raise EnclaveError("run report is not a JSON object", code="REPORT_INVALID")
        if data.pop("version", None) != REPORT_VERSION:
            raise EnclaveError("run report version is not supported", code="REPORT_VERSION_UNSUPPORTED")
        try:
            result, failure = data.pop("result", None), data.pop("failure", None)
            return cls(
                logs=LogsInfo(**data.pop("logs")),
                timings=Timings(**data.pop("timings", {})),
                result=None if result is None else ResultInfo(**result),
                failure=None if failure is None else FailureReceipt(**failure),
                **data,
            )
        except (TypeError, KeyError, AttributeError, ValueError) as error:
            raise EnclaveError(f"run report is malformed: {error}", code="REPORT_INVALID") from error
