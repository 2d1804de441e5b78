"""The RTMR3 event log of a TDX confidential VM: its format, its replay, the app's fingerprint.

In a confidential VM the TD's MRTD and RTMR0-2 measure the base image (firmware, kernel,
command line), identical for every app; the enclave runtime then *extends* RTMR3 with the app
bundle's fingerprint and records each extension in an event log. The verifier replays the log
and checks that it reproduces the quote's RTMR3, so the log's app event is as trustworthy as the
quote itself (the model of dstack and of the TCG runtime event logs; the format is ours).

Format, version 1: one UTF-8 JSON object of at most :data:`MAX_EVENT_LOG_BYTES` bytes, exactly::

    {"version": 1, "events": [
      {"imr": 3, "type": 134217729, "name": "sealrun.app-fingerprint",
       "payload": "<lowercase hex>", "digest": "<lowercase hex, 48 bytes>"}, ...]}

* ``imr`` is the register index, ``3`` (RTMR3) only: RTMR0-2 are pinned by the trusted image
  list, not replayed; ``type`` is :data:`RUNTIME_EVENT_TYPE` (``0x08000001``) only;
* ``name`` is 1-64 characters of ``[a-z0-9._-]`` starting with a letter or digit; ``payload``
  at most :data:`MAX_PAYLOAD_BYTES` bytes; at most :data:`MAX_EVENTS` events; no other keys, no
  duplicate keys, hex in lowercase only (one value, one spelling);
* every event's digest is recomputed, never trusted:
  ``digest = SHA-384(u32le(type) ‖ ":" ‖ name ‖ ":" ‖ payload)``;
* replay: ``RTMR = 48 zero bytes``, then for each event in order
  ``RTMR = SHA-384(RTMR ‖ digest)``; the result must equal the quote's RTMR3;
* exactly one event is named :data:`APP_EVENT_NAME`; its payload (32 bytes) is the app bundle's
  fingerprint. Other events (a key provider, a boot marker...) are allowed and replayed, but
  are never a source of the fingerprint.

Because every digest is recomputed from its event and the replay chains them in order, any
change of any byte of any event, or any reordering of distinct events, fails (property-tested).
Refusals: ``ATTEST_EVENTLOG_MALFORMED``, ``ATTEST_EVENTLOG_REPLAY``, ``ATTEST_EVENTLOG_APP_EVENT``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from sealrun.core.attestation.codes import (
    ATTEST_EVENTLOG_APP_EVENT,
    ATTEST_EVENTLOG_MALFORMED,
    ATTEST_EVENTLOG_REPLAY,
)
from sealrun.errors import AttestationError

__all__ = [
    "APP_EVENT_NAME",
    "EVENT_LOG_VERSION",
    "MAX_EVENTS",
    "MAX_EVENT_LOG_BYTES",
    "MAX_PAYLOAD_BYTES",
    "RTMR_SIZE",
    "RUNTIME_EVENT_TYPE",
    "EventLog",
    "RuntimeEvent",
    "app_fingerprint_from_log",
    "extend_rtmr",
]

EVENT_LOG_VERSION = 1
RUNTIME_EVENT_TYPE = 0x08000001  # outside the TCG event types, as dstack's runtime events
RTMR3 = 3
RTMR_SIZE = 48
APP_EVENT_NAME = "sealrun.app-fingerprint"
APP_FINGERPRINT_SIZE = 32
MAX_EVENT_LOG_BYTES = 64 * 1024
MAX_EVENTS = 256
MAX_PAYLOAD_BYTES = 1024

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")
_LOWER_HEX = re.compile(r"^(?:[0-9a-f]{2})*\Z")
_EVENT_KEYS = ("imr", "type", "name", "payload", "digest")


def _malformed(message: str) -> AttestationError:
    return AttestationError(f"event log: {message}", code=ATTEST_EVENTLOG_MALFORMED)


def extend_rtmr(rtmr: bytes, digest: bytes) -> bytes:
    """One TDX RTMR extension: ``SHA-384(rtmr ‖ digest)`` (both 48 bytes)."""
    return hashlib.sha384(rtmr + digest).digest()


def _event_digest(kind: int, name: str, payload: bytes) -> bytes:
    return hashlib.sha384(kind.to_bytes(4, "little") + b":" + name.encode("ascii") + b":" + payload).digest()


@dataclass(frozen=True)
class RuntimeEvent:
    """One RTMR3 extension: what was measured (name, payload) and the digest extended."""

    name: str
    payload: bytes
    digest: bytes
    imr: int = RTMR3
    type: int = RUNTIME_EVENT_TYPE

    @classmethod
    def measure(cls, name: str, payload: bytes) -> RuntimeEvent:
        """The event recording ``payload`` under ``name``, with its digest computed.

        Raises:
            AttestationError: ``ATTEST_EVENTLOG_MALFORMED`` for a bad name or payload.
        """
        _check_name(name)
        _check_payload(name, payload)
        return cls(name, payload, _event_digest(RUNTIME_EVENT_TYPE, name, payload))

    @property
    def recomputed_digest(self) -> bytes:
        """The digest of this event's content (what a verifier compares ``digest`` with)."""
        return _event_digest(self.type, self.name, self.payload)

    def to_dict(self) -> dict[str, object]:
        """The event as its JSON object (keys in the format's order)."""
        return {"imr": self.imr, "type": self.type, "name": self.name,
                "payload": self.payload.hex(), "digest": self.digest.hex()}  # fmt: skip


def _check_name(name: object) -> str:
    if not isinstance(name, str) or _NAME.match(name) is None:
        raise _malformed("an event name must be 1-64 characters of [a-z0-9._-]")
    return name


def _check_payload(name: str, payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise _malformed(f"event {name!r}: payload over {MAX_PAYLOAD_BYTES} bytes")
    if name == APP_EVENT_NAME and len(payload) != APP_FINGERPRINT_SIZE:
        raise _malformed(f"the app event's payload must be a {APP_FINGERPRINT_SIZE}-byte fingerprint")


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str) or _LOWER_HEX.match(value) is None:
        raise _malformed(f"{what} must be lowercase hex")
    return bytes.fromhex(value)


def _exact_int(value: object, expected: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value != expected:
        raise _malformed(f"{what} must be {expected}")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _malformed(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_event(index: int, raw: object) -> RuntimeEvent:
    if not isinstance(raw, dict) or tuple(sorted(raw)) != tuple(sorted(_EVENT_KEYS)):
        raise _malformed(f"event {index} must have exactly {', '.join(_EVENT_KEYS)}")
    imr = _exact_int(raw["imr"], RTMR3, f"event {index}: imr")
    kind = _exact_int(raw["type"], RUNTIME_EVENT_TYPE, f"event {index}: type")
    name = _check_name(raw["name"])
    payload = _hex(raw["payload"], f"event {index}: payload")
    _check_payload(name, payload)
    digest = _hex(raw["digest"], f"event {index}: digest")
    if len(digest) != RTMR_SIZE:
        raise _malformed(f"event {index}: digest must be {RTMR_SIZE} bytes")
    return RuntimeEvent(name=name, payload=payload, digest=digest, imr=imr, type=kind)


@dataclass(frozen=True)
class EventLog:
    """An RTMR3 event log (version 1): the events in the order they were extended."""

    events: tuple[RuntimeEvent, ...] = ()

    @classmethod
    def from_json(cls, data: bytes | str) -> EventLog:
        """Parse a version 1 event log, strictly (see the module docs).

        Raises:
            AttestationError: ``ATTEST_EVENTLOG_MALFORMED``.
        """
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        if not isinstance(data, bytes):
            raise _malformed("must be bytes")
        if len(data) > MAX_EVENT_LOG_BYTES:
            raise _malformed(f"over {MAX_EVENT_LOG_BYTES} bytes")
        try:
            document: Any = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
        except AttestationError:
            raise
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _malformed("not UTF-8 JSON") from None
        if not isinstance(document, dict) or set(document) != {"version", "events"}:
            raise _malformed("must be an object with exactly version and events")
        _exact_int(document["version"], EVENT_LOG_VERSION, "version")
        events = document["events"]
        if not isinstance(events, list):
            raise _malformed("events must be a list")
        if len(events) > MAX_EVENTS:
            raise _malformed(f"over {MAX_EVENTS} events")
        return cls(tuple(_parse_event(index, raw) for index, raw in enumerate(events)))

    def to_json(self) -> bytes:
        """The log as compact JSON (what :meth:`from_json` reads back)."""
        document = {"version": EVENT_LOG_VERSION, "events": [event.to_dict() for event in self.events]}
        return json.dumps(document, separators=(",", ":")).encode("ascii")

    def append(self, event: RuntimeEvent) -> EventLog:
        """This log with ``event`` appended.

        Raises:
            AttestationError: ``ATTEST_EVENTLOG_MALFORMED`` past :data:`MAX_EVENTS`, or if the
                app event would appear twice.
        """
        if len(self.events) >= MAX_EVENTS:
            raise _malformed(f"over {MAX_EVENTS} events")
        if event.name == APP_EVENT_NAME and any(e.name == APP_EVENT_NAME for e in self.events):
            raise AttestationError(
                "event log: the app event is already recorded", code=ATTEST_EVENTLOG_APP_EVENT
            )
        return EventLog((*self.events, event))

    def replay(self) -> bytes:
        """RTMR3 as these events make it: 48 zero bytes extended with each digest in order."""
        rtmr = bytes(RTMR_SIZE)
        for event in self.events:
            rtmr = extend_rtmr(rtmr, event.digest)
        return rtmr


def app_fingerprint_from_log(log: EventLog, *, rtmr3: bytes) -> bytes:
    """Check that ``log`` replays to ``rtmr3`` and return the app fingerprint it records.

    Args:
        log: the parsed event log.
        rtmr3: the quote's (verified) RTMR3.

    Returns:
        The 32-byte payload of the one app event.

    Raises:
        AttestationError: ``ATTEST_EVENTLOG_APP_EVENT`` (no app event, or several),
            ``ATTEST_EVENTLOG_REPLAY`` (a digest that is not its event's, or a replay that does
            not reproduce ``rtmr3``).
    """
    app_events = [event for event in log.events if event.name == APP_EVENT_NAME]
    if len(app_events) != 1:
        raise AttestationError(
            f"event log: {len(app_events)} app events ({APP_EVENT_NAME!r}); exactly one is required",
            code=ATTEST_EVENTLOG_APP_EVENT,
        )
    for index, event in enumerate(log.events):
        if not hmac.compare_digest(event.digest, event.recomputed_digest):
            raise AttestationError(
                f"event log: event {index} ({event.name}) has a digest that is not its content's",
                code=ATTEST_EVENTLOG_REPLAY,
            )
    if not isinstance(rtmr3, bytes) or not hmac.compare_digest(log.replay(), rtmr3):
        raise AttestationError("event log: the replay does not reproduce RTMR3", code=ATTEST_EVENTLOG_REPLAY)
    return app_events[0].payload
