"""Quoters of confidential VMs and Gramine enclaves that speak through files.

- :class:`ConfigfsTsmQuoter`: the kernel's configfs-tsm report interface (Linux 6.7+, TDX and
  SEV-SNP guests; ``Documentation/ABI/testing/configfs-tsm``). One report entry per request
  under ``<root>/report/``: read ``generation``, write the 64 bytes of report data to
  ``inblob``, read ``outblob`` (the kernel asks the TEE for the quote on this read),
  ``provider`` (``tdx_guest`` or ``sev_guest``), ``auxblob`` (SEV-SNP: the host's certificate
  table) and ``generation`` again (a guest whose ``privlevel_floor`` is above 0 first writes
  ``privlevel`` at that floor). The kernel bumps ``generation`` on every write; if it moved
  by more than our writes, another writer raced us on the same entry and the outblob may
  answer its inblob, not ours: the ABI says to detect that and try again, which we do (a
  bounded number of times, then ``QUOTE_GENERATION_CONFLICT``).
- :class:`GramineQuoter`: Gramine's ``/dev/attestation`` pseudo-files inside an SGX enclave
  (``attestation_type`` must be ``dcap``; write ``user_report_data``, read ``quote``).

Both check the bytes they hand out are a well-formed quote of the TEE they were configured
for (a DCAP quote of the right TEE, an SEV-SNP report of the right size), so a truncated or
foreign outblob is refused here with a code rather than at the SMS. They do not check the
report data: the verifier and the SMS do (:func:`~sealrun.core.attestation.verify_report_data`).

The root folders are arguments (``/sys/kernel/config/tsm`` and ``/dev/attestation`` by
default) so tests lay out fake trees in temporary folders; every file access goes through a
:class:`ReportFiles` whose production implementation is :class:`OsReportFiles` (plain
``os`` calls). The evidence's collateral comes from a :data:`CollateralSource` when one is
given (fetching and caching collateral is not this module's job), else, for SEV-SNP, from
the VCEK or VLEK in the auxblob's certificate table.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sealrun.core.attestation import Evidence, EvidenceType
from sealrun.core.attestation.dcap_quote import parse_dcap_quote
from sealrun.core.attestation.snp import REPORT_SIZE as SNP_REPORT_SIZE
from sealrun.errors import AttestationError, EnclaveError

__all__ = [
    "CONFIGFS_TSM_ROOT",
    "GRAMINE_ATTESTATION_ROOT",
    "TSM_PROVIDERS",
    "CollateralSource",
    "ConfigfsTsmQuoter",
    "EventLogSource",
    "GramineQuoter",
    "OsReportFiles",
    "ReportFiles",
    "check_quote",
    "snp_certificate_from_table",
]

CONFIGFS_TSM_ROOT = Path("/sys/kernel/config/tsm")
GRAMINE_ATTESTATION_ROOT = Path("/dev/attestation")
#: configfs-tsm ``provider`` → the evidence type of its outblob.
TSM_PROVIDERS = {"tdx_guest": EvidenceType.TDX_DCAP, "sev_guest": EvidenceType.SEV_SNP}
#: Our backend names → the evidence type their quoter must produce.
TEE_EVIDENCE = {
    "tdx": EvidenceType.TDX_DCAP,
    "sev-snp": EvidenceType.SEV_SNP,
    "gramine-sgx": EvidenceType.SGX_DCAP,
}

_REPORT_DATA_BYTES = 64
_OUTBLOB_MAX = 32 * 1024  # TSM_REPORT_OUTBLOB_MAX
_AUXBLOB_MAX = 64 * 1024
_SMALL_MAX = 4096
_ATTEMPTS = 5
# The GHCB certificate table's GUIDs (AMD SEV-SNP GHCB spec, "Certificate Table").
_VCEK_GUID = uuid.UUID("63da758d-e664-4564-adc5-f4b93be8accd").bytes
_VLEK_GUID = uuid.UUID("a8074bc2-a25a-483e-aae6-39c045a0b8a1").bytes
_TABLE_ENTRY = struct.Struct("<16sII")

#: Collateral for fresh evidence: ``(type, payload) -> collateral`` or None (none known).
CollateralSource = Callable[[EvidenceType, bytes], "bytes | None"]
#: A TDX guest's RTMR3 event log as the envelope carries it (``RtmrEventRecorder.log_bytes``).
EventLogSource = Callable[[], "bytes | None"]


def _quote_error(message: str, code: str) -> EnclaveError:
    return EnclaveError(message, code=code)


class ReportFiles(Protocol):
    """The file operations a file-based quoter needs (production: :class:`OsReportFiles`)."""

    def make_entry(self, path: Path) -> None:
        """Create a report entry (configfs: ``mkdir``, which the kernel populates)."""
        ...

    def remove_entry(self, path: Path) -> None:
        """Remove a report entry (configfs: ``rmdir``)."""
        ...

    def write(self, path: Path, data: bytes) -> None:
        """Write ``data`` to the attribute at ``path`` in one write."""
        ...

    def read(self, path: Path, limit: int) -> bytes:
        """Read at most ``limit`` bytes of the attribute at ``path``."""
        ...


class OsReportFiles:
    """:class:`ReportFiles` over the real file system (configfs attributes are plain files)."""

    def make_entry(self, path: Path) -> None:
        """``mkdir`` (mode 0700: the entry is ours)."""
        os.mkdir(path, 0o700)

    def remove_entry(self, path: Path) -> None:
        """``rmdir`` (configfs removes the attributes with the entry)."""
        os.rmdir(path)

    def write(self, path: Path, data: bytes) -> None:
        """One ``write`` of all of ``data`` (the kernel takes an attribute in one write)."""
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(f"short write to {path}")
        finally:
            os.close(fd)

    def read(self, path: Path, limit: int) -> bytes:
        """Read up to ``limit`` bytes (``limit + 1`` tells the caller it was longer)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)


def check_quote(evidence_type: EvidenceType, blob: bytes) -> None:
    """Refuse ``blob`` unless it is well-formed evidence of ``evidence_type`` (layout only).

    Raises:
        EnclaveError: ``QUOTE_MALFORMED`` for empty, truncated, oversized or foreign bytes.
    """
    if not blob:
        raise _quote_error("the TEE returned an empty quote", "QUOTE_MALFORMED")
    if evidence_type is EvidenceType.SEV_SNP:
        version = int.from_bytes(blob[:4], "little") if len(blob) >= 4 else 0
        if len(blob) != SNP_REPORT_SIZE or version < 2:
            raise _quote_error(
                f"the TEE returned {len(blob)} bytes, not an SEV-SNP report ({SNP_REPORT_SIZE} bytes, v2+)",
                "QUOTE_MALFORMED",
            )
        return
    try:
        quote = parse_dcap_quote(blob)
    except AttestationError as error:
        raise _quote_error(f"the TEE returned a bad quote: {error.message}", "QUOTE_MALFORMED") from error
    if quote.is_tdx != (evidence_type is EvidenceType.TDX_DCAP):
        raise _quote_error(f"the TEE returned a quote that is not {evidence_type.value}", "QUOTE_MALFORMED")


def snp_certificate_from_table(table: bytes) -> bytes | None:
    """The VCEK (else the VLEK) of an SEV-SNP certificate table (configfs auxblob), or None.

    The table is entries of ``(guid[16], offset u32, length u32)`` ended by an all-zero entry;
    offsets count from the table's start. A table that does not hold together gives None.
    """
    found: dict[bytes, bytes] = {}
    at = 0
    while at + _TABLE_ENTRY.size <= len(table):
        guid, offset, length = _TABLE_ENTRY.unpack_from(table, at)
        if guid == bytes(16) and offset == 0 and length == 0:
            break
        if length == 0 or offset + length > len(table):
            return None
        found.setdefault(guid, table[offset : offset + length])
        at += _TABLE_ENTRY.size
    return found.get(_VCEK_GUID) or found.get(_VLEK_GUID)


def _check_report_data(report_data: bytes) -> None:
    if not isinstance(report_data, bytes) or len(report_data) != _REPORT_DATA_BYTES:
        raise _quote_error("report data must be exactly 64 bytes", "QUOTE_REQUEST_INVALID")


@dataclass(frozen=True)
class ConfigfsTsmQuoter:
    """A :class:`~sealrun.adapters.tee.Quoter` over configfs-tsm (TDX and SEV-SNP guests).

    Args:
        tee: ``tdx`` or ``sev-snp``: the provider must be this TEE's.
        measurement: the app bundle's fingerprint this enclave loaded (the quote itself carries
            the VM's measurements; binding the app to them is the runtime's event log).
        root: the configfs-tsm folder (``/sys/kernel/config/tsm``).
        collateral: where the evidence's collateral comes from (default: none, but SEV-SNP's
            VCEK/VLEK from the auxblob).
        files: the file operations (production: :class:`OsReportFiles`).
        attempts: how many times to try when another writer raced us.
        event_log: TDX only: the RTMR3 event log to send with the quote (read after quoting,
            so it holds every event the quote's RTMR3 covers).
    """

    tee: str
    measurement: bytes
    root: Path = CONFIGFS_TSM_ROOT
    collateral: CollateralSource | None = field(default=None, repr=False)
    event_log: EventLogSource | None = field(default=None, repr=False)
    files: ReportFiles = field(default_factory=OsReportFiles, repr=False)
    attempts: int = _ATTEMPTS

    def __post_init__(self) -> None:
        if self.tee not in ("tdx", "sev-snp"):
            raise _quote_error(
                f"configfs-tsm quotes for tdx or sev-snp, not {self.tee!r}", "QUOTE_TEE_UNSUPPORTED"
            )

    @property
    def evidence_type(self) -> EvidenceType:
        """The evidence type this quoter produces."""
        return TEE_EVIDENCE[self.tee]

    def evidence(self, report_data: bytes) -> Evidence:
        """Ask the kernel for a quote over ``report_data`` in a fresh report entry.

        Raises:
            EnclaveError: ``QUOTE_REQUEST_INVALID`` (not 64 bytes), ``QUOTE_UNAVAILABLE`` (no
                configfs-tsm here, or no entry can be made), ``QUOTE_FAILED`` (the kernel
                refused), ``QUOTE_PROVIDER_MISSING`` / ``QUOTE_PROVIDER_MISMATCH`` (no provider,
                or another TEE's), ``QUOTE_MALFORMED`` (the outblob is not a quote of this
                TEE), ``QUOTE_GENERATION_CONFLICT`` (raced on every attempt).
        """
        _check_report_data(report_data)
        reports = self.root / "report"
        if not reports.is_dir():
            raise _quote_error(f"no configfs-tsm report interface at {reports}", "QUOTE_UNAVAILABLE")
        entry = reports / f"sealrun-{os.getpid()}-{secrets.token_hex(8)}"
        try:
            self.files.make_entry(entry)
        except OSError as error:
            raise _quote_error(
                f"cannot make a configfs-tsm report entry: {error}", "QUOTE_UNAVAILABLE"
            ) from error
        try:
            outblob, provider, auxblob = self._report(entry, report_data)
        finally:
            # The kernel keeps nothing secret in it: a leftover entry is harmless.
            with contextlib.suppress(OSError):
                self.files.remove_entry(entry)
        expected = self.evidence_type
        if TSM_PROVIDERS.get(provider) is not expected:
            raise _quote_error(
                f"configfs-tsm provider {provider!r} does not produce {expected.value} evidence",
                "QUOTE_PROVIDER_MISMATCH",
            )
        check_quote(expected, outblob)
        collateral = self.collateral(expected, outblob) if self.collateral is not None else None
        if collateral is None and expected is EvidenceType.SEV_SNP and auxblob:
            collateral = snp_certificate_from_table(auxblob)
        log = self.event_log() if self.event_log is not None and expected is EvidenceType.TDX_DCAP else None
        return Evidence(expected, outblob, collateral, log)

    def _report(self, entry: Path, report_data: bytes) -> tuple[bytes, str, bytes]:
        for _ in range(max(1, self.attempts)):
            before = self._generation(entry)
            writes = 0
            try:
                floor = self._optional(entry / "privlevel_floor", _SMALL_MAX).strip()
                if floor.isdigit() and int(floor) > 0:
                    # A guest below VMPL 0 (under an SVSM) must ask at its floor or be refused.
                    self.files.write(entry / "privlevel", floor)
                    writes += 1
                self.files.write(entry / "inblob", report_data)
                writes += 1
                outblob = self.files.read(entry / "outblob", _OUTBLOB_MAX)
            except OSError as error:
                raise _quote_error(f"the kernel could not make a quote: {error}", "QUOTE_FAILED") from error
            provider = self._provider(entry)
            auxblob = self._optional(entry / "auxblob", _AUXBLOB_MAX)
            if self._generation(entry) == before + writes:
                if len(outblob) > _OUTBLOB_MAX:
                    raise _quote_error("the configfs-tsm outblob is oversized", "QUOTE_MALFORMED")
                return outblob, provider, auxblob
        raise _quote_error(
            f"another writer changed the report entry on each of {max(1, self.attempts)} attempts",
            "QUOTE_GENERATION_CONFLICT",
        )

    def _generation(self, entry: Path) -> int:
        try:
            text = self.files.read(entry / "generation", _SMALL_MAX).decode("ascii").strip()
            if not text.isdigit():
                raise ValueError(text)
            return int(text)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise _quote_error(f"unreadable configfs-tsm generation: {error}", "QUOTE_FAILED") from error

    def _provider(self, entry: Path) -> str:
        try:
            raw = self.files.read(entry / "provider", _SMALL_MAX)
        except FileNotFoundError:
            raw = b""
        except OSError as error:
            raise _quote_error(f"unreadable configfs-tsm provider: {error}", "QUOTE_FAILED") from error
        name = raw.decode("ascii", "replace").strip()
        if not name:
            raise _quote_error(
                "configfs-tsm names no provider (no TEE driver bound)", "QUOTE_PROVIDER_MISSING"
            )
        return name

    def _optional(self, path: Path, limit: int) -> bytes:
        try:
            data = self.files.read(path, limit)
        except OSError:
            return b""  # auxblob: only some providers have it, and it is never required
        return data if len(data) <= limit else b""


@dataclass(frozen=True)
class GramineQuoter:
    """A :class:`~sealrun.adapters.tee.Quoter` over Gramine's ``/dev/attestation`` (SGX DCAP).

    Args:
        measurement: the app bundle's fingerprint (MRENCLAVE measures Gramine's manifest).
        root: the pseudo-file folder (``/dev/attestation``).
        collateral: where the quote's DCAP collateral comes from (default: none).
        files: the file operations (production: :class:`OsReportFiles`).
    """

    measurement: bytes
    root: Path = GRAMINE_ATTESTATION_ROOT
    collateral: CollateralSource | None = field(default=None, repr=False)
    files: ReportFiles = field(default_factory=OsReportFiles, repr=False)
    tee: str = "gramine-sgx"

    def evidence(self, report_data: bytes) -> Evidence:
        """Write ``user_report_data`` and read the DCAP ``quote`` Gramine makes over it.

        Raises:
            EnclaveError: ``QUOTE_REQUEST_INVALID``, ``QUOTE_UNAVAILABLE`` (not in a Gramine
                enclave), ``QUOTE_PROVIDER_MISMATCH`` (attestation type not ``dcap``),
                ``QUOTE_FAILED``, ``QUOTE_MALFORMED``.
        """
        _check_report_data(report_data)
        try:
            kind = self.files.read(self.root / "attestation_type", _SMALL_MAX)
        except OSError as error:
            raise _quote_error(
                f"no Gramine attestation interface at {self.root}: {error}", "QUOTE_UNAVAILABLE"
            ) from error
        name = kind.decode("ascii", "replace").strip()
        if name != "dcap":
            raise _quote_error(f"Gramine attestation type is {name!r}, not 'dcap'", "QUOTE_PROVIDER_MISMATCH")
        try:
            self.files.write(self.root / "user_report_data", report_data)
            quote = self.files.read(self.root / "quote", _OUTBLOB_MAX)
        except OSError as error:
            raise _quote_error(f"Gramine could not make a quote: {error}", "QUOTE_FAILED") from error
        if len(quote) > _OUTBLOB_MAX:
            raise _quote_error("the Gramine quote is oversized", "QUOTE_MALFORMED")
        check_quote(EvidenceType.SGX_DCAP, quote)
        collateral = self.collateral(EvidenceType.SGX_DCAP, quote) if self.collateral is not None else None
        return Evidence(EvidenceType.SGX_DCAP, quote, collateral)
