"""The SMS's attestation policy: deny by default, measurement from the chain.

Rules, in order (each refusal an :class:`~sealrun.errors.AttestationError`):

- ``ATTEST_POLICY_SIMULATED``: simulated claims, unless simulated evidence is enabled;
- ``ATTEST_POLICY_DEBUG``: a debug enclave (its memory is readable by the host);
- ``ATTEST_POLICY_TCB_STATUS``: a TCB status outside the accepted list (simulated claims
  carry their own status and are judged by the first rule only);
- ``ATTEST_POLICY_MEASUREMENT``: the measurement is not the app's on-chain fingerprint.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sealrun.core.attestation import Claims
from sealrun.errors import AttestationError

__all__ = ["SmsPolicy"]


@dataclass(frozen=True, kw_only=True)
class SmsPolicy:
    """Appraises verified claims for one expected measurement.

    Args:
        accepted_tcb_statuses: TCB statuses to accept (default: ``UpToDate`` only).
        allow_simulated: accept claims from simulated evidence (devnet only).
    """

    accepted_tcb_statuses: frozenset[str] = frozenset({"UpToDate"})
    allow_simulated: bool = False

    def appraise(self, claims: Claims, *, measurement: bytes) -> Claims:
        """Return ``claims`` if they pass every rule, else raise with the rule's code."""
        if claims.simulated and not self.allow_simulated:
            raise AttestationError("simulated evidence is not accepted here", code="ATTEST_POLICY_SIMULATED")
        if claims.debug:
            raise AttestationError("a debug enclave is never trusted", code="ATTEST_POLICY_DEBUG")
        if not claims.simulated and claims.tcb_status not in self.accepted_tcb_statuses:
            raise AttestationError(
                f"TCB status {claims.tcb_status!r} is not accepted", code="ATTEST_POLICY_TCB_STATUS"
            )
        if not hmac.compare_digest(claims.measurement, measurement):
            raise AttestationError(
                "the enclave's measurement is not the app's on-chain fingerprint",
                code="ATTEST_POLICY_MEASUREMENT",
            )
        return claims
