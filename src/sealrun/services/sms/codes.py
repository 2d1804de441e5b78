"""Every error code the SMS answers with, and its HTTP status.

Writes and reads (:class:`~sealrun.errors.SecretError` unless noted):

- ``SECRET_ASSET_UNKNOWN`` 404: the dataset or app is not registered on chain.
- ``SECRET_NOT_OWNER`` 403: the signer is not the on-chain owner (or the addressed account).
- ``SECRET_EXISTS`` 409: the dataset already has a key (dataset keys are written once).
- ``SECRET_NOT_FOUND`` 404: no such secret.
- ``SECRET_INVALID`` 400: a value is not of the documented shape (age identity, recipient).
- ``SECRET_POLICY_INVALID`` 400: a dataset release policy document breaks
  :mod:`sealrun.core.releases.ownerpolicy` (decision 0090).
- ``DATASET_FILENAME_INVALID`` 400: a dataset's file name is not one plain UTF-8 name
  (:mod:`sealrun.core.tasks.filenames`).
- ``SECRET_NAME_INVALID`` 400, ``SECRET_VALUE_INVALID`` 400: a requester secret name or a
  secret value breaks :mod:`sealrun.core.secretrules` (a NUL character, for example).
- ``REQUEST_*`` 401 (:class:`~sealrun.errors.RequestError`): see :mod:`sealrun.core.requests`.

Per-task enclave keys and attested release (every refusal is also written to the audit log):

- ``RELEASE_TASK_UNKNOWN`` 404, ``RELEASE_DEAL_UNKNOWN`` 404: not on chain.
- ``RELEASE_DEAL_NOT_TEE`` 403: the deal's tag does not require a TEE.
- ``RELEASE_TASK_FINALIZED`` 409: the task is completed or failed.
- ``RELEASE_TASK_PAST_DEADLINE`` 409: the task's final deadline has passed.
- ``RELEASE_NONCE_UNKNOWN`` 403, ``RELEASE_NONCE_EXPIRED`` 403, ``RELEASE_NONCE_USED`` 403.
- ``RELEASE_NO_ENCLAVE_CHALLENGE`` 409: the scheduler has not asked for the task's enclave key.
- ``RELEASE_WORKER_UNAUTHORIZED`` 403: no valid scheduler authorization for this worker,
  task and enclave challenge.
- ``RELEASE_DATASET_APP_NOT_ALLOWED``, ``RELEASE_DATASET_REQUESTER_NOT_ALLOWED``,
  ``RELEASE_DATASET_WORKERPOOL_NOT_ALLOWED`` 403: the dataset order's restrictions.
- ``RELEASE_DATASET_KEY_MISSING``, ``RELEASE_RECIPIENT_MISSING``,
  ``RELEASE_REQUESTER_SECRET_MISSING`` 409: a secret the task needs was never pushed.
- ``RELEASE_APP_UNKNOWN`` / ``RELEASE_WORKERPOOL_UNKNOWN`` 404, ``RELEASE_PARAMS_INVALID`` 409
  (the deal's params do not parse, or a secret index is not 1-1000 in ASCII digits).
- ``RELEASE_GRANT_UNKNOWN`` 404, ``RELEASE_GRANT_REVOKED`` 403, ``RELEASE_GRANT_EXPIRED`` 403:
  the deal was matched under a dataset grant that is gone, revoked or expired now.
- ``RELEASE_POLICY_TEE_TYPE``, ``RELEASE_POLICY_TCB_STATUS``, ``RELEASE_POLICY_COLLATERAL_AGE``,
  ``RELEASE_POLICY_ISOLATION``, ``RELEASE_POLICY_WORKERPOOL`` 403: the dataset owner's release
  policy refuses this enclave or deal (decision 0090).
- The order refusals (the three ``RELEASE_GRANT_*``, the five ``RELEASE_POLICY_*``,
  ``RELEASE_PARAMS_INVALID``, ``RELEASE_REQUESTER_SECRET_MISSING``, ``RELEASE_DATASET_KEY_MISSING``,
  ``RELEASE_RECIPIENT_MISSING``, ``RELEASE_ATTEMPTS_EXHAUSTED``)
  are answered with these statuses only to an enclave that has not yet proven itself genuine
  and authorized; one that has receives a failure bundle (200) instead, audited as ``failure``.
- Attested sessions (isolation mode ``session``, decision 0080): ``RELEASE_SESSION_UNKNOWN``
  404 (no such session in this SMS process: never opened, dropped by a restart or pushed out;
  attest again), ``RELEASE_SESSION_EXPIRED`` 403 (past its ``SESSION_TTL``; attest again),
  ``RELEASE_SESSION_SIGNATURE_INVALID`` 403 (not signed by the session key, or for another
  worker), ``RELEASE_SESSION_REPLAYED`` 403 (a sequence number already used),
  ``RELEASE_ISOLATION_STRICT_REQUIRED`` 403 (the app's manifest requires ``strict``).
- ``ATTEST_*`` 403 (:class:`~sealrun.errors.AttestationError`): the evidence did not verify or
  failed the policy (``ATTEST_POLICY_MEASUREMENT``, ``ATTEST_DEBUG``,
  ``ATTEST_REPORT_DATA_MISMATCH``, ``ATTEST_POLICY_SIMULATED``, ``ATTEST_UNKNOWN_TYPE``, ...).
- ``CHAIN_*`` 502, ``DB_UNAVAILABLE`` 503.
"""

from __future__ import annotations

from sealrun.core.attestation import codes as attestation_codes

__all__ = ["STATUS_BY_CODE", "all_statuses"]

STATUS_BY_CODE: dict[str, int] = {
    "SECRET_ASSET_UNKNOWN": 404,
    "SECRET_NOT_OWNER": 403,
    "SECRET_EXISTS": 409,
    "SECRET_NOT_FOUND": 404,
    "SECRET_INVALID": 400,
    "SECRET_POLICY_INVALID": 400,
    "DATASET_FILENAME_INVALID": 400,
    "SECRET_NAME_INVALID": 400,
    "SECRET_VALUE_INVALID": 400,
    "RELEASE_TASK_UNKNOWN": 404,
    "RELEASE_DEAL_UNKNOWN": 404,
    "RELEASE_APP_UNKNOWN": 404,
    "RELEASE_WORKERPOOL_UNKNOWN": 404,
    "RELEASE_DEAL_NOT_TEE": 403,
    "RELEASE_TASK_FINALIZED": 409,
    "RELEASE_TASK_PAST_DEADLINE": 409,
    "RELEASE_NONCE_UNKNOWN": 403,
    "RELEASE_NONCE_EXPIRED": 403,
    "RELEASE_NONCE_USED": 403,
    "RELEASE_NO_ENCLAVE_CHALLENGE": 409,
    "RELEASE_WORKER_UNAUTHORIZED": 403,
    "RELEASE_DATASET_APP_NOT_ALLOWED": 403,
    "RELEASE_DATASET_REQUESTER_NOT_ALLOWED": 403,
    "RELEASE_DATASET_WORKERPOOL_NOT_ALLOWED": 403,
    "RELEASE_DATASET_KEY_MISSING": 409,
    "RELEASE_RECIPIENT_MISSING": 409,
    "RELEASE_REQUESTER_SECRET_MISSING": 409,
    "RELEASE_PARAMS_INVALID": 409,
    "RELEASE_ATTEMPTS_EXHAUSTED": 409,
    "RELEASE_GRANT_UNKNOWN": 404,
    "RELEASE_GRANT_REVOKED": 403,
    "RELEASE_GRANT_EXPIRED": 403,
    "RELEASE_SESSION_UNKNOWN": 404,
    "RELEASE_SESSION_EXPIRED": 403,
    "RELEASE_SESSION_SIGNATURE_INVALID": 403,
    "RELEASE_SESSION_REPLAYED": 403,
    "RELEASE_ISOLATION_STRICT_REQUIRED": 403,
    "RELEASE_POLICY_TEE_TYPE": 403,
    "RELEASE_POLICY_TCB_STATUS": 403,
    "RELEASE_POLICY_COLLATERAL_AGE": 403,
    "RELEASE_POLICY_ISOLATION": 403,
    "RELEASE_POLICY_WORKERPOOL": 403,
    "ATTEST_MALFORMED": 400,
    # A stored envelope that does not open is the server's fault, not the caller's.
    "SECRET_AT_REST_CORRUPT": 500,
    "SECRET_AT_REST_KEY_UNKNOWN": 500,
}


def all_statuses() -> dict[str, int]:
    """Every code's HTTP status: the table above, and 403 for every attestation refusal."""
    statuses = {
        value: 403
        for name, value in vars(attestation_codes).items()
        if name.startswith("ATTEST_") and isinstance(value, str)
    }
    statuses.update(STATUS_BY_CODE)
    return statuses
