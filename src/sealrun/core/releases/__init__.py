"""The SMS's release decision, pure: facts in, a verdict or a refusal code out.

See :mod:`sealrun.core.releases.appraisal` for the checks and their order, and
:mod:`sealrun.core.releases.params` for the deal params the release reads.
"""

from sealrun.core.releases.appraisal import (
    ORDER_FAILURES,
    AttestationPolicy,
    EvidenceVerifier,
    Refusal,
    ReleaseFacts,
    ReleaseRequest,
    ReleaseVerdict,
    appraise_release,
    attempts_exhausted,
    liveness_refusal,
)
from sealrun.core.releases.opening import SessionOpening, appraise_session
from sealrun.core.releases.ownerpolicy import (
    OwnerPolicy,
    OwnerPolicyRefusal,
    canonical_policy,
    owner_policy_refusal,
    parse_owner_policy,
)
from sealrun.core.releases.params import ReleaseParams, parse_release_params
from sealrun.core.releases.sessions import (
    ISOLATION_MODES,
    AttestedSession,
    Isolation,
    check_session_request,
    session_report_data,
    session_request_digest,
    verify_session_report_data,
)

__all__ = [
    "ISOLATION_MODES",
    "ORDER_FAILURES",
    "AttestationPolicy",
    "AttestedSession",
    "EvidenceVerifier",
    "Isolation",
    "OwnerPolicy",
    "OwnerPolicyRefusal",
    "Refusal",
    "ReleaseFacts",
    "ReleaseParams",
    "ReleaseRequest",
    "ReleaseVerdict",
    "SessionOpening",
    "appraise_release",
    "appraise_session",
    "attempts_exhausted",
    "canonical_policy",
    "check_session_request",
    "liveness_refusal",
    "owner_policy_refusal",
    "parse_owner_policy",
    "parse_release_params",
    "session_report_data",
    "session_request_digest",
    "verify_session_report_data",
]
