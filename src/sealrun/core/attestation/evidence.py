"""The evidence envelope: raw evidence bytes with an explicitly declared type.

A verifier is chosen by :attr:`Evidence.type` only: nothing ever looks at the bytes to guess
what they are, and no verifier falls back to another. The envelope travels between the enclave
and the SMS as a versioned JSON object (:meth:`Evidence.to_json` / :meth:`Evidence.from_json`)::

    {"version": 1, "type": "sgx-dcap", "payload": "<base64>", "collateral": "<base64>" | null}

``collateral`` is what the verifier needs besides the evidence: the DCAP collateral JSON
(``QuoteCollateralV3``) for ``sgx-dcap`` / ``tdx-dcap``, the VCEK or VLEK certificate (DER or PEM)
for ``sev-snp``, nothing for ``nitro`` (the document carries its chain) and ``simulated``.

A TDX confidential VM adds ``"event_log": "<base64>"``, its RTMR3 event log
(:mod:`~sealrun.core.attestation.eventlog`, at most 64 KiB); the key is absent otherwise, so
every other envelope is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sealrun.core.attestation.codes import ATTEST_EVENTLOG_MALFORMED, ATTEST_MALFORMED, ATTEST_UNKNOWN_TYPE
from sealrun.errors import AttestationError

__all__ = [
    "ENVELOPE_VERSION",
    "MAX_EVENT_LOG_BYTES",
    "MAX_EVIDENCE_BYTES",
    "Evidence",
    "EvidenceType",
    "decode_evidence_text",
]

ENVELOPE_VERSION = 1
# Real evidence is a few KiB (a DCAP quote with its PCK chain ~5 KiB, DCAP collateral ~20 KiB);
# anything far larger is refused before any parser sees it.
MAX_EVIDENCE_BYTES = 1 << 20
# The RTMR3 event log (same bound as core.attestation.eventlog, which re-checks it).
MAX_EVENT_LOG_BYTES = 64 * 1024
_KEYS = frozenset({"version", "type", "payload", "collateral"})

_HEX_TEXT = re.compile(rb"^(?:[0-9a-fA-F]{2})+$")
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/_-]+={0,2}$")


class EvidenceType(StrEnum):
    """The declared kind of evidence; each value has exactly one verifier."""

    SGX_DCAP = "sgx-dcap"
    TDX_DCAP = "tdx-dcap"
    SEV_SNP = "sev-snp"
    NITRO = "nitro"
    SIMULATED = "simulated"

    @classmethod
    def parse(cls, value: object) -> EvidenceType:
        """Return the type named ``value`` exactly (no case folding, no aliases).

        Raises:
            AttestationError: ``ATTEST_UNKNOWN_TYPE`` for any other value.
        """
        if isinstance(value, str):
            for member in cls:
                if member.value == value:
                    return member
        names = ", ".join(member.value for member in cls)
        raise AttestationError(f"unknown evidence type {value!r} (known: {names})", code=ATTEST_UNKNOWN_TYPE)


@dataclass(frozen=True)
class Evidence:
    """Evidence bytes, the type they are declared to be, and the collateral to verify them.

    Args:
        type: the declared evidence type; it alone chooses the verifier.
        payload: the evidence bytes (a quote, a report, a COSE document, simulated evidence).
        collateral: what the verifier needs besides the evidence (see the module docs), or None.
        event_log: a TDX confidential VM's RTMR3 event log (JSON bytes), or None.

    Raises:
        AttestationError: ``ATTEST_MALFORMED`` for empty or oversized bytes,
            ``ATTEST_EVENTLOG_MALFORMED`` for an event log that is not bytes or is oversized.
    """

    type: EvidenceType
    payload: bytes
    collateral: bytes | None = None
    event_log: bytes | None = None

    def __post_init__(self) -> None:
        # A plain string naming a type is normalised; anything else is refused.
        object.__setattr__(self, "type", EvidenceType.parse(self.type))
        if not isinstance(self.payload, bytes) or not self.payload:
            raise AttestationError("evidence payload must be non-empty bytes", code=ATTEST_MALFORMED)
        if len(self.payload) > MAX_EVIDENCE_BYTES:
            raise AttestationError("evidence payload is too large", code=ATTEST_MALFORMED)
        if self.collateral is not None and (
            not isinstance(self.collateral, bytes) or len(self.collateral) > MAX_EVIDENCE_BYTES
        ):
            raise AttestationError("collateral must be bytes of at most 1 MiB", code=ATTEST_MALFORMED)
        if self.event_log is not None and (
            not isinstance(self.event_log, bytes) or len(self.event_log) > MAX_EVENT_LOG_BYTES
        ):
            raise AttestationError(
                "the event log must be bytes of at most 64 KiB", code=ATTEST_EVENTLOG_MALFORMED
            )

    def to_json(self) -> str:
        """Serialize the envelope (version 1) as one JSON object (``event_log`` only when set)."""
        collateral = None if self.collateral is None else base64.b64encode(self.collateral).decode()
        document = {
            "version": ENVELOPE_VERSION,
            "type": self.type.value,
            "payload": base64.b64encode(self.payload).decode(),
            "collateral": collateral,
        }
        if self.event_log is not None:
            document["event_log"] = base64.b64encode(self.event_log).decode()
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Evidence:
        """Parse an envelope made by :meth:`to_json`; unknown keys and versions are refused.

        Raises:
            AttestationError: ``ATTEST_MALFORMED`` or ``ATTEST_UNKNOWN_TYPE``.
        """
        if len(text) > 3 * MAX_EVIDENCE_BYTES:
            raise AttestationError("evidence envelope is too large", code=ATTEST_MALFORMED)
        try:
            data: Any = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise AttestationError(f"evidence envelope is not JSON: {error}", code=ATTEST_MALFORMED) from None
        if not isinstance(data, dict) or set(data) - {"event_log"} != _KEYS:
            raise AttestationError(
                "evidence envelope must have exactly version, type, payload, collateral (event_log optional)",
                code=ATTEST_MALFORMED,
            )
        if data["version"] != ENVELOPE_VERSION or isinstance(data["version"], bool):
            raise AttestationError(
                f"unsupported evidence envelope version {data['version']!r}", code=ATTEST_MALFORMED
            )
        collateral = data["collateral"]
        event_log = data.get("event_log")
        return cls(
            type=EvidenceType.parse(data["type"]),
            payload=_strict_base64(data["payload"], "payload"),
            collateral=None if collateral is None else _strict_base64(collateral, "collateral"),
            event_log=None if event_log is None else _strict_base64(event_log, "event_log"),
        )


def _strict_base64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise AttestationError(f"evidence {what} must be a base64 string", code=ATTEST_MALFORMED)
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, binascii.Error):
        raise AttestationError(f"evidence {what} is not valid base64", code=ATTEST_MALFORMED) from None


def decode_evidence_text(data: bytes) -> bytes:
    """Decode evidence stored as hex or base64 text; return raw bytes unchanged.

    The encoding (not the evidence type) is recognised from the bytes: text that is entirely
    hex digits (even length) is hex, text in the base64 alphabet that decodes strictly is
    base64, anything else is already raw. Surrounding whitespace and line breaks are ignored
    for text. Binary evidence (quotes, reports, CBOR) always contains bytes outside both
    alphabets, so it is never mistaken for text.

    Args:
        data: the file's bytes.

    Returns:
        The raw evidence bytes.

    Raises:
        AttestationError: ``ATTEST_MALFORMED`` if ``data`` is empty.
    """
    compact = b"".join(data.split())
    if not compact:
        raise AttestationError("evidence file is empty", code=ATTEST_MALFORMED)
    if _HEX_TEXT.match(compact):
        return bytes.fromhex(compact.decode("ascii"))
    if _BASE64_TEXT.match(compact):
        try:
            if b"-" in compact or b"_" in compact:
                return base64.urlsafe_b64decode(compact + b"=" * (-len(compact) % 4))
            return base64.b64decode(compact, validate=True)
        except (ValueError, binascii.Error):
            pass
    return data
