"""The SMS's attestation policy: the deployment's :class:`~sealrun.core.attestation.Policy`
with the measurement pinned, per release, to the app's on-chain fingerprint.

The base policy (allowed TEE types, accepted TCB statuses, rejected advisories; deny by
default, debug never) comes from the settings; :meth:`ChainPinnedPolicy.appraise` pins
``measurements`` to the one fingerprint and appraises. Refusals are the policy's codes
(``ATTEST_POLICY_SIMULATED``, ``ATTEST_POLICY_TEE_TYPE``, ``ATTEST_POLICY_DEBUG``,
``ATTEST_POLICY_TCB_STATUS``, ``ATTEST_POLICY_ADVISORY``, ``ATTEST_POLICY_MEASUREMENT``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sealrun.core.attestation import Claims, EvidenceType, Policy

__all__ = ["ChainPinnedPolicy", "base_policy"]


def base_policy(
    *, allowed_tee_types: frozenset[EvidenceType], accepted_tcb_statuses: frozenset[str],
    rejected_advisories: frozenset[str] = frozenset(),
) -> Policy:  # fmt: skip
    """The deployment's policy; its measurement is a placeholder replaced at every release."""
    return Policy(
        allowed_tee_types=allowed_tee_types,
        measurements=frozenset({b"\x00" * 32}),
        accepted_tcb_statuses=accepted_tcb_statuses,
        rejected_advisories=rejected_advisories,
    )


@dataclass(frozen=True)
class ChainPinnedPolicy:
    """Appraises claims under ``base`` with the measurement pinned to the expected one."""

    base: Policy

    def appraise(self, claims: Claims, *, measurement: bytes) -> Claims:
        """Return the claims if they pass, else raise the failed rule's ``AttestationError``."""
        return replace(self.base, measurements=frozenset({measurement})).appraise(claims).claims
