"""Opening an attested session (isolation mode ``session``, decision 0080): the pure decision.

The SMS consumes the session nonce, then asks :func:`appraise_session`: the evidence verifies
with the verifier of its declared type (no fallback), its report data binds the nonce, the
session key, the worker and the app's isolation requirement
(:func:`~sealrun.core.attestation.session_report_data`), and the deployment's policy accepts
the claims (types, debug, TCB); the app's fingerprint is pinned per task, at each release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sealrun.core.attestation import Claims, EvidenceType, verify_session_report_data
from sealrun.core.releases.appraisal import AttestationPolicy, EvidenceVerifier, Refusal, verify_declared
from sealrun.core.releases.sessions import AttestedSession
from sealrun.errors import AttestationError

__all__ = ["SessionOpening", "appraise_session"]


@dataclass(frozen=True, kw_only=True)
class SessionOpening:
    """What the SMS gathered to open a session (after consuming its nonce).

    Attributes:
        nonce, worker, signer, requires_strict: what the enclave presented (bound in its
            evidence's report data).
        evidence: the evidence envelope's JSON text.
        now: the SMS's clock; session_id: fresh random bytes; ttl: the session's lifetime.
    """

    nonce: bytes
    worker: str
    signer: str
    requires_strict: bool
    evidence: str
    now: int
    session_id: bytes
    ttl: int


def appraise_session(
    opening: SessionOpening,
    *,
    verifiers: Mapping[EvidenceType, EvidenceVerifier],
    policy: AttestationPolicy,
) -> AttestedSession | Refusal:
    """Verify a session's evidence (declared type only), its report data and the deployment's
    policy (types, debug, TCB; the app is pinned per task at release); return the session.
    """
    claims: Claims | None = None
    try:
        verified = verify_declared(opening.evidence, verifiers, now=opening.now)
        if isinstance(verified, Refusal):
            return verified
        evidence, claims = verified
        verify_session_report_data(
            claims,
            nonce=opening.nonce,
            signer=opening.signer,
            worker=opening.worker,
            requires_strict=opening.requires_strict,
        )
        policy.appraise(claims, measurement=claims.measurement)
    except AttestationError as error:
        return Refusal(error.code, error.message, claims)
    return AttestedSession(
        session_id=opening.session_id,
        claims=claims,
        evidence=evidence.to_json(),
        signer=opening.signer,
        worker=opening.worker,
        requires_strict=opening.requires_strict,
        opened_at=opening.now,
        expires_at=opening.now + opening.ttl,
    )
