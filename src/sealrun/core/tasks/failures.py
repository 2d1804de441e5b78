"""Stable failure codes an enclave signs into a failure receipt.

A failure receipt is the enclave's EIP-191 signature over
``failure_digest(taskid, failureCode, logDigest, receiptDigest)``; the hub refunds the requester at once
when it verifies. ``failureCode`` is a ``uint256`` on chain and one of these values here.
The numbers are a wire format: a value is never reused or renumbered, and ``0`` is never a
failure (the contract rejects it).

| code | name | meaning |
| --- | --- | --- |
| 1 | APP_EXIT_NONZERO | the app exited with a non-zero status or was killed by a signal |
| 2 | APP_TIMEOUT | the app ran past its wall-clock limit; its whole process tree was killed |
| 3 | APP_MEMORY_EXCEEDED | the app hit its memory limit |
| 4 | APP_OUTPUT_TOO_LARGE | the output folder, a single file, or the logs exceeded their limits |
| 5 | APP_OUTPUT_INVALID | unusable output: symlink, special file, unclean name, missing declared output |
| 6 | INPUT_FETCH_FAILED | the dataset or an input file could not be downloaded |
| 7 | INPUT_CHECKSUM_MISMATCH | the ciphertext's sha256 differs from the bundle's checksum |
| 8 | INPUT_OPEN_FAILED | the dataset could not be opened (wrong key, tampered, truncated, hostile archive) |
| 9 | BUNDLE_INVALID | the app bundle or its manifest is invalid, or its fingerprint is not the measured one |
| 10 | SANDBOX_FAILED | the sandbox could not be started (not the app's fault) |
| 11 | RESULT_UPLOAD_FAILED | the sealed result could not be uploaded |
| 12 | TASK_PARAMS_INVALID | the request's parameters are unusable (bad args quoting, unreadable params) |
| 13 | SECRET_MISSING | a requester secret the task names, or the dataset's key, was never pushed |
| 14 | RECIPIENT_MISSING | the beneficiary never set a result recipient (the log digest is then zero) |
| 15 | ATTEMPTS_EXHAUSTED | the SMS released the task's secrets as often as its cap allows |
| 16 | ENCLAVE_INTERNAL | the enclave hit an unexpected error after it received the task |
| 17 | INPUT_URL_REFUSED | an input URL is not the public internet (scheme, origin, address, redirect) |
| 18 | INPUT_TOO_LARGE | an input or all inputs over the limit, or too little disk for them |
| 19 | APP_COMPUTED_JSON_INVALID | no computed.json, or no deterministic-output-path in IEXEC_OUT |
| 20 | INPUT_UNAVAILABLE | an input's server stayed unreachable, timed out or answered 5xx/408/429 |
| 21 | GRANT_INVALID | the dataset grant the deal uses was revoked, has expired or is gone |
| 22 | OWNER_POLICY_REFUSED | the enclave or the deal breaks the dataset owner's release policy |

Codes 12 (from the SMS), 13, 14, 15, 21 and 22 arrive in a *failure bundle* the SMS releases to the
attested enclave instead of the secrets (see :mod:`sealrun.core.tasks.secretsbundle`).
"""

from __future__ import annotations

from enum import IntEnum

from sealrun.errors import ConfigError

__all__ = ["FailureCode", "parse_failure_code"]


class FailureCode(IntEnum):
    """A stable, on-chain failure code (see the module docstring for the table)."""

    APP_EXIT_NONZERO = 1
    APP_TIMEOUT = 2
    APP_MEMORY_EXCEEDED = 3
    APP_OUTPUT_TOO_LARGE = 4
    APP_OUTPUT_INVALID = 5
    INPUT_FETCH_FAILED = 6
    INPUT_CHECKSUM_MISMATCH = 7
    INPUT_OPEN_FAILED = 8
    BUNDLE_INVALID = 9
    SANDBOX_FAILED = 10
    RESULT_UPLOAD_FAILED = 11
    TASK_PARAMS_INVALID = 12
    SECRET_MISSING = 13
    RECIPIENT_MISSING = 14
    ATTEMPTS_EXHAUSTED = 15
    ENCLAVE_INTERNAL = 16
    INPUT_URL_REFUSED = 17
    INPUT_TOO_LARGE = 18
    APP_COMPUTED_JSON_INVALID = 19
    INPUT_UNAVAILABLE = 20
    GRANT_INVALID = 21
    OWNER_POLICY_REFUSED = 22


def parse_failure_code(value: int | str) -> FailureCode:
    """Return the :class:`FailureCode` for a number or a name.

    Raises:
        ConfigError: ``INVALID_FAILURE_CODE`` for 0, an unknown number or an unknown name.
    """
    try:
        # ASCII digits only: "²".isdigit() is true but int() refuses it.
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            return FailureCode[value]
        return FailureCode(int(value))
    except (KeyError, ValueError) as error:
        raise ConfigError(f"unknown failure code {value!r}", code="INVALID_FAILURE_CODE") from error
