"""Fake TEE guest interfaces: a configfs-tsm tree in a folder, and kernels answering ioctls.

- :class:`FakeConfigfsTsm` is a :class:`~sealrun.adapters.tee.tsm.ReportFiles` over a real
  temporary folder laid out as ``/sys/kernel/config/tsm``. It does what the kernel does that
  plain files cannot: ``mkdir`` of a report entry populates its attributes (``provider``,
  ``generation`` 0, ``outblob``, ``auxblob``), and each write bumps ``generation``. The
  outblob is fixed (a real quote from the shared vectors), so its report data is the
  vector's, never the caller's. ``races`` makes another writer touch the entry between our
  write and our read that many times (the generation then moves by two).
- :class:`FakeTdxGuest` and :class:`FakeSevGuest` answer ``ioctl(2)`` as the TDX and SEV guest
  drivers do, reading and writing the caller's buffers through the pointers in the structs.
"""

from __future__ import annotations

import ctypes
import shutil
import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.adapters.tee.devices import (
    QGS_GET_QUOTE_REQ,
    QGS_GET_QUOTE_RESP,
    SNP_GET_REPORT,
    SNP_REPORT_REQ,
    SNP_REQUEST,
    TDX_CMD_GET_QUOTE,
    TDX_CMD_GET_REPORT0,
    TDX_QUOTE_HEADER,
    TDX_QUOTE_REQ,
    TDX_REPORT_LEN,
)

__all__ = ["FakeConfigfsTsm", "FakeSevGuest", "FakeTdxGuest", "snp_certificate_table"]

_QGS_HEADER = struct.Struct("<HHIII")
_TDREPORT_REPORTDATA = 128  # REPORTMACSTRUCT.REPORTDATA


@dataclass
class FakeConfigfsTsm:
    """A configfs-tsm tree at ``root`` (``root/report`` is made) with the kernel's behaviour.

    Args:
        root: the folder standing for ``/sys/kernel/config/tsm``.
        provider: what ``provider`` reads (None: the attribute is absent).
        outblob: what ``outblob`` reads.
        auxblob: what ``auxblob`` reads (None: absent).
        races: how many of our reads another writer precedes.
        privlevel_floor: what ``privlevel_floor`` reads (None: absent).
    """

    root: Path
    provider: str | None
    outblob: bytes
    auxblob: bytes | None = None
    races: int = 0
    privlevel_floor: int | None = None
    inblobs: list[bytes] = field(default_factory=list)
    writes: list[tuple[str, bytes]] = field(default_factory=list)
    entries: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        (self.root / "report").mkdir(parents=True, exist_ok=True)

    def make_entry(self, path: Path) -> None:
        """``mkdir``: the kernel populates the entry's attributes."""
        path.mkdir(mode=0o700)
        self.entries.append(path)
        (path / "generation").write_text("0\n")
        if self.provider is not None:
            (path / "provider").write_text(self.provider + "\n")
        (path / "outblob").write_bytes(self.outblob)
        if self.auxblob is not None:
            (path / "auxblob").write_bytes(self.auxblob)
        if self.privlevel_floor is not None:
            (path / "privlevel_floor").write_text(f"{self.privlevel_floor}\n")

    def remove_entry(self, path: Path) -> None:
        """``rmdir``: the attributes go with the entry."""
        shutil.rmtree(path)
        self.removed.append(path)

    def _bump(self, entry: Path) -> None:
        generation = int((entry / "generation").read_text())
        (entry / "generation").write_text(f"{generation + 1}\n")

    def write(self, path: Path, data: bytes) -> None:
        """A write: the attribute takes it and ``generation`` moves by one."""
        self.writes.append((path.name, data))
        if path.name == "inblob":
            self.inblobs.append(data)
        path.write_bytes(data)
        self._bump(path.parent)

    def read(self, path: Path, limit: int) -> bytes:
        """A read (another writer may slip in before an outblob read, as ``races`` says)."""
        if path.name == "outblob" and self.races > 0:
            self.races -= 1
            self._bump(path.parent)
        with path.open("rb") as handle:
            return handle.read(limit + 1)


def snp_certificate_table(certificates: dict[str, bytes]) -> bytes:
    """An SEV-SNP certificate table (the configfs auxblob) of ``{guid: der}``."""
    entries = len(certificates) + 1
    offset = entries * 24
    head = b""
    body = b""
    for guid, der in certificates.items():
        head += struct.pack("<16sII", uuid.UUID(guid).bytes, offset + len(body), len(der))
        body += der
    return head + bytes(24) + body


@dataclass
class FakeTdxGuest:
    """``ioctl`` of the TDX guest driver with a Quote Generation Service behind it.

    Args:
        quote: the quote the service answers with (a real one from the vectors).
        status: the GHCI status the host leaves in the quote header (0: success).
        qgs_error: the QGS message's error code (0: success).
    """

    quote: bytes
    status: int = 0
    qgs_error: int = 0
    report_data: list[bytes] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    _tdreport: bytes = b""

    def __call__(self, _fd: int, request: int, argument: bytearray) -> int:
        """Answer one ioctl as the driver would."""
        self.calls.append(request)
        if request == TDX_CMD_GET_REPORT0:
            if len(argument) != 64 + TDX_REPORT_LEN:
                raise OSError(22, "Invalid argument")
            data = bytes(argument[:64])
            self.report_data.append(data)
            tdreport = bytearray(TDX_REPORT_LEN)
            tdreport[_TDREPORT_REPORTDATA : _TDREPORT_REPORTDATA + 64] = data
            self._tdreport = bytes(tdreport)
            argument[64:] = tdreport
            return 0
        if request == TDX_CMD_GET_QUOTE:
            address, length = TDX_QUOTE_REQ.unpack(bytes(argument))
            raw = ctypes.string_at(address, length)
            version, _status, in_len, _out_len = TDX_QUOTE_HEADER.unpack_from(raw, 0)
            message = raw[TDX_QUOTE_HEADER.size : TDX_QUOTE_HEADER.size + in_len]
            (size,) = struct.unpack_from(">I", message, 0)
            _major, _minor, kind, total, _error = _QGS_HEADER.unpack_from(message, 4)
            report_size, _ids = struct.unpack_from("<II", message, 4 + _QGS_HEADER.size)
            report = message[4 + _QGS_HEADER.size + 8 : 4 + _QGS_HEADER.size + 8 + report_size]
            if version != 1 or kind != QGS_GET_QUOTE_REQ or total != size or report != self._tdreport:
                raise OSError(22, "Invalid argument")
            body = struct.pack("<II", 0, len(self.quote)) + self.quote
            answer = _QGS_HEADER.pack(1, 0, QGS_GET_QUOTE_RESP, _QGS_HEADER.size + len(body), self.qgs_error)
            data = struct.pack(">I", len(answer) + len(body)) + answer + body
            out = TDX_QUOTE_HEADER.pack(1, self.status, in_len, len(data)) + data
            if len(out) > length:
                raise OSError(12, "Cannot allocate memory")
            ctypes.memmove(address, out, len(out))
            return 0
        raise OSError(25, "Inappropriate ioctl for device")


@dataclass
class FakeSevGuest:
    """``ioctl`` of the SEV guest driver (``SNP_GET_REPORT``).

    Args:
        report: the signed report the firmware answers with (a real one from the vectors).
        fw_error: the firmware error left in ``exitinfo2`` (0: success).
        status: the ``MSG_REPORT_RSP`` status (0: success).
    """

    report: bytes
    fw_error: int = 0
    status: int = 0
    requests: list[tuple[bytes, int]] = field(default_factory=list)

    def __call__(self, _fd: int, request: int, argument: bytearray) -> int:
        """Answer one ioctl as the driver would."""
        if request != SNP_GET_REPORT:
            raise OSError(25, "Inappropriate ioctl for device")
        version, request_at, response_at, _fw, _vmm = SNP_REQUEST.unpack(bytes(argument))
        if version != 1:
            raise OSError(22, "Invalid argument")
        user_data, vmpl = SNP_REPORT_REQ.unpack(ctypes.string_at(request_at, SNP_REPORT_REQ.size))
        self.requests.append((user_data, vmpl))
        argument[:] = SNP_REQUEST.pack(version, request_at, response_at, self.fw_error, 0)
        if self.fw_error:
            raise OSError(5, "Input/output error")
        answer = struct.pack("<II24x", self.status, len(self.report)) + self.report
        ctypes.memmove(response_at, answer, len(answer))
        return 0
