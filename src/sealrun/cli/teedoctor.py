"""``sealrun tee doctor``: what this host can attest and sandbox with, and the worker's backend.

It looks (:func:`sealrun.adapters.tee.hardware.probe_host`) at configfs-tsm and its provider,
``/dev/tdx_guest``, ``/dev/sev-guest``, Gramine's ``/dev/attestation``, ``/dev/sgx_enclave``
and ``gramine-sgx``, the SGX / TDX / SEV CPU flags, bubblewrap (installed, and able to start
a sandbox) and unprivileged user namespaces; then says for each backend whether it can run
here and for the worker's configured one (``SEALRUN_WORKER_TEE``, default ``simulated``)
which it will be, and what is missing. Nothing here is assumed: a host without TEE hardware
says ``simulated`` only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sealrun.adapters.tee.hardware import BACKENDS, HostReport, backend_availability, probe_host
from sealrun.cli.output import Output

__all__ = ["doctor_report", "run_doctor"]

_WORKER_VARIABLE = "SEALRUN_WORKER_TEE"
# What each backend needs besides the host (the worker refuses to start without it).
_NEEDS = {"simulated": "SEALRUN_WORKER_SIMULATOR_KEY_FILE", "gramine-sgx": "SEALRUN_WORKER_GRAMINE_MANIFEST"}


def doctor_report(
    host: HostReport, configured: str | None, environment: dict[str, str] | None = None
) -> dict[str, Any]:
    """The doctor's findings for ``host`` and the worker's configured backend (None: default).

    ``environment`` (the worker's variables) says whether the backend's own setting is given.
    """
    backends = {}
    for name in BACKENDS:
        available, why = backend_availability(name, host)
        backends[name] = {"available": available, "detail": why}
    chosen = configured if configured is not None else "simulated"
    available, why = backend_availability(chosen, host)
    missing = [f"{name}: {entry['detail']}" for name, entry in backends.items() if not entry["available"]]
    if not host.bubblewrap_works:
        missing.append(f"bubblewrap: {host.bubblewrap_note}")
    if not host.user_namespaces:
        missing.append(f"user namespaces: {host.user_namespaces_note}")
    needed = _NEEDS.get(chosen)
    setting_missing = needed is not None and not (environment or {}).get(needed)
    if setting_missing:
        missing.append(f"worker: {chosen} needs {needed}")
    hardware = [name for name in BACKENDS if name != "simulated" and backends[name]["available"]]
    return {
        "host": host.to_dict(),
        "backends": backends,
        "hardware_backends": hardware,
        "summary": "hardware TEE: " + ", ".join(hardware) if hardware else "simulated only (no TEE hardware)",
        "worker": {
            "tee": chosen,
            "source": _WORKER_VARIABLE if configured is not None else "default",
            "available": available,
            "detail": why,
            "simulated": chosen == "simulated",
            "needs": needed,
            "setting_missing": setting_missing,
        },
        "missing": missing,
    }


def _mark(value: object) -> str:
    if value is True:
        return "[green]yes[/green]"
    if value is False or value is None:
        return "[red]no[/red]"
    return str(value)


def _human(report: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        host = report["host"]
        table = Table(title="This host", show_header=True)
        table.add_column("probe")
        table.add_column("found")
        table.add_column("detail")
        provider = host["tsm_provider"] or "-"
        table.add_row(
            "configfs-tsm", _mark(host["configfs_tsm"]), f"provider {provider}: {host['tsm_provider_note']}"
        )
        table.add_row("/dev/tdx_guest", _mark(host["tdx_guest_device"]), "")
        table.add_row("/dev/sev-guest", _mark(host["sev_guest_device"]), "")
        table.add_row(
            "/dev/attestation",
            _mark(host["gramine_attestation"] is not None),
            host["gramine_attestation"] or "",
        )
        table.add_row("/dev/sgx_enclave", _mark(host["sgx_device"]), "")
        table.add_row("gramine-sgx", _mark(host["gramine_sgx_binary"]), "")
        table.add_row(
            "CPU flags",
            ", ".join(host["cpu_flags"]) or "[red]none[/red]",
            "sgx, sgx_lc, tdx_guest, sev, sev_es, sev_snp",
        )
        table.add_row("bubblewrap", _mark(host["bubblewrap_works"]), host["bubblewrap_note"])
        table.add_row("user namespaces", _mark(host["user_namespaces"]), host["user_namespaces_note"])
        console.print(table)
        backends = Table(title="TEE backends", show_header=True)
        backends.add_column("backend")
        backends.add_column("available")
        backends.add_column("detail")
        for name, entry in report["backends"].items():
            backends.add_row(name, _mark(entry["available"]), entry["detail"])
        console.print(backends)
        worker = report["worker"]
        label = (
            " [yellow](SIMULATED: protects nothing from this host)[/yellow]" if worker["simulated"] else ""
        )
        ready = worker["available"] and not worker["setting_missing"]
        state = "will start" if ready else "[red]will refuse to start[/red]"
        if worker["setting_missing"]:
            state += f" (set {worker['needs']})"
        console.print(f"Worker backend: [bold]{worker['tee']}[/bold] ({worker['source']}){label}: {state}")
        console.print(f"Summary: {report['summary']}")

    return render


def run_doctor(*, json_out: bool, root: Path, backend: str | None) -> None:
    """Probe the host under ``root`` and print the doctor's report."""
    configured = backend if backend is not None else os.environ.get(_WORKER_VARIABLE)
    host = probe_host(root, try_bubblewrap=root == Path("/"))
    report = doctor_report(host, configured, dict(os.environ))
    Output(json_out).result(report, _human(report))
