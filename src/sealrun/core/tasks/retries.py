"""Self-healing tasks: which failures are retried, when, and until when (pure).

A task attempt ends in a failure of one of two classes:

- **infrastructure**: something around the task failed (the store, the SMS, the chain or
  the market unreachable, a 5xx, a timeout, the worker lost, the enclave killed by the
  host). Running the same task again later, on another worker where there is one, may
  well succeed: the scheduler retries it with exponential backoff and full jitter
  (:func:`backoff_delay`) until a margin before the deal's deadline (:func:`decide_retry`);
- **app**: the app or its inputs failed (an exit code, a bad checksum, a refused
  attestation or release, a missing secret, a bad input). Running it again would fail
  again: the enclave's attested failure receipt is settled at once.

:data:`FAILURE_CLASSES` is the one table, keyed by stable code: every
:class:`~sealrun.core.tasks.FailureCode` name (what an enclave signs into a receipt) and the
error codes a worker or the scheduler sees when an attempt ended without a report. A code
the table does not know is ``app``: never retried, so a new failure is never retried by
accident. Retrying a receipt-bearing infrastructure failure throws the receipt away; once no
retry fits before the deadline the receipt is settled, so the requester is refunded at once.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sealrun.core.tasks.failures import FailureCode
from sealrun.errors import ConfigError

__all__ = [
    "FAILURE_CLASSES",
    "FailureClass",
    "RetryDecision",
    "RetryPolicy",
    "backoff_delay",
    "classify_failure",
    "decide_retry",
    "underlying_code",
]


class FailureClass(StrEnum):
    """Whose fault an attempt's failure is: the infrastructure's (retried) or the app's (not)."""

    INFRASTRUCTURE = "infrastructure"
    APP = "app"


_INFRA = FailureClass.INFRASTRUCTURE
_APP = FailureClass.APP

#: Stable code -> class. Receipt codes (``FailureCode`` names) first, then the codes of an
#: attempt that ended without a report. Unknown codes are ``app`` (see the module docstring).
FAILURE_CLASSES: Mapping[str, FailureClass] = MappingProxyType(
    {
        # -- receipts an enclave signs (core/tasks/failures.py) --------------------------
        FailureCode.APP_EXIT_NONZERO.name: _APP,
        FailureCode.APP_TIMEOUT.name: _APP,
        FailureCode.APP_MEMORY_EXCEEDED.name: _APP,
        FailureCode.APP_OUTPUT_TOO_LARGE.name: _APP,
        FailureCode.APP_OUTPUT_INVALID.name: _APP,
        FailureCode.INPUT_FETCH_FAILED.name: _APP,  # refused URL, 4xx, bad length: the input's fault
        FailureCode.INPUT_CHECKSUM_MISMATCH.name: _APP,
        FailureCode.INPUT_OPEN_FAILED.name: _APP,
        FailureCode.BUNDLE_INVALID.name: _APP,
        FailureCode.SANDBOX_FAILED.name: _INFRA,  # the host could not start the sandbox
        FailureCode.RESULT_UPLOAD_FAILED.name: _INFRA,  # the store refused or was unreachable
        FailureCode.TASK_PARAMS_INVALID.name: _APP,
        FailureCode.SECRET_MISSING.name: _APP,
        FailureCode.RECIPIENT_MISSING.name: _APP,
        FailureCode.ATTEMPTS_EXHAUSTED.name: _APP,  # the SMS's cap: a retry would get it again
        FailureCode.ENCLAVE_INTERNAL.name: _APP,  # a bug does not heal by itself
        FailureCode.INPUT_URL_REFUSED.name: _APP,
        FailureCode.INPUT_TOO_LARGE.name: _APP,
        FailureCode.APP_COMPUTED_JSON_INVALID.name: _APP,
        FailureCode.INPUT_UNAVAILABLE.name: _INFRA,  # unreachable, timeout, 5xx after in-place retries
        FailureCode.GRANT_INVALID.name: _APP,  # the dataset grant was revoked or expired: final
        FailureCode.OWNER_POLICY_REFUSED.name: _APP,  # the owner's release policy refused: final
        # -- services unreachable or failing (adapters/http, adapters/chain) --------------
        "SMS_UNREACHABLE": _INFRA,
        "STORAGE_UNREACHABLE": _INFRA,
        "SERVICE_UNREACHABLE": _INFRA,
        "SERVICE_ERROR": _INFRA,  # an error answer that is no problem document: a proxy's 5xx
        "SERVICE_BAD_ANSWER": _INFRA,
        "MARKET_UNREACHABLE": _INFRA,
        "SCHEDULER_UNREACHABLE": _INFRA,
        "CHAIN_UNREACHABLE": _INFRA,
        "CHAIN_TIMEOUT": _INFRA,
        "CHAIN_RPC_ERROR": _INFRA,  # the node failed the call (a revert has its own code: app)
        "CHAIN_INSUFFICIENT_FUNDS": _INFRA,  # this worker cannot pay the gas; another may
        "DB_UNAVAILABLE": _INFRA,
        "BUNDLE_UNAVAILABLE": _INFRA,  # the worker could not get the app bundle
        # -- the worker and its enclave --------------------------------------------------
        "ENCLAVE_CRASHED": _INFRA,  # killed by the host, or died before it could report
        "SANDBOX_UNAVAILABLE": _INFRA,
        "WORKER_INTERNAL": _INFRA,  # the worker itself failed (a bug or an I/O error there)
        "WORKER_SETTLEMENT_FAILED": _INFRA,  # the result could not be sent on chain
        # -- the scheduler's own observations --------------------------------------------
        "WORKER_LOST": _INFRA,
        "WORKER_HELD_TOO_LONG": _INFRA,
        "WORKER_RESTARTED": _INFRA,
        "WORKER_ABANDONED": _INFRA,  # a give-back without a code (an older worker)
        "ASSIGNMENT_LOST": _INFRA,  # handed out, never received (an answer lost in transit)
        "GRANT_FAILED": _INFRA,  # the scheduler could not get the enclave challenge
    }
)

# The error line an enclave process prints before exiting without a report (enclave/__main__.py).
_ERROR_LINE = re.compile(r"error \[([A-Z][A-Z0-9_]{0,63})\]")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def classify_failure(code: str) -> FailureClass:
    """The class of an attempt that ended with ``code`` (unknown codes: ``app``)."""
    return FAILURE_CLASSES.get(code, _APP)


def underlying_code(code: str, message: str) -> str:
    """The code that really ended an attempt: the enclave's own error line for ``ENCLAVE_CRASHED``.

    An enclave that cannot reach the SMS, or whose attestation is refused, exits before it
    has a key to sign a receipt with; the TEE backend reports ``ENCLAVE_CRASHED`` with the
    process's last error line (``error [SMS_UNREACHABLE]: ...``). The last such line names the
    cause; without one (a kill, a crash) the code stays ``ENCLAVE_CRASHED``.
    """
    if code != "ENCLAVE_CRASHED":
        return code
    found = _ERROR_LINE.findall(message)
    return str(found[-1]) if found else code


def is_code(text: str) -> bool:
    """True when ``text`` has the shape of a stable code (``UPPER_SNAKE``, at most 64 characters)."""
    return bool(_CODE.match(text))


@dataclass(frozen=True)
class RetryPolicy:
    """How a pool retries infrastructure failures.

    Attributes:
        base_delay: seconds of the first backoff window (the ``n``-th retry waits a uniform
            draw in ``[0, min(max_delay, base_delay · 2^(n-1))]``: full jitter).
        max_delay: the largest backoff window.
        deadline_margin: seconds kept free before the deal's deadline: a retry is made only if
            it can start, run its category's whole time, and still end this long before it
            (so the attested failure, or the result, is settled before the deadline).

    Raises:
        ConfigError: ``CONFIG_RETRY_INVALID`` for a non-finite or non-positive delay, a
            ``max_delay`` below ``base_delay``, or a negative margin.
    """

    base_delay: float = 2.0
    max_delay: float = 120.0
    deadline_margin: float = 120.0

    def __post_init__(self) -> None:
        values = (self.base_delay, self.max_delay, self.deadline_margin)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ConfigError("retry delays and margin must be finite numbers", code="CONFIG_RETRY_INVALID")
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ConfigError(
                f"retry delays must satisfy 0 < base ({self.base_delay}) <= max ({self.max_delay})",
                code="CONFIG_RETRY_INVALID",
            )
        if self.deadline_margin < 0:
            raise ConfigError(
                f"the retry deadline margin must be >= 0, not {self.deadline_margin}",
                code="CONFIG_RETRY_INVALID",
            )


def backoff_delay(failures: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait before the retry that follows the ``failures``-th infrastructure failure.

    Exponential backoff with full jitter: a uniform draw in ``[0, min(max_delay,
    base_delay · 2^(failures-1))]``. ``failures`` below 1 counts as 1; the exponent is
    capped so a huge count cannot overflow.
    """
    exponent = min(max(failures, 1) - 1, 62)
    window = min(policy.max_delay, policy.base_delay * float(2**exponent))
    return rng.uniform(0.0, window)


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failed attempt.

    Attributes:
        failure_class: the failure's class.
        retry: retry the task (at ``not_before``); otherwise the attempt's outcome stands
            (its receipt is settled, or without one the task is given up).
        not_before: the earliest time (unix seconds) of the retry, when ``retry``.
        reason: why, in words (for ``task show``).
    """

    failure_class: FailureClass
    retry: bool
    not_before: float | None
    reason: str


def decide_retry(
    code: str,
    *,
    failures: int,
    now: float,
    deadline: float,
    max_time: float,
    policy: RetryPolicy,
    rng: random.Random,
) -> RetryDecision:
    """Decide whether an attempt that ended with ``code`` is retried, and when.

    Args:
        code: the stable code that ended the attempt.
        failures: how many infrastructure failures the task has had, this one included.
        now: the current time (unix seconds).
        deadline: the deal's deadline (unix seconds).
        max_time: the deal's category time (seconds a run may take).
        policy: the pool's retry policy.
        rng: the jitter's source (seeded in tests).
    """
    kind = classify_failure(code)
    if kind is _APP:
        return RetryDecision(kind, False, None, "the app or its inputs failed: no retry")
    at = now + backoff_delay(failures, policy, rng)
    if at + max_time + policy.deadline_margin > deadline:
        return RetryDecision(
            kind, False, None, f"no retry fits before the deadline (margin {policy.deadline_margin:g} s)"
        )
    return RetryDecision(kind, True, at, f"infrastructure failure: retry {failures} after backoff")
