"""Extending TDX RTMR3 from inside a confidential VM, with the event log a verifier replays.

The enclave runtime measures the app into RTMR3 before it asks for a quote (the dstack model,
``docs/attestation.md``): :class:`RtmrEventRecorder` records a
:class:`~sealrun.core.attestation.eventlog.RuntimeEvent` by writing the new event log to a
temporary file, extending RTMR3 with the event's digest, then renaming the log into place. A
failure at any step leaves a log that no longer replays to RTMR3, so the evidence is refused
(fail closed), never a log that claims more than the register holds.

Two kernel interfaces extend RTMR3 (:func:`open_rtmr_extender` picks the first present):

* :class:`SysfsRtmrExtender`: recent kernels (the TSM measurement registers, Linux 6.16+)
  expose ``/sys/class/misc/tdx_guest/measurements/rtmr3:sha384``; writing the 48-byte digest
  extends the register;
* :class:`IoctlRtmrExtender`: older guest kernels with Intel's ``TDX_CMD_EXTEND_RTMR`` ioctl
  on ``/dev/tdx_guest`` (``struct {u8 data[48]; u8 index;}``, request
  ``_IOR('T', 3, 49 bytes)`` = ``0x80315403`` as libtdx_attest defines it; some kernels
  differ, so the request is a parameter).

Both roots are configurable, so tests run against a fake tree in a temporary folder.
Refusals are :class:`~sealrun.errors.EnclaveError` codes: ``QUOTE_RTMR_UNAVAILABLE`` (no
interface), ``QUOTE_RTMR_EXTEND_FAILED`` (the kernel refused), ``QUOTE_EVENTLOG_INVALID``
(the log on disk does not parse, is full, or would get a second app event).
"""

from __future__ import annotations

import fcntl
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sealrun.core.attestation import APP_EVENT_NAME, EventLog, RuntimeEvent
from sealrun.core.attestation.eventlog import MAX_EVENT_LOG_BYTES, RTMR_SIZE
from sealrun.errors import AttestationError, EnclaveError

__all__ = [
    "DEFAULT_EVENT_LOG",
    "DEFAULT_SYSFS_ROOT",
    "DEFAULT_TDX_GUEST_DEVICE",
    "TDX_CMD_EXTEND_RTMR",
    "IoctlRtmrExtender",
    "RtmrEventRecorder",
    "RtmrExtender",
    "SysfsRtmrExtender",
    "open_rtmr_extender",
]

DEFAULT_SYSFS_ROOT = Path("/sys/class/misc/tdx_guest/measurements")
DEFAULT_TDX_GUEST_DEVICE = Path("/dev/tdx_guest")
DEFAULT_EVENT_LOG = Path("/run/sealrun/rtmr3-events.json")
RTMR3_FILE = "rtmr3:sha384"
RTMR3_INDEX = 3
TDX_CMD_EXTEND_RTMR = 0x80315403  # _IOR('T', 3, struct tdx_extend_rtmr_req) with a 49-byte request


class RtmrExtender(Protocol):
    """Extends RTMR3 with one 48-byte digest (``RTMR3 = SHA-384(RTMR3 ‖ digest)``)."""

    def extend(self, digest: bytes) -> None:
        """Extend RTMR3, or raise ``EnclaveError`` (``QUOTE_RTMR_EXTEND_FAILED``)."""
        ...


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, bytes) or len(digest) != RTMR_SIZE:
        raise EnclaveError(f"an RTMR digest is {RTMR_SIZE} bytes", code="QUOTE_RTMR_EXTEND_FAILED")


@dataclass(frozen=True)
class SysfsRtmrExtender:
    """RTMR3 through the kernel's measurement register file (``<root>/rtmr3:sha384``)."""

    root: Path = DEFAULT_SYSFS_ROOT

    @property
    def path(self) -> Path:
        """The register file written to."""
        return self.root / RTMR3_FILE

    def extend(self, digest: bytes) -> None:
        """Write the digest in one ``write`` (the kernel extends on a full 48-byte write)."""
        _check_digest(digest)
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                written = os.write(descriptor, digest)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise EnclaveError(
                f"cannot extend RTMR3 through {self.path}: {error.strerror}", code="QUOTE_RTMR_EXTEND_FAILED"
            ) from None
        if written != RTMR_SIZE:
            raise EnclaveError(
                f"the kernel took {written} of {RTMR_SIZE} bytes for RTMR3", code="QUOTE_RTMR_EXTEND_FAILED"
            )


Ioctl = Callable[[int, int, bytes], object]


@dataclass(frozen=True)
class IoctlRtmrExtender:
    """RTMR3 through ``TDX_CMD_EXTEND_RTMR`` on the TDX guest device (older kernels)."""

    device: Path = DEFAULT_TDX_GUEST_DEVICE
    request: int = TDX_CMD_EXTEND_RTMR
    ioctl: Ioctl = field(default=fcntl.ioctl, repr=False)

    def extend(self, digest: bytes) -> None:
        """Issue the ioctl with ``data[48] = digest, index = 3``."""
        _check_digest(digest)
        argument = struct.pack("=48sB", digest, RTMR3_INDEX)
        try:
            descriptor = os.open(self.device, os.O_RDWR | os.O_CLOEXEC)
            try:
                self.ioctl(descriptor, self.request, argument)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise EnclaveError(
                f"cannot extend RTMR3 through {self.device}: {error.strerror}",
                code="QUOTE_RTMR_EXTEND_FAILED",
            ) from None


def open_rtmr_extender(
    *, sysfs_root: Path = DEFAULT_SYSFS_ROOT, device: Path = DEFAULT_TDX_GUEST_DEVICE
) -> RtmrExtender:
    """The sysfs register file if the kernel has it, else the device's ioctl.

    Raises:
        EnclaveError: ``QUOTE_RTMR_UNAVAILABLE`` if neither exists (not a TDX guest).
    """
    sysfs = SysfsRtmrExtender(sysfs_root)
    if sysfs.path.exists():
        return sysfs
    if device.exists():
        return IoctlRtmrExtender(device)
    raise EnclaveError(
        f"no RTMR interface: neither {sysfs.path} nor {device} exists (not a TDX guest?)",
        code="QUOTE_RTMR_UNAVAILABLE",
    )


@dataclass(frozen=True)
class RtmrEventRecorder:
    """Records runtime events: the event log on disk and RTMR3 extended in step.

    Args:
        extender: how RTMR3 is extended.
        log_path: the event log file (its folder is created, mode 0700).
    """

    extender: RtmrExtender
    log_path: Path = DEFAULT_EVENT_LOG

    def read(self) -> EventLog:
        """The log recorded so far (empty if there is no file yet).

        Raises:
            EnclaveError: ``QUOTE_EVENTLOG_INVALID`` if the file does not parse or is unreadable.
        """
        try:
            with self.log_path.open("rb") as handle:
                data = handle.read(MAX_EVENT_LOG_BYTES + 1)
        except FileNotFoundError:
            return EventLog()
        except OSError as error:
            raise EnclaveError(
                f"cannot read the event log {self.log_path}: {error.strerror}", code="QUOTE_EVENTLOG_INVALID"
            ) from None
        try:
            return EventLog.from_json(data)
        except AttestationError as error:
            raise EnclaveError(error.message, code="QUOTE_EVENTLOG_INVALID") from None

    def log_bytes(self) -> bytes:
        """The log as the evidence envelope carries it (``Evidence.event_log``)."""
        return self.read().to_json()

    def record(self, event: RuntimeEvent) -> EventLog:
        """Append ``event`` to the log and extend RTMR3 with its digest; return the new log.

        The new log is written to a temporary file, RTMR3 is extended, then the file is
        renamed over the log (a lock file serializes recorders).

        Raises:
            EnclaveError: ``QUOTE_EVENTLOG_INVALID``, ``QUOTE_RTMR_EXTEND_FAILED``.
        """
        folder = self.log_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = os.open(
                folder / f".{self.log_path.name}.lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        except OSError as error:
            raise EnclaveError(
                f"cannot prepare the event log in {folder}: {error.strerror}", code="QUOTE_EVENTLOG_INVALID"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._record_locked(event)
        finally:
            os.close(lock)

    def _record_locked(self, event: RuntimeEvent) -> EventLog:
        try:
            log = self.read().append(event)
        except AttestationError as error:
            raise EnclaveError(error.message, code="QUOTE_EVENTLOG_INVALID") from None
        data = log.to_json()
        if len(data) > MAX_EVENT_LOG_BYTES:
            raise EnclaveError("the event log would pass 64 KiB", code="QUOTE_EVENTLOG_INVALID")
        try:
            descriptor, temporary = tempfile.mkstemp(
                dir=self.log_path.parent, prefix=f".{self.log_path.name}."
            )
        except OSError as error:
            raise EnclaveError(
                f"cannot write the event log: {error.strerror}", code="QUOTE_EVENTLOG_INVALID"
            ) from None
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self.extender.extend(event.digest)
            os.replace(temporary, self.log_path)
        except OSError as error:
            raise EnclaveError(
                f"cannot write the event log: {error.strerror}", code="QUOTE_EVENTLOG_INVALID"
            ) from None
        finally:
            Path(temporary).unlink(missing_ok=True)
        return log

    def measure_app(self, fingerprint: bytes) -> EventLog:
        """Record the app bundle's fingerprint (the log's one app event).

        Raises:
            EnclaveError: ``QUOTE_EVENTLOG_INVALID`` (not 32 bytes, or already measured),
                ``QUOTE_RTMR_EXTEND_FAILED``.
        """
        try:
            event = RuntimeEvent.measure(APP_EVENT_NAME, fingerprint)
        except AttestationError as error:
            raise EnclaveError(error.message, code="QUOTE_EVENTLOG_INVALID") from None
        return self.record(event)

    def ensure_app(self, fingerprint: bytes) -> EventLog:
        """Measure the app once per boot: a confidential VM is bound to one app.

        The first call records the app event; later calls for the same fingerprint (another
        task of the same app) record nothing, since RTMR3 only ever grows and a second app
        event would make every later quote refused (``ATTEST_EVENTLOG_APP_EVENT``).

        Raises:
            EnclaveError: ``QUOTE_EVENTLOG_INVALID`` if this VM was measured for another app
                (one VM runs one app: boot another for it), or as :meth:`measure_app`.
        """
        log = self.read()
        measured = [event.payload for event in log.events if event.name == APP_EVENT_NAME]
        if not measured:
            return self.measure_app(fingerprint)
        if measured != [fingerprint]:
            raise EnclaveError(
                f"this confidential VM is measured for app {measured[0].hex()}, not {fingerprint.hex()}: "
                "one VM runs one app (boot another VM for this one)",
                code="QUOTE_EVENTLOG_INVALID",
            )
        return log
