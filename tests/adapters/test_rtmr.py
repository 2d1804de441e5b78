"""RTMR3 extension from a confidential VM, against fake kernel trees in a temporary folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sealrun.adapters.tee.rtmr import (
    TDX_CMD_EXTEND_RTMR,
    IoctlRtmrExtender,
    RtmrEventRecorder,
    SysfsRtmrExtender,
    open_rtmr_extender,
)
from sealrun.core.attestation import APP_EVENT_NAME, EventLog, RuntimeEvent, app_fingerprint_from_log
from sealrun.errors import EnclaveError

FINGERPRINT = hashlib.sha256(b"bundle").digest()


class FakeRtmr:
    """What the TDX module does: RTMR3 = SHA-384(RTMR3 ‖ digest), from 48 zero bytes."""

    def __init__(self) -> None:
        self.value = bytes(48)

    def extend(self, digest: bytes) -> None:
        self.value = hashlib.sha384(self.value + digest).digest()


class BrokenRtmr:
    def extend(self, digest: bytes) -> None:
        raise EnclaveError("refused", code="QUOTE_RTMR_EXTEND_FAILED")


def _code(function: object, *args: object) -> str:
    with pytest.raises(EnclaveError) as caught:
        function(*args)  # type: ignore[operator]
    return caught.value.code


def test_the_recorded_log_replays_to_the_register_and_names_the_app(tmp_path: Path) -> None:
    rtmr = FakeRtmr()
    recorder = RtmrEventRecorder(rtmr, tmp_path / "run" / "events.json")
    recorder.record(RuntimeEvent.measure("sealrun.boot", b"runtime"))
    recorder.measure_app(FINGERPRINT)
    log = EventLog.from_json(recorder.log_bytes())
    assert len(log.events) == 2
    assert app_fingerprint_from_log(log, rtmr3=rtmr.value) == FINGERPRINT
    assert json.loads((tmp_path / "run" / "events.json").read_text())["version"] == 1
    assert sorted(path.name for path in (tmp_path / "run").iterdir()) == [".events.json.lock", "events.json"]


def test_a_second_app_event_or_a_bad_fingerprint_is_refused_and_nothing_is_extended(tmp_path: Path) -> None:
    rtmr = FakeRtmr()
    recorder = RtmrEventRecorder(rtmr, tmp_path / "events.json")
    recorder.measure_app(FINGERPRINT)
    after_app = rtmr.value
    assert _code(recorder.measure_app, FINGERPRINT) == "QUOTE_EVENTLOG_INVALID"
    assert _code(recorder.measure_app, b"short") == "QUOTE_EVENTLOG_INVALID"
    assert rtmr.value == after_app


def test_a_failed_extension_leaves_the_log_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    RtmrEventRecorder(FakeRtmr(), path).record(RuntimeEvent.measure("sealrun.boot", b""))
    before = path.read_bytes()
    assert _code(RtmrEventRecorder(BrokenRtmr(), path).measure_app, FINGERPRINT) == "QUOTE_RTMR_EXTEND_FAILED"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".events.json.lock", "events.json"]


def test_a_corrupt_log_on_disk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(b'{"version": 1, "events": [}')
    assert _code(RtmrEventRecorder(FakeRtmr(), path).measure_app, FINGERPRINT) == "QUOTE_EVENTLOG_INVALID"
    path.write_bytes(b" " * (70 * 1024))
    assert _code(RtmrEventRecorder(FakeRtmr(), path).read) == "QUOTE_EVENTLOG_INVALID"


def test_the_sysfs_register_file_gets_the_48_byte_digest(tmp_path: Path) -> None:
    root = tmp_path / "sys" / "class" / "misc" / "tdx_guest" / "measurements"
    root.mkdir(parents=True)
    (root / "rtmr3:sha384").write_bytes(b"")
    extender = open_rtmr_extender(sysfs_root=root, device=tmp_path / "no-device")
    assert isinstance(extender, SysfsRtmrExtender)
    recorder = RtmrEventRecorder(extender, tmp_path / "events.json")
    log = recorder.measure_app(FINGERPRINT)
    assert (root / "rtmr3:sha384").read_bytes() == log.events[0].digest
    assert log.events[0] == RuntimeEvent.measure(APP_EVENT_NAME, FINGERPRINT)
    assert _code(extender.extend, b"\x00" * 47) == "QUOTE_RTMR_EXTEND_FAILED"
    assert _code(SysfsRtmrExtender(tmp_path / "missing").extend, bytes(48)) == "QUOTE_RTMR_EXTEND_FAILED"


def test_the_ioctl_carries_the_digest_and_index_3(tmp_path: Path) -> None:
    device = tmp_path / "tdx_guest"
    device.write_bytes(b"")
    calls: list[tuple[int, bytes]] = []
    extender = IoctlRtmrExtender(
        device, ioctl=lambda fd, request, argument: calls.append((request, argument))
    )
    digest = bytes(range(48))
    extender.extend(digest)
    assert calls == [(TDX_CMD_EXTEND_RTMR, digest + b"\x03")]
    assert (2 << 30) | (49 << 16) | (ord("T") << 8) | 3 == TDX_CMD_EXTEND_RTMR
    # A real ioctl on a file that is not the TDX device fails (ENOTTY): a code, not a traceback.
    assert _code(IoctlRtmrExtender(device).extend, digest) == "QUOTE_RTMR_EXTEND_FAILED"
    chosen = open_rtmr_extender(sysfs_root=tmp_path / "no-sysfs", device=device)
    assert isinstance(chosen, IoctlRtmrExtender)


def test_no_interface_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(EnclaveError) as caught:
        open_rtmr_extender(sysfs_root=tmp_path / "a", device=tmp_path / "b")
    assert caught.value.code == "QUOTE_RTMR_UNAVAILABLE"


def test_a_vm_is_measured_for_one_app_once_per_boot(tmp_path: Path) -> None:
    rtmr = FakeRtmr()
    recorder = RtmrEventRecorder(rtmr, tmp_path / "events.json")
    recorder.ensure_app(FINGERPRINT)
    after_first = rtmr.value
    log = recorder.ensure_app(FINGERPRINT)  # the next task of the same app: nothing recorded
    assert rtmr.value == after_first
    assert app_fingerprint_from_log(log, rtmr3=rtmr.value) == FINGERPRINT
    other = hashlib.sha256(b"another bundle").digest()
    assert _code(recorder.ensure_app, other) == "QUOTE_EVENTLOG_INVALID"
    assert rtmr.value == after_first
    assert len(recorder.read().events) == 1


def test_the_enclave_measures_the_app_into_rtmr3_before_a_tdx_quote(tmp_path: Path) -> None:
    """``python -m sealrun.enclave --tee tdx``: the quoting side records the app event, and the
    quoter it builds sends the log with each quote."""
    import argparse

    from sealrun.adapters.tee.devices import TdxGuestQuoter
    from sealrun.enclave.__main__ import _make_quoter

    register = tmp_path / "sys/class/misc/tdx_guest/measurements/rtmr3:sha384"
    register.parent.mkdir(parents=True)
    register.write_bytes(b"")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/tdx_guest").write_bytes(b"")
    args = argparse.Namespace(tee="tdx", tee_root=tmp_path, simulator_key=None)
    factory = _make_quoter(args)
    quoter = factory(FINGERPRINT)
    assert isinstance(quoter, TdxGuestQuoter)
    assert quoter.event_log is not None
    log = EventLog.from_json(quoter.event_log() or b"")
    assert [event.name for event in log.events] == [APP_EVENT_NAME]
    assert log.events[0].payload == FINGERPRINT
    assert register.read_bytes() == log.events[0].digest  # the one extension the kernel saw
    assert (tmp_path / "run/sealrun/rtmr3-events.json").is_file()
    factory(FINGERPRINT)  # a second task of the same app
    assert len(EventLog.from_json((tmp_path / "run/sealrun/rtmr3-events.json").read_bytes()).events) == 1
    with pytest.raises(EnclaveError) as caught:
        factory(hashlib.sha256(b"another").digest())
    assert caught.value.code == "QUOTE_EVENTLOG_INVALID"
