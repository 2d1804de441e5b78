"""What this host can attest with, and the quoter of each hardware TEE.

:func:`probe_host` looks at a host (``root`` stands for ``/``, so tests point it at a fake
tree): configfs-tsm and its provider, ``/dev/tdx_guest``, ``/dev/sev-guest``, Gramine's
``/dev/attestation``, the SGX driver, the CPU flags of ``/proc/cpuinfo``, bubblewrap and
unprivileged user namespaces. :func:`backend_availability` says whether a backend can run
here and, if not, what is missing. :func:`hardware_quoter` picks the quoter of a TEE:
configfs-tsm first, the guest device as the fallback; Gramine's pseudo-files for SGX.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from sealrun.adapters.tee.backend import Quoter
from sealrun.adapters.tee.devices import SevGuestQuoter, TdxGuestQuoter
from sealrun.adapters.tee.rtmr import (
    DEFAULT_EVENT_LOG,
    DEFAULT_SYSFS_ROOT,
    DEFAULT_TDX_GUEST_DEVICE,
    RtmrEventRecorder,
    open_rtmr_extender,
)
from sealrun.adapters.tee.tsm import CollateralSource, ConfigfsTsmQuoter, EventLogSource, GramineQuoter
from sealrun.core.jsontypes import JsonObject
from sealrun.errors import EnclaveError

__all__ = [
    "BACKENDS",
    "HostReport",
    "backend_availability",
    "hardware_quoter",
    "probe_host",
    "tdx_event_recorder",
]

#: Every backend name the worker accepts; ``simulated`` is the default.
BACKENDS = ("simulated", "tdx", "sev-snp", "gramine-sgx")
_CPU_FLAGS = ("sgx", "sgx_lc", "tdx_guest", "sev", "sev_es", "sev_snp")
_TSM = "sys/kernel/config/tsm"
_SMALL = 4096


def _under(root: Path, relative: str) -> Path:
    return root / relative


def hardware_quoter(
    tee: str,
    measurement: bytes,
    *,
    root: Path = Path("/"),
    collateral: CollateralSource | None = None,
    event_log: EventLogSource | None = None,
) -> Quoter:
    """The quoter of ``tee`` on this host: configfs-tsm, else the guest device; Gramine for SGX.

    ``event_log`` (TDX: the RTMR3 event log, :mod:`sealrun.adapters.tee.rtmr`) goes with each quote.

    Raises:
        EnclaveError: ``QUOTE_TEE_UNSUPPORTED`` for a name that is no hardware TEE,
            ``QUOTE_UNAVAILABLE`` if this host has no interface for it.
    """
    if tee == "gramine-sgx":
        return GramineQuoter(measurement, root=_under(root, "dev/attestation"), collateral=collateral)
    if tee not in ("tdx", "sev-snp"):
        raise EnclaveError(f"no hardware quoter for {tee!r}", code="QUOTE_TEE_UNSUPPORTED")
    tsm = _under(root, _TSM)
    if (tsm / "report").is_dir():
        return ConfigfsTsmQuoter(tee, measurement, root=tsm, collateral=collateral, event_log=event_log)
    if tee == "tdx" and _under(root, "dev/tdx_guest").exists():
        device = _under(root, "dev/tdx_guest")
        return TdxGuestQuoter(measurement, device=device, collateral=collateral, event_log=event_log)
    if tee == "sev-snp" and _under(root, "dev/sev-guest").exists():
        return SevGuestQuoter(measurement, device=_under(root, "dev/sev-guest"), collateral=collateral)
    raise EnclaveError(
        f"this host has no {tee} quoting interface (configfs-tsm report, or the guest device)",
        code="QUOTE_UNAVAILABLE",
    )


def tdx_event_recorder(root: Path = Path("/")) -> RtmrEventRecorder:
    """The RTMR3 event recorder of the TDX guest under ``root`` (its sysfs file or device).

    Raises:
        EnclaveError: ``QUOTE_RTMR_UNAVAILABLE`` if this is no TDX guest.
    """
    extender = open_rtmr_extender(
        sysfs_root=_under(root, str(DEFAULT_SYSFS_ROOT).lstrip("/")),
        device=_under(root, str(DEFAULT_TDX_GUEST_DEVICE).lstrip("/")),
    )
    return RtmrEventRecorder(extender, log_path=_under(root, str(DEFAULT_EVENT_LOG).lstrip("/")))


@dataclass(frozen=True)
class HostReport:
    """What :func:`probe_host` found (every field is a fact about this host, nothing assumed)."""

    configfs_tsm: bool
    tsm_provider: str | None
    tsm_provider_note: str
    tdx_guest_device: bool
    sev_guest_device: bool
    gramine_attestation: str | None
    sgx_device: bool
    gramine_sgx_binary: bool
    cpu_flags: tuple[str, ...]
    bubblewrap: bool
    bubblewrap_works: bool
    bubblewrap_note: str
    user_namespaces: bool
    user_namespaces_note: str

    def to_dict(self) -> JsonObject:
        """The report as JSON-ready data."""
        data: JsonObject = asdict(self)
        data["cpu_flags"] = list(self.cpu_flags)
        return data


def _read_text(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(_SMALL).decode("ascii", "replace").strip()
    except OSError:
        return None


def _tsm_provider(tsm: Path) -> tuple[str | None, str]:
    """The provider, read from a throwaway report entry (configfs populates it on mkdir)."""
    reports = tsm / "report"
    entry = reports / f"sealrun-doctor-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.mkdir(entry, 0o700)
    except OSError as error:
        return None, f"cannot make a report entry to read the provider: {error.strerror}"
    try:
        provider = _read_text(entry / "provider")
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(entry)
    if not provider:
        return None, "the report entry names no provider (no TEE guest driver bound)"
    return provider, "read from a report entry"


def _cpu_flags(root: Path) -> tuple[str, ...]:
    try:
        text = _under(root, "proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            present = set(value.split())
            return tuple(flag for flag in _CPU_FLAGS if flag in present)
    return ()


def _user_namespaces(root: Path) -> tuple[bool, str]:
    maximum = _read_text(_under(root, "proc/sys/user/max_user_namespaces"))
    if maximum is None:
        return False, "no /proc/sys/user/max_user_namespaces (no user namespaces in this kernel?)"
    if maximum == "0":
        return False, "user.max_user_namespaces is 0"
    if _read_text(_under(root, "proc/sys/kernel/unprivileged_userns_clone")) == "0":
        return False, "kernel.unprivileged_userns_clone is 0"
    if _read_text(_under(root, "proc/sys/kernel/apparmor_restrict_unprivileged_userns")) == "1":
        return False, "AppArmor restricts unprivileged user namespaces"
    return True, f"user.max_user_namespaces = {maximum}"


def _bubblewrap_works(bwrap: str) -> tuple[bool, str]:
    argv = [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bwrap did not run: {error}"
    if done.returncode != 0:
        return False, "bwrap failed: " + done.stderr.decode("utf-8", "replace").strip()[-200:]
    return True, "ran `true` in a new sandbox"


def probe_host(root: Path = Path("/"), *, try_bubblewrap: bool = True) -> HostReport:
    """Look at the host under ``root`` and report what it can attest and sandbox with.

    Args:
        root: the folder that stands for ``/`` (tests pass a fake tree).
        try_bubblewrap: also start one sandbox to see bwrap work (only with ``root`` = ``/``).
    """
    tsm = _under(root, _TSM)
    configfs = (tsm / "report").is_dir()
    provider, provider_note = _tsm_provider(tsm) if configfs else (None, "no configfs-tsm report interface")
    bwrap = shutil.which("bwrap") if root == Path("/") else None
    if bwrap is None and root != Path("/"):
        candidate = _under(root, "usr/bin/bwrap")
        bwrap = str(candidate) if candidate.is_file() else None
    works, bwrap_note = (False, "bwrap is not installed (Debian: bubblewrap)")
    if bwrap is not None:
        works, bwrap_note = _bubblewrap_works(bwrap) if try_bubblewrap else (False, "not tried")
    userns, userns_note = _user_namespaces(root)
    gramine_type = _read_text(_under(root, "dev/attestation/attestation_type"))
    gramine_binary = (
        shutil.which("gramine-sgx") is not None
        if root == Path("/")
        else _under(root, "usr/bin/gramine-sgx").is_file()
    )
    return HostReport(
        configfs_tsm=configfs,
        tsm_provider=provider,
        tsm_provider_note=provider_note,
        tdx_guest_device=_under(root, "dev/tdx_guest").exists(),
        sev_guest_device=_under(root, "dev/sev-guest").exists(),
        gramine_attestation=gramine_type,
        sgx_device=_under(root, "dev/sgx_enclave").exists(),
        gramine_sgx_binary=gramine_binary,
        cpu_flags=_cpu_flags(root),
        bubblewrap=bwrap is not None,
        bubblewrap_works=works,
        bubblewrap_note=bwrap_note,
        user_namespaces=userns,
        user_namespaces_note=userns_note,
    )


def _vm_availability(backend: str, host: HostReport) -> tuple[bool, str]:
    provider = "tdx_guest" if backend == "tdx" else "sev_guest"
    device = host.tdx_guest_device if backend == "tdx" else host.sev_guest_device
    node = "/dev/tdx_guest" if backend == "tdx" else "/dev/sev-guest"
    if host.configfs_tsm and host.tsm_provider == provider:
        return True, f"configfs-tsm with provider {provider}"
    if host.configfs_tsm and host.tsm_provider not in (None, provider):
        return False, f"configfs-tsm provider is {host.tsm_provider}, not {provider}"
    if device:
        return True, f"{node} (configfs-tsm absent or its provider unread: the device fallback)"
    if host.configfs_tsm:
        return False, f"configfs-tsm is there but names no {provider} provider, and no {node}"
    return False, f"no configfs-tsm report interface and no {node}: not a {backend} guest"


def backend_availability(backend: str, host: HostReport) -> tuple[bool, str]:
    """Whether the worker backend ``backend`` can run on ``host``, and why (or what is missing)."""
    if backend == "simulated":
        return True, "always available: protects nothing from the host (development and tests)"
    if backend in ("tdx", "sev-snp"):
        return _vm_availability(backend, host)
    if backend == "gramine-sgx":
        needs = (("gramine-sgx", host.gramine_sgx_binary), ("/dev/sgx_enclave", host.sgx_device))
        missing = [what for what, present in needs if not present]
        if missing:
            return False, "missing " + " and ".join(missing)
        return True, "gramine-sgx and /dev/sgx_enclave"
    return False, f"unknown backend (known: {', '.join(BACKENDS)})"
