"""The RTMR3 event log: format, replay, the one app event, and every refusal with its code."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealrun.core.attestation import APP_EVENT_NAME, EventLog, RuntimeEvent, app_fingerprint_from_log
from sealrun.core.attestation.eventlog import MAX_EVENT_LOG_BYTES, MAX_EVENTS, RUNTIME_EVENT_TYPE, extend_rtmr
from sealrun.errors import AttestationError

FINGERPRINT = bytes(range(32))
PROPERTY = settings(
    max_examples=int(os.environ.get("SEALRUN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _log(*events: RuntimeEvent) -> EventLog:
    return EventLog(events)


def _app_log() -> EventLog:
    return _log(
        RuntimeEvent.measure("sealrun.boot", b"runtime 1"),
        RuntimeEvent.measure(APP_EVENT_NAME, FINGERPRINT),
        RuntimeEvent.measure("sealrun.key-provider", b"sms"),
    )


def _code(function: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(AttestationError) as caught:
        function(*args, **kwargs)  # type: ignore[operator]
    return caught.value.code


def test_replay_is_the_sha384_extend_chain_from_zeros() -> None:
    log = _app_log()
    rtmr = bytes(48)
    for event in log.events:
        digest = hashlib.sha384(
            RUNTIME_EVENT_TYPE.to_bytes(4, "little") + b":" + event.name.encode() + b":" + event.payload
        ).digest()
        assert event.digest == digest
        rtmr = hashlib.sha384(rtmr + digest).digest()
    assert log.replay() == rtmr
    assert EventLog().replay() == bytes(48)
    assert (
        extend_rtmr(bytes(48), log.events[0].digest)
        == hashlib.sha384(bytes(48) + log.events[0].digest).digest()
    )


def test_a_log_that_replays_yields_its_app_fingerprint() -> None:
    log = _app_log()
    parsed = EventLog.from_json(log.to_json())
    assert parsed == log
    assert app_fingerprint_from_log(parsed, rtmr3=log.replay()) == FINGERPRINT


def test_the_format_is_the_documented_json() -> None:
    document = json.loads(_app_log().to_json())
    assert document["version"] == 1
    assert document["events"][1] == {
        "imr": 3,
        "type": 0x08000001,
        "name": "sealrun.app-fingerprint",
        "payload": FINGERPRINT.hex(),
        "digest": _app_log().events[1].digest.hex(),
    }


def test_a_log_that_does_not_reproduce_rtmr3_is_refused() -> None:
    log = _app_log()
    assert _code(app_fingerprint_from_log, log, rtmr3=bytes(48)) == "ATTEST_EVENTLOG_REPLAY"
    dropped = _log(*log.events[:2])
    assert _code(app_fingerprint_from_log, dropped, rtmr3=log.replay()) == "ATTEST_EVENTLOG_REPLAY"


def test_a_digest_that_is_not_its_events_is_refused_even_if_the_chain_matches() -> None:
    # The attacker extends the real digest but writes another fingerprint beside it.
    real = RuntimeEvent.measure(APP_EVENT_NAME, FINGERPRINT)
    forged = RuntimeEvent(name=APP_EVENT_NAME, payload=b"\xee" * 32, digest=real.digest)
    log = _log(forged)
    assert log.replay() == _log(real).replay()
    assert _code(app_fingerprint_from_log, log, rtmr3=log.replay()) == "ATTEST_EVENTLOG_REPLAY"


def test_two_app_events_or_none_are_refused() -> None:
    app = RuntimeEvent.measure(APP_EVENT_NAME, FINGERPRINT)
    twice = _log(app, RuntimeEvent.measure(APP_EVENT_NAME, b"\x01" * 32))
    assert _code(app_fingerprint_from_log, twice, rtmr3=twice.replay()) == "ATTEST_EVENTLOG_APP_EVENT"
    none = _log(RuntimeEvent.measure("sealrun.boot", b""))
    assert _code(app_fingerprint_from_log, none, rtmr3=none.replay()) == "ATTEST_EVENTLOG_APP_EVENT"
    assert _code(_log(app).append, app) == "ATTEST_EVENTLOG_APP_EVENT"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(version=2),
        lambda d: d.update(version=True),
        lambda d: d.update(extra=1),
        lambda d: d.pop("events"),
        lambda d: d.update(events={}),
        lambda d: d["events"][0].update(imr=2),
        lambda d: d["events"][0].update(imr=3.0),
        lambda d: d["events"][0].update(type=1),
        lambda d: d["events"][0].update(name="Upper"),
        lambda d: d["events"][0].update(name=""),
        lambda d: d["events"][0].update(name="x" * 65),
        lambda d: d["events"][0].update(payload="ABCD"),
        lambda d: d["events"][0].update(payload="abc"),
        lambda d: d["events"][0].update(payload="00" * 1025),
        lambda d: d["events"][0].update(digest="00" * 47),
        lambda d: d["events"][0].update(digest=None),
        lambda d: d["events"][0].update(comment="x"),
        lambda d: d["events"][1].update(payload="00" * 31),
    ],
)
def test_malformed_logs_are_refused(mutate: object) -> None:
    document = json.loads(_app_log().to_json())
    mutate(document)  # type: ignore[operator]
    assert _code(EventLog.from_json, json.dumps(document).encode()) == "ATTEST_EVENTLOG_MALFORMED"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"version": 1, "version": 1, "events": []}',
        b"[" * 50_000 + b"]" * 50_000,
        b" " * (MAX_EVENT_LOG_BYTES + 1),
        b'{"version": 1, "events": [' + b"1" * 5000 + b"]}",
    ],
    ids=["empty", "not-utf8", "list", "null", "duplicate-key", "deep", "oversized", "huge-int"],
)
def test_garbage_is_malformed(data: bytes) -> None:
    assert _code(EventLog.from_json, data) == "ATTEST_EVENTLOG_MALFORMED"


def test_too_many_events_are_refused() -> None:
    small = RuntimeEvent.measure("e", b"")
    document = {"version": 1, "events": [small.to_dict()] * (MAX_EVENTS + 1)}
    assert (
        _code(EventLog.from_json, json.dumps(document, separators=(",", ":"))) == "ATTEST_EVENTLOG_MALFORMED"
    )
    full = EventLog((small,) * MAX_EVENTS)
    assert _code(full.append, small) == "ATTEST_EVENTLOG_MALFORMED"


def test_measure_refuses_bad_names_and_app_payloads() -> None:
    assert _code(RuntimeEvent.measure, "Bad Name", b"") == "ATTEST_EVENTLOG_MALFORMED"
    assert _code(RuntimeEvent.measure, APP_EVENT_NAME, b"short") == "ATTEST_EVENTLOG_MALFORMED"


_names = st.text(alphabet="abcxyz019._-", max_size=12).map(lambda tail: "e" + tail)
_events = st.builds(RuntimeEvent.measure, _names, st.binary(max_size=40))


@st.composite
def _logs(draw: st.DrawFn) -> EventLog:
    others = draw(st.lists(_events, max_size=6, unique_by=lambda event: event.digest))
    where = draw(st.integers(0, len(others)))
    app = RuntimeEvent.measure(APP_EVENT_NAME, draw(st.binary(min_size=32, max_size=32)))
    return EventLog((*others[:where], app, *others[where:]))


@PROPERTY
@given(_logs(), st.data())
def test_any_single_byte_change_to_any_event_breaks_it(log: EventLog, data: st.DataObject) -> None:
    """Change one byte anywhere inside the events' JSON: the log is refused, never accepted."""
    text = log.to_json()
    rtmr3 = log.replay()
    start = text.index(b'"events":[') + len(b'"events":[')
    end = len(text) - 2  # the closing "]}"
    position = data.draw(st.integers(start, end - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != text[position]), label="byte")
    changed = text[:position] + bytes([byte]) + text[position + 1 :]
    with pytest.raises(AttestationError) as caught:
        app_fingerprint_from_log(EventLog.from_json(changed), rtmr3=rtmr3)
    assert caught.value.code in {
        "ATTEST_EVENTLOG_MALFORMED",
        "ATTEST_EVENTLOG_REPLAY",
        "ATTEST_EVENTLOG_APP_EVENT",
    }


@PROPERTY
@given(_logs(), st.data())
def test_reordering_distinct_events_breaks_replay(log: EventLog, data: st.DataObject) -> None:
    if len(log.events) < 2:
        return
    order = data.draw(st.permutations(range(len(log.events))), label="order")
    if order == list(range(len(log.events))):
        return
    reordered = EventLog(tuple(log.events[index] for index in order))
    with pytest.raises(AttestationError) as caught:
        app_fingerprint_from_log(reordered, rtmr3=log.replay())
    assert caught.value.code == "ATTEST_EVENTLOG_REPLAY"


@PROPERTY
@given(st.binary(max_size=2048))
def test_only_attestation_errors_escape_the_parser(data: bytes) -> None:
    code = None
    try:
        EventLog.from_json(data)
    except AttestationError as error:
        code = error.code
    assert code in {None, "ATTEST_EVENTLOG_MALFORMED"}
