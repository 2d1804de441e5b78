"""The stable error codes of attestation (every :class:`~sealrun.errors.AttestationError` carries one).

Codes are a public contract: the SMS refuses a key release with one of them, scripts match on
them, and they are never renamed. ``docs/attestation.md`` maps each to its meaning and maps the
vendor vectors' ``expected_reason`` values onto them.

Verification (the evidence itself):

======================================  =========================================================
``ATTEST_MALFORMED``                     the evidence (or its envelope) does not parse
``ATTEST_UNKNOWN_TYPE``                  no verifier for the declared type (never guessed)
``ATTEST_TYPE_MISMATCH``                 the bytes are evidence of another type than declared
``ATTEST_UNTRUSTED_ROOT``                the chain does not end at the pinned root (by fingerprint)
``ATTEST_SIGNATURE``                     a signature (report, certificate, collateral) is invalid
``ATTEST_EXPIRED``                       a certificate, CRL or collateral is not valid at ``now``
``ATTEST_REVOKED``                       a certificate in the chain is revoked
``ATTEST_NO_MATCHING_TCB``               no TCB level of the collateral matches the platform
``ATTEST_TCB_MISMATCH``                  the VCEK's TCB / chip id differs from the report's
``ATTEST_DEBUG``                         the evidence comes from a debug enclave
``ATTEST_COLLATERAL``                    the collateral is missing, malformed or inconsistent
``ATTEST_REPORT_DATA_MISMATCH``          the report data does not bind the nonce, key and task
``ATTEST_COLLATERAL_STALE``              the collateral is older than the maximum collateral age
                                         (default 7 days) or past its ``nextUpdate``
``ATTEST_COLLATERAL_UNAVAILABLE``        no collateral could be fetched and none usable is cached
======================================  =========================================================

Confidential VMs (:mod:`~sealrun.core.attestation.cvm`: the app's fingerprint from the RTMR3
event log or SEV-SNP HOST_DATA, the base image from a trusted list):

======================================  =========================================================
``ATTEST_EVENTLOG_MISSING``              TDX CVM evidence without its event log
``ATTEST_EVENTLOG_MALFORMED``            the event log does not parse, is oversized, or has a
                                         wrong version, field, size or encoding
``ATTEST_EVENTLOG_REPLAY``               an event's digest is not its content's, or the replay
                                         does not reproduce the quote's RTMR3
``ATTEST_EVENTLOG_APP_EVENT``            the log has no app event, or more than one
``ATTEST_IMAGE_UNTRUSTED``               the base image's measurements are in no trusted image
======================================  =========================================================

Policy (the appraisal of verified claims), one code per rule:

``ATTEST_POLICY_TEE_TYPE``, ``ATTEST_POLICY_SIMULATED``, ``ATTEST_POLICY_MEASUREMENT``,
``ATTEST_POLICY_SIGNER``, ``ATTEST_POLICY_PRODUCT``, ``ATTEST_POLICY_SVN``,
``ATTEST_POLICY_DEBUG``, ``ATTEST_POLICY_TCB_STATUS``, ``ATTEST_POLICY_ADVISORY``, and
``ATTEST_POLICY_INVALID`` for a policy document that is itself wrong (unknown keys, bad values;
also a trusted image list, :mod:`~sealrun.core.attestation.imagepolicy`).
"""

from __future__ import annotations

__all__ = [
    "ATTEST_COLLATERAL",
    "ATTEST_COLLATERAL_STALE",
    "ATTEST_COLLATERAL_UNAVAILABLE",
    "ATTEST_DEBUG",
    "ATTEST_EVENTLOG_APP_EVENT",
    "ATTEST_EVENTLOG_MALFORMED",
    "ATTEST_EVENTLOG_MISSING",
    "ATTEST_EVENTLOG_REPLAY",
    "ATTEST_EXPIRED",
    "ATTEST_IMAGE_UNTRUSTED",
    "ATTEST_MALFORMED",
    "ATTEST_NO_MATCHING_TCB",
    "ATTEST_POLICY_ADVISORY",
    "ATTEST_POLICY_DEBUG",
    "ATTEST_POLICY_INVALID",
    "ATTEST_POLICY_MEASUREMENT",
    "ATTEST_POLICY_PRODUCT",
    "ATTEST_POLICY_SIGNER",
    "ATTEST_POLICY_SIMULATED",
    "ATTEST_POLICY_SVN",
    "ATTEST_POLICY_TCB_STATUS",
    "ATTEST_POLICY_TEE_TYPE",
    "ATTEST_REPORT_DATA_MISMATCH",
    "ATTEST_REVOKED",
    "ATTEST_SIGNATURE",
    "ATTEST_TCB_MISMATCH",
    "ATTEST_TYPE_MISMATCH",
    "ATTEST_UNKNOWN_TYPE",
    "ATTEST_UNTRUSTED_ROOT",
]

ATTEST_MALFORMED = "ATTEST_MALFORMED"
ATTEST_UNKNOWN_TYPE = "ATTEST_UNKNOWN_TYPE"
ATTEST_TYPE_MISMATCH = "ATTEST_TYPE_MISMATCH"
ATTEST_UNTRUSTED_ROOT = "ATTEST_UNTRUSTED_ROOT"
ATTEST_SIGNATURE = "ATTEST_SIGNATURE"
ATTEST_EXPIRED = "ATTEST_EXPIRED"
ATTEST_REVOKED = "ATTEST_REVOKED"
ATTEST_NO_MATCHING_TCB = "ATTEST_NO_MATCHING_TCB"
ATTEST_TCB_MISMATCH = "ATTEST_TCB_MISMATCH"
ATTEST_DEBUG = "ATTEST_DEBUG"
ATTEST_COLLATERAL = "ATTEST_COLLATERAL"
ATTEST_REPORT_DATA_MISMATCH = "ATTEST_REPORT_DATA_MISMATCH"
ATTEST_COLLATERAL_STALE = "ATTEST_COLLATERAL_STALE"
ATTEST_COLLATERAL_UNAVAILABLE = "ATTEST_COLLATERAL_UNAVAILABLE"

ATTEST_EVENTLOG_MISSING = "ATTEST_EVENTLOG_MISSING"
ATTEST_EVENTLOG_MALFORMED = "ATTEST_EVENTLOG_MALFORMED"
ATTEST_EVENTLOG_REPLAY = "ATTEST_EVENTLOG_REPLAY"
ATTEST_EVENTLOG_APP_EVENT = "ATTEST_EVENTLOG_APP_EVENT"
ATTEST_IMAGE_UNTRUSTED = "ATTEST_IMAGE_UNTRUSTED"

ATTEST_POLICY_TEE_TYPE = "ATTEST_POLICY_TEE_TYPE"
ATTEST_POLICY_SIMULATED = "ATTEST_POLICY_SIMULATED"
ATTEST_POLICY_MEASUREMENT = "ATTEST_POLICY_MEASUREMENT"
ATTEST_POLICY_SIGNER = "ATTEST_POLICY_SIGNER"
ATTEST_POLICY_PRODUCT = "ATTEST_POLICY_PRODUCT"
ATTEST_POLICY_SVN = "ATTEST_POLICY_SVN"
ATTEST_POLICY_DEBUG = "ATTEST_POLICY_DEBUG"
ATTEST_POLICY_TCB_STATUS = "ATTEST_POLICY_TCB_STATUS"
ATTEST_POLICY_ADVISORY = "ATTEST_POLICY_ADVISORY"
ATTEST_POLICY_INVALID = "ATTEST_POLICY_INVALID"
