"""The simulated TEE: the enclave is a separate process, its evidence signed by a simulator key.

Inside: :class:`SimulatedQuoter` signs evidence (``sealrun.core.attestation`` simulated
format) whose measurement is the fingerprint of the bundle the enclave process loaded and
measured itself, and whose report data binds what the caller asks (nonce, ephemeral key,
task). Outside: :class:`SimulatedTee` runs ``python -m sealrun.enclave run ...`` as a child
process with its own address space and reads back the report it wrote.

A simulated enclave protects nothing from the machine's owner: it exists to run the whole
protocol on machines without TEE hardware. Its evidence is its own type and trust root and
the default SMS policy refuses it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.adapters.tee.backend import EnclaveLaunch
from sealrun.adapters.tee.report import RunReport
from sealrun.api.ids import task_id_hex
from sealrun.core.attestation import Evidence, SimulatorKey, make_simulated_evidence
from sealrun.errors import EnclaveError

__all__ = [
    "REPORT_NAME",
    "SimulatedQuoter",
    "SimulatedTee",
    "enclave_environment",
    "load_simulator_key",
    "run_enclave_process",
]

REPORT_NAME = "report.json"
_TAIL = 2000
# What the enclave process inherits of the worker's environment: how to find Python and
# its packages, nothing else (the worker's key, passwords and settings stay with it).
_INHERITED = ("PYTHONPATH", "VIRTUAL_ENV")


def enclave_environment(worker: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of an enclave process started by a worker with ``worker``'s."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    env.update({name: worker[name] for name in _INHERITED if name in worker})
    return env


def load_simulator_key(path: Path) -> SimulatorKey:
    """Read the deployment's simulator key (PEM) from ``path``.

    Raises:
        EnclaveError: ``SIMULATOR_KEY_UNREADABLE`` if the file cannot be read.
        AttestationError: if it is not a simulator key.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise EnclaveError(
            f"cannot read the simulator key: {error}", code="SIMULATOR_KEY_UNREADABLE"
        ) from error
    return SimulatorKey.parse(raw)


@dataclass(frozen=True)
class SimulatedQuoter:
    """Evidence maker of the simulated TEE (used inside the enclave process)."""

    key: SimulatorKey = field(repr=False)
    measurement: bytes
    tee: str = "simulated"

    def evidence(self, report_data: bytes) -> Evidence:
        """Return simulated evidence over ``report_data`` with this enclave's measurement."""
        return make_simulated_evidence(self.key, measurement=self.measurement, report_data=report_data)


@dataclass(frozen=True)
class SimulatedTee:
    """Starts simulated enclaves as child processes.

    Args:
        simulator_key_file: the deployment's simulator key (PEM), readable by the enclave.
        python: the interpreter that runs ``sealrun.enclave``.
        timeout_s: hard limit for the whole enclave process (the app's own limit is inside).
    """

    simulator_key_file: Path
    python: str = sys.executable
    timeout_s: float = 24 * 3600.0
    name: str = "simulated"

    def command(self, launch: EnclaveLaunch) -> list[str]:
        """Return the enclave process's argv for ``launch``."""
        argv = [self.python, "-m", "sealrun.enclave", "run", "--bundle", str(launch.bundle_dir)]
        argv += ["--work", str(launch.work_dir), "--simulator-key", str(self.simulator_key_file)]
        if launch.secrets_file is not None:
            argv += ["--secrets-file", str(launch.secrets_file)]
        if launch.sms_url is not None:
            argv += ["--sms", launch.sms_url]
        if launch.task_id is not None:
            argv += ["--task-id", task_id_hex(launch.task_id)]
        if launch.worker is not None:
            argv += ["--worker", launch.worker]
        if launch.authorization is not None:
            argv += ["--authorization", "0x" + launch.authorization.hex()]
        return [*argv, *launch.extra_args]

    def attest(self, bundle_dir: Path, *, nonce: bytes, public_key: bytes, task_id: bytes) -> Evidence:
        """Have a fresh enclave process measure ``bundle_dir`` and return its evidence.

        The evidence's report data binds ``nonce``, ``public_key`` and ``task_id``
        (:func:`~sealrun.core.attestation.report_data_for`).

        Raises:
            EnclaveError: ``ENCLAVE_CRASHED`` if the process failed.
        """
        argv = [self.python, "-m", "sealrun.enclave", "attest", "--bundle", str(bundle_dir)]
        argv += ["--simulator-key", str(self.simulator_key_file), "--nonce", nonce.hex()]
        argv += ["--public-key", public_key.hex(), "--task-id", task_id.hex()]
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise EnclaveError(f"the enclave process failed: {error}", code="ENCLAVE_CRASHED") from error
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip()[-_TAIL:]
            raise EnclaveError(f"the enclave could not attest: {tail}", code="ENCLAVE_CRASHED")
        return Evidence.from_json(done.stdout)

    def run(self, launch: EnclaveLaunch) -> RunReport:
        """Run one task in a fresh simulated enclave process and return its report.

        Raises:
            EnclaveError: ``ENCLAVE_CRASHED`` if the process wrote no valid report.
        """
        return run_enclave_process(self.command(launch), launch, timeout_s=self.timeout_s)


def run_enclave_process(
    argv: list[str], launch: EnclaveLaunch, *, timeout_s: float, cwd: str = "/"
) -> RunReport:
    """Run the enclave process ``argv`` for ``launch`` and return the report it wrote.

    Raises:
        EnclaveError: ``ENCLAVE_CRASHED`` if the process wrote no valid report.
    """
    launch.work_dir.mkdir(parents=True, exist_ok=True)
    report_path = launch.work_dir / REPORT_NAME
    report_path.unlink(missing_ok=True)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
            env=enclave_environment(os.environ),
            cwd=cwd,  # `-m` puts the working folder on sys.path: the worker's is private
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EnclaveError(f"the enclave process failed: {error}", code="ENCLAVE_CRASHED") from error
    if not report_path.is_file():
        # The enclave's stderr holds only its own error line, never app data.
        tail = done.stderr.decode("utf-8", "replace").strip()[-_TAIL:]
        raise EnclaveError(
            f"the enclave exited {done.returncode} without a report: {tail}", code="ENCLAVE_CRASHED"
        )
    return RunReport.from_json(report_path.read_bytes())
