"""Worker backends of hardware TEEs: the enclave process runs with a hardware quoter.

- :class:`ConfidentialVmTee` (``tdx``, ``sev-snp``): the worker itself runs inside the
  confidential VM (the dstack / CoCo model: the VM is the TEE), so the enclave is a child
  process like the simulated one, started with ``--tee tdx|sev-snp`` instead of a simulator
  key; its quoter is configfs-tsm, else the guest device
  (:func:`~sealrun.adapters.tee.hardware.hardware_quoter`).
- :class:`GramineSgxTee` (``gramine-sgx``): the enclave process runs under ``gramine-sgx``
  from the operator's signed manifest folder, with ``--tee gramine-sgx`` (its quoter is
  Gramine's ``/dev/attestation``). The manifest (entrypoint ``python -m sealrun.enclave``,
  arguments passed through) is the operator's: sealrun does not build or sign it.

Neither fetches collateral: the evidence leaves with what the quoter found (the SEV-SNP VCEK
from configfs-tsm's auxblob) and the SMS brings the rest.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.tee.backend import EnclaveLaunch
from sealrun.adapters.tee.report import RunReport
from sealrun.adapters.tee.simulated import run_enclave_process
from sealrun.api.ids import task_id_hex

__all__ = ["ConfidentialVmTee", "GramineSgxTee", "enclave_arguments"]


def enclave_arguments(launch: EnclaveLaunch) -> list[str]:
    """The ``run`` arguments that describe ``launch`` (after the TEE's own options)."""
    argv = ["--bundle", str(launch.bundle_dir), "--work", str(launch.work_dir)]
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


@dataclass(frozen=True)
class ConfidentialVmTee:
    """Starts enclave processes inside the confidential VM the worker runs in.

    Args:
        name: ``tdx`` or ``sev-snp``.
        python: the interpreter that runs ``sealrun.enclave``.
        timeout_s: hard limit for the whole enclave process.
        root: the folder that stands for ``/`` when the enclave looks for its quoting
            interface (tests point it at a fake tree).
    """

    name: str
    python: str = sys.executable
    timeout_s: float = 24 * 3600.0
    root: Path = Path("/")

    def command(self, launch: EnclaveLaunch) -> list[str]:
        """Return the enclave process's argv for ``launch``."""
        argv = [self.python, "-m", "sealrun.enclave", "run", "--tee", self.name]
        if self.root != Path("/"):
            argv += ["--tee-root", str(self.root)]
        return [*argv, *enclave_arguments(launch)]

    def run(self, launch: EnclaveLaunch) -> RunReport:
        """Run one task in a fresh enclave process and return its report.

        Raises:
            EnclaveError: ``ENCLAVE_CRASHED`` if the process wrote no valid report.
        """
        return run_enclave_process(self.command(launch), launch, timeout_s=self.timeout_s)


@dataclass(frozen=True)
class GramineSgxTee:
    """Starts enclave processes as Gramine SGX enclaves.

    Args:
        manifest: the operator's signed manifest (``<name>.manifest.sgx``); its folder is the
            working folder of ``gramine-sgx <name>``.
        gramine: the ``gramine-sgx`` launcher.
        timeout_s: hard limit for the whole enclave process.
    """

    manifest: Path
    gramine: str = "gramine-sgx"
    timeout_s: float = 24 * 3600.0
    name: str = "gramine-sgx"

    def command(self, launch: EnclaveLaunch) -> list[str]:
        """Return the launcher's argv for ``launch``."""
        application = self.manifest.name.removesuffix(".manifest.sgx")
        return [self.gramine, application, "run", "--tee", self.name, *enclave_arguments(launch)]

    def run(self, launch: EnclaveLaunch) -> RunReport:
        """Run one task in a fresh Gramine enclave and return its report.

        Raises:
            EnclaveError: ``ENCLAVE_CRASHED`` if the enclave wrote no valid report.
        """
        return run_enclave_process(
            self.command(launch), launch, timeout_s=self.timeout_s, cwd=str(self.manifest.parent)
        )
