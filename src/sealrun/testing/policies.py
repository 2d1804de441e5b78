"""Deliberately broken attestation policies, to prove the checks that must hold without them.

Never use these outside tests: each one forgets a rule on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sealrun.core.attestation import Claims, Policy

__all__ = ["MeasurementBlindPolicy"]


@dataclass(frozen=True)
class MeasurementBlindPolicy:
    """An SMS policy that appraises under ``base`` but pins whatever measurement it is shown.

    It stands for a policy whose measurement pin was lost (misconfigured, or a regression):
    the SMS's own constant-time check of the measurement against the app's on-chain
    fingerprint must still refuse the enclave (``ATTEST_POLICY_MEASUREMENT``).
    """

    base: Policy

    def appraise(self, claims: Claims, *, measurement: bytes) -> Claims:
        """Appraise ``claims`` with every rule of ``base`` but the measurement, which always passes."""
        del measurement  # the point of this double: the expected measurement is ignored
        return replace(self.base, measurements=frozenset({claims.measurement})).appraise(claims).claims
