"""Tasks: identifiers, result digests, authorizations, receipts and the secrets bundle.

The byte formats here are shared by the contracts, the enclave runtime, the SMS and the
worker pool; ``docs/formats.md`` documents them byte by byte.
"""

from sealrun.core.tasks.failures import FailureCode, parse_failure_code
from sealrun.core.tasks.hashing import (
    authorization_digest,
    failure_digest,
    result_hash,
    result_seal,
    result_signature_digest,
    task_id,
)
from sealrun.core.tasks.retries import (
    FAILURE_CLASSES,
    FailureClass,
    RetryDecision,
    RetryPolicy,
    backoff_delay,
    classify_failure,
    decide_retry,
    underlying_code,
)
from sealrun.core.tasks.secretsbundle import BUNDLE_VERSION, ReleaseFailure, SecretsBundle
from sealrun.core.tasks.signatures import address_of, recover_signer, sign_digest

__all__ = [
    "BUNDLE_VERSION",
    "FAILURE_CLASSES",
    "FailureClass",
    "FailureCode",
    "ReleaseFailure",
    "RetryDecision",
    "RetryPolicy",
    "SecretsBundle",
    "address_of",
    "authorization_digest",
    "backoff_delay",
    "classify_failure",
    "decide_retry",
    "failure_digest",
    "parse_failure_code",
    "recover_signer",
    "result_hash",
    "result_seal",
    "result_signature_digest",
    "sign_digest",
    "task_id",
    "underlying_code",
]
