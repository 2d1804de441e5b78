"""One interface for every TEE backend, seen from both sides of the enclave boundary.

- :class:`Quoter` lives *inside* the enclave: it turns 64 bytes of report data into
  evidence whose measurement is the running enclave's (for us, the app bundle's
  fingerprint). The enclave's secrets source calls it during the SMS handshake.
- :class:`TeeBackend` lives *outside*, in the worker: it starts the enclave for one task
  as a separate process and hands back its :class:`~sealrun.adapters.tee.report.RunReport`.

``simulated`` is in :mod:`~sealrun.adapters.tee.simulated`; the hardware quoters (configfs-tsm,
``/dev/tdx_guest``, ``/dev/sev-guest``, Gramine's ``/dev/attestation``) in
:mod:`~sealrun.adapters.tee.tsm` and :mod:`~sealrun.adapters.tee.devices`, their backends in
:mod:`~sealrun.adapters.tee.confidential` (``docs/decisions/0003-tee-backends.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sealrun.adapters.tee.report import RunReport
from sealrun.core.attestation import Evidence

__all__ = ["EnclaveLaunch", "Quoter", "TeeBackend"]


class Quoter(Protocol):
    """Produces attestation evidence from inside an enclave."""

    @property
    def tee(self) -> str:
        """The backend's name (``simulated``, ``gramine-sgx``, ``tdx``, ``sev-snp``)."""
        ...

    @property
    def measurement(self) -> bytes:
        """The measurement the evidence carries (the bundle fingerprint)."""
        ...

    def evidence(self, report_data: bytes) -> Evidence:
        """Return evidence binding the 64-byte ``report_data``.

        Raises:
            AttestationError: if the simulator cannot produce evidence.
            EnclaveError: a ``QUOTE_*`` code if the hardware cannot (no interface, a refusal,
                a malformed or foreign quote).
        """
        ...


@dataclass(frozen=True)
class EnclaveLaunch:
    """What the worker gives the enclave for one task.

    ``bundle_dir`` is the app; ``work_dir`` is where the enclave keeps its folders and writes
    the sealed result, the sealed logs and the report. The secrets come from exactly one of:
    ``sms_url`` (attested release; with ``task_id``, ``worker`` and the scheduler's
    ``authorization``) or ``secrets_file`` (a local plaintext bundle: development only).
    """

    bundle_dir: Path
    work_dir: Path
    secrets_file: Path | None = None
    sms_url: str | None = None
    task_id: bytes | None = None
    worker: str | None = None
    authorization: bytes | None = field(default=None, repr=False)
    extra_args: tuple[str, ...] = field(default=())


class TeeBackend(Protocol):
    """Starts enclaves of one TEE technology."""

    @property
    def name(self) -> str:
        """The backend's name (matches :attr:`Quoter.tee`)."""
        ...

    def run(self, launch: EnclaveLaunch) -> RunReport:
        """Run one task in a fresh enclave and return its report.

        Raises:
            EnclaveError: ``ENCLAVE_CRASHED`` if the enclave died without a report.
        """
        ...
