"""A hardware verifier double for confidential-VM tests: claims with chosen registers.

The real quotes in the shared vectors were not made by a VM that extended RTMR3 (the TDX
sample's RTMR3 is all zeros), so the success path of the TDX event log needs registers a test
chooses. This double stands for ``TdxDcapVerifier`` / ``SevSnpVerifier`` only: it checks
nothing, and reads the evidence payload as the 64-byte report data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sealrun.core.attestation import Claims, Evidence, EvidenceType
from sealrun.core.attestation.claims import ExtraValue, _mint_claims


@dataclass(frozen=True)
class RegistersVerifier:
    """Mints claims of ``evidence_type`` with ``measurement`` and the ``extra`` registers."""

    evidence_type: EvidenceType
    measurement: bytes
    extra: Mapping[str, ExtraValue] = field(default_factory=dict)
    calls: list[int] = field(default_factory=list)

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Return the chosen claims, the payload's first 64 bytes as report data."""
        self.calls.append(now)
        return _mint_claims(
            tee=self.evidence_type,
            measurement=self.measurement,
            signer=None,
            product_id=None,
            svn=None,
            debug=False,
            tcb_status="UpToDate",
            advisories=(),
            report_data=evidence.payload[:64].ljust(64, b"\0"),
            extra=self.extra,
            simulated=False,
        )
