"""The older guest device interfaces of confidential VMs: the fallback when configfs-tsm is absent.

- ``/dev/tdx_guest`` (Linux 6.2+): ``TDX_CMD_GET_REPORT0`` turns 64 bytes of report data into
  a 1024-byte TDREPORT; ``TDX_CMD_GET_QUOTE`` (the pre-configfs quote ioctl of Intel's guest
  kernels and ``libtdx_attest``) has the host's Quote Generation Service turn it into a DCAP
  quote. The quote buffer carries a GHCI ``tdx_quote_hdr`` (version 1, status, in_len,
  out_len) whose data is a 4-byte big-endian length and a QGS ``GET_QUOTE_REQ`` message; the
  answer is a QGS ``GET_QUOTE_RESP`` in the same buffer.
- ``/dev/sev-guest``: ``SNP_GET_REPORT`` with a ``snp_guest_request_ioctl`` pointing at an
  ``snp_report_req`` (user data, VMPL 0) and a 4000-byte ``snp_report_resp`` whose
  ``MSG_REPORT_RSP`` holds the signed report. The VCEK is not in the answer: it comes from
  the collateral source (AMD's KDS or a cache).

The structures are laid out byte for byte as the kernel's UAPI headers
(``linux/tdx-guest.h``, ``linux/sev-guest.h``); the buffers the kernel follows pointers to
are ``ctypes`` buffers that live for the call. ``ioctl`` is an argument (production:
:func:`os_ioctl`, i.e. ``fcntl.ioctl``) so tests can answer as the kernel would.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.adapters.tee.tsm import CollateralSource, EventLogSource, check_quote
from sealrun.core.attestation import Evidence, EvidenceType
from sealrun.errors import EnclaveError

__all__ = [
    "GET_QUOTE_IN_FLIGHT",
    "QGS_GET_QUOTE_REQ",
    "QGS_GET_QUOTE_RESP",
    "SEV_GUEST_DEVICE",
    "SNP_GET_REPORT",
    "SNP_REPORT_REQ",
    "SNP_REPORT_RESP_SIZE",
    "SNP_REQUEST",
    "TDX_CMD_GET_QUOTE",
    "TDX_CMD_GET_REPORT0",
    "TDX_GUEST_DEVICE",
    "TDX_QUOTE_BUFFER",
    "TDX_QUOTE_HEADER",
    "TDX_QUOTE_REQ",
    "TDX_REPORT_LEN",
    "IoctlCall",
    "SevGuestQuoter",
    "TdxGuestQuoter",
    "os_ioctl",
    "qgs_quote_from_response",
    "qgs_quote_request",
]

TDX_GUEST_DEVICE = Path("/dev/tdx_guest")
SEV_GUEST_DEVICE = Path("/dev/sev-guest")

_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, kind: str, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | number


TDX_REPORTDATA_LEN = 64
TDX_REPORT_LEN = 1024
#: ``struct tdx_report_req { __u8 reportdata[64]; __u8 tdreport[1024]; }``
TDX_CMD_GET_REPORT0 = _ioc(_IOC_READ | _IOC_WRITE, "T", 1, TDX_REPORTDATA_LEN + TDX_REPORT_LEN)
#: ``struct tdx_quote_req { __u64 buf; __u64 len; }``
TDX_QUOTE_REQ = struct.Struct("<QQ")
TDX_CMD_GET_QUOTE = _ioc(_IOC_READ, "T", 2, TDX_QUOTE_REQ.size)
#: ``struct tdx_quote_hdr { __u64 version; __u64 status; __u32 in_len; __u32 out_len; __u8 data[]; }``
TDX_QUOTE_HEADER = struct.Struct("<QQII")
TDX_QUOTE_BUFFER = 8 * 4096
GET_QUOTE_SUCCESS = 0
GET_QUOTE_IN_FLIGHT = 0xFFFF_FFFF_FFFF_FFFF
#: QGS message header: major u16, minor u16, type u32, size u32, error_code u32.
QGS_HEADER = struct.Struct("<HHIII")
QGS_GET_QUOTE_REQ = 0
QGS_GET_QUOTE_RESP = 1

#: ``struct snp_guest_request_ioctl { __u8 msg_version; __u64 req_data; __u64 resp_data;
#: union { __u64 exitinfo2; struct { __u32 fw_error; __u32 vmm_error; }; }; }``
SNP_REQUEST = struct.Struct("<B7xQQII")
SNP_GET_REPORT = _ioc(_IOC_READ | _IOC_WRITE, "S", 0, SNP_REQUEST.size)
#: ``struct snp_report_req { __u8 user_data[64]; __u32 vmpl; __u8 rsvd[28]; }``
SNP_REPORT_REQ = struct.Struct("<64sI28x")
SNP_REPORT_RESP_SIZE = 4000
#: ``MSG_REPORT_RSP``: status u32, report_size u32, reserved[24], then the report.
_SNP_REPORT_RSP = struct.Struct("<II24x")

#: ``(fd, request, argument) -> result``; the argument is mutated in place as by the kernel.
IoctlCall = Callable[[int, int, bytearray], int]


def os_ioctl(fd: int, request: int, argument: bytearray) -> int:
    """The real ``ioctl(2)`` (``fcntl.ioctl`` with a mutable buffer)."""
    return int(fcntl.ioctl(fd, request, argument, True))


def _open(device: Path) -> int:
    try:
        return os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as error:
        raise EnclaveError(f"cannot open {device}: {error}", code="QUOTE_UNAVAILABLE") from error


def _call(ioctl: IoctlCall, fd: int, request: int, argument: bytearray, what: str) -> None:
    try:
        ioctl(fd, request, argument)
    except OSError as error:
        raise EnclaveError(f"{what} failed: {error}", code="QUOTE_FAILED") from error


def _check_report_data(report_data: bytes) -> None:
    if not isinstance(report_data, bytes) or len(report_data) != TDX_REPORTDATA_LEN:
        raise EnclaveError("report data must be exactly 64 bytes", code="QUOTE_REQUEST_INVALID")


def qgs_quote_request(tdreport: bytes) -> bytes:
    """The length-prefixed QGS ``GET_QUOTE_REQ`` message for ``tdreport`` (no id list)."""
    body = struct.pack("<II", len(tdreport), 0) + tdreport
    message = QGS_HEADER.pack(1, 0, QGS_GET_QUOTE_REQ, QGS_HEADER.size + len(body), 0) + body
    return struct.pack(">I", len(message)) + message


def qgs_quote_from_response(data: bytes) -> bytes:
    """The quote in a length-prefixed QGS ``GET_QUOTE_RESP`` message.

    Raises:
        EnclaveError: ``QUOTE_FAILED`` for an error answer, ``QUOTE_MALFORMED`` for bad framing.
    """
    if len(data) < 4 + QGS_HEADER.size + 8:
        raise EnclaveError("the quote service's answer is truncated", code="QUOTE_MALFORMED")
    (length,) = struct.unpack_from(">I", data, 0)
    major, _minor, kind, size, error_code = QGS_HEADER.unpack_from(data, 4)
    if major != 1 or kind != QGS_GET_QUOTE_RESP or size != length or 4 + length > len(data):
        raise EnclaveError("the quote service's answer is not a GET_QUOTE_RESP", code="QUOTE_MALFORMED")
    if error_code != 0:
        raise EnclaveError(f"the quote service refused (error {error_code:#x})", code="QUOTE_FAILED")
    id_size, quote_size = struct.unpack_from("<II", data, 4 + QGS_HEADER.size)
    start = 4 + QGS_HEADER.size + 8 + id_size
    if start + quote_size > 4 + length:
        raise EnclaveError("the quote service's answer is truncated", code="QUOTE_MALFORMED")
    return data[start : start + quote_size]


@dataclass(frozen=True)
class TdxGuestQuoter:
    """A :class:`~sealrun.adapters.tee.Quoter` over ``/dev/tdx_guest`` (report, then quote).

    Args:
        measurement: the app bundle's fingerprint this enclave loaded.
        device: the device node (``/dev/tdx_guest``).
        collateral: where the quote's DCAP collateral comes from (default: none).
        ioctl: the ``ioctl(2)`` to call (production: :func:`os_ioctl`).
        event_log: the RTMR3 event log to send with the quote (read after quoting).
    """

    measurement: bytes
    device: Path = TDX_GUEST_DEVICE
    collateral: CollateralSource | None = field(default=None, repr=False)
    ioctl: IoctlCall = field(default=os_ioctl, repr=False)
    event_log: EventLogSource | None = field(default=None, repr=False)
    tee: str = "tdx"

    def evidence(self, report_data: bytes) -> Evidence:
        """Get a TDREPORT over ``report_data``, then the host's quote of it.

        Raises:
            EnclaveError: ``QUOTE_REQUEST_INVALID``, ``QUOTE_UNAVAILABLE`` (no device),
                ``QUOTE_FAILED`` (an ioctl or the quote service failed), ``QUOTE_MALFORMED``.
        """
        _check_report_data(report_data)
        fd = _open(self.device)
        try:
            request = bytearray(report_data + bytes(TDX_REPORT_LEN))
            _call(self.ioctl, fd, TDX_CMD_GET_REPORT0, request, "TDX_CMD_GET_REPORT0")
            tdreport = bytes(request[TDX_REPORTDATA_LEN:])
            quote = self._quote(fd, tdreport)
        finally:
            os.close(fd)
        check_quote(EvidenceType.TDX_DCAP, quote)
        collateral = self.collateral(EvidenceType.TDX_DCAP, quote) if self.collateral is not None else None
        log = self.event_log() if self.event_log is not None else None
        return Evidence(EvidenceType.TDX_DCAP, quote, collateral, log)

    def _quote(self, fd: int, tdreport: bytes) -> bytes:
        message = qgs_quote_request(tdreport)
        buffer = ctypes.create_string_buffer(TDX_QUOTE_BUFFER)
        header = TDX_QUOTE_HEADER.pack(1, 0, len(message), 0)
        ctypes.memmove(buffer, header + message, len(header) + len(message))
        argument = bytearray(TDX_QUOTE_REQ.pack(ctypes.addressof(buffer), TDX_QUOTE_BUFFER))
        _call(self.ioctl, fd, TDX_CMD_GET_QUOTE, argument, "TDX_CMD_GET_QUOTE")
        raw = buffer.raw
        _version, status, _in_len, out_len = TDX_QUOTE_HEADER.unpack_from(raw, 0)
        if status == GET_QUOTE_IN_FLIGHT:
            raise EnclaveError("the host's quote service did not answer in time", code="QUOTE_FAILED")
        if status != GET_QUOTE_SUCCESS:
            raise EnclaveError(f"the host's quote service failed (status {status:#x})", code="QUOTE_FAILED")
        if out_len > TDX_QUOTE_BUFFER - TDX_QUOTE_HEADER.size:
            raise EnclaveError("the quote buffer's out_len is beyond the buffer", code="QUOTE_MALFORMED")
        start = TDX_QUOTE_HEADER.size
        return qgs_quote_from_response(raw[start : start + out_len])


@dataclass(frozen=True)
class SevGuestQuoter:
    """A :class:`~sealrun.adapters.tee.Quoter` over ``/dev/sev-guest`` (``SNP_GET_REPORT``).

    Args:
        measurement: the app bundle's fingerprint this enclave loaded.
        device: the device node (``/dev/sev-guest``).
        collateral: where the VCEK/VLEK comes from (without one the SMS cannot verify).
        ioctl: the ``ioctl(2)`` to call (production: :func:`os_ioctl`).
        vmpl: the VMPL the report is requested for (0: the guest's most privileged level).
    """

    measurement: bytes
    device: Path = SEV_GUEST_DEVICE
    collateral: CollateralSource | None = field(default=None, repr=False)
    ioctl: IoctlCall = field(default=os_ioctl, repr=False)
    vmpl: int = 0
    tee: str = "sev-snp"

    def evidence(self, report_data: bytes) -> Evidence:
        """Get the firmware's signed report over ``report_data``.

        Raises:
            EnclaveError: ``QUOTE_REQUEST_INVALID``, ``QUOTE_UNAVAILABLE`` (no device),
                ``QUOTE_FAILED`` (the ioctl or the firmware failed), ``QUOTE_MALFORMED``.
        """
        _check_report_data(report_data)
        request = ctypes.create_string_buffer(
            SNP_REPORT_REQ.pack(report_data, self.vmpl), SNP_REPORT_REQ.size
        )
        response = ctypes.create_string_buffer(SNP_REPORT_RESP_SIZE)
        argument = bytearray(SNP_REQUEST.pack(1, ctypes.addressof(request), ctypes.addressof(response), 0, 0))
        fd = _open(self.device)
        refused: OSError | None = None
        try:
            self.ioctl(fd, SNP_GET_REPORT, argument)
        except OSError as error:
            refused = error  # the kernel left the firmware's and the host's errors in exitinfo2
        finally:
            os.close(fd)
        *_, fw_error, vmm_error = SNP_REQUEST.unpack(bytes(argument))
        if refused is not None or fw_error or vmm_error:
            raise EnclaveError(
                f"SNP_GET_REPORT failed ({refused or 'no error'}; "
                f"firmware {fw_error:#x}, host {vmm_error:#x})",
                code="QUOTE_FAILED",
            )
        raw = response.raw
        status, size = _SNP_REPORT_RSP.unpack_from(raw, 0)
        if status != 0:
            raise EnclaveError(f"the firmware refused the report (status {status:#x})", code="QUOTE_FAILED")
        if size > SNP_REPORT_RESP_SIZE - _SNP_REPORT_RSP.size:
            raise EnclaveError("the report size is beyond the response", code="QUOTE_MALFORMED")
        report = raw[_SNP_REPORT_RSP.size : _SNP_REPORT_RSP.size + size]
        check_quote(EvidenceType.SEV_SNP, report)
        collateral = self.collateral(EvidenceType.SEV_SNP, report) if self.collateral is not None else None
        return Evidence(EvidenceType.SEV_SNP, report, collateral)
