"""Self-healing tasks, the pure part: the failure classes, the backoff and the retry decision."""

from __future__ import annotations

import itertools
import random

import pytest

from sealrun.core.tasks import (
    FAILURE_CLASSES,
    FailureClass,
    FailureCode,
    RetryPolicy,
    backoff_delay,
    classify_failure,
    decide_retry,
    underlying_code,
)
from sealrun.errors import ConfigError

INFRA, APP = FailureClass.INFRASTRUCTURE, FailureClass.APP


def test_every_receipt_code_has_a_class() -> None:
    assert {code.name for code in FailureCode} <= set(FAILURE_CLASSES)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        # the infrastructure: store, SMS, chain, market unreachable, 5xx, timeouts, the worker, the host
        ("INPUT_UNAVAILABLE", INFRA),
        ("RESULT_UPLOAD_FAILED", INFRA),
        ("SANDBOX_FAILED", INFRA),
        ("SMS_UNREACHABLE", INFRA),
        ("STORAGE_UNREACHABLE", INFRA),
        ("CHAIN_UNREACHABLE", INFRA),
        ("MARKET_UNREACHABLE", INFRA),
        ("SERVICE_ERROR", INFRA),
        ("ENCLAVE_CRASHED", INFRA),
        ("WORKER_LOST", INFRA),
        ("WORKER_ABANDONED", INFRA),
        ("GRANT_FAILED", INFRA),
        ("ASSIGNMENT_LOST", INFRA),
        ("WORKER_RESTARTED", INFRA),
        ("WORKER_HELD_TOO_LONG", INFRA),
        ("WORKER_INTERNAL", INFRA),
        # the app or its inputs
        ("APP_EXIT_NONZERO", APP),
        ("APP_TIMEOUT", APP),
        ("INPUT_CHECKSUM_MISMATCH", APP),
        ("INPUT_FETCH_FAILED", APP),
        ("INPUT_URL_REFUSED", APP),
        ("SECRET_MISSING", APP),
        ("ATTEMPTS_EXHAUSTED", APP),
        ("ENCLAVE_INTERNAL", APP),
        ("ATTEST_POLICY_MRENCLAVE", APP),  # attestation refused
        ("RELEASE_NOT_AUTHORIZED", APP),  # release refused
        ("NO_SUCH_CODE_EVER", APP),  # unknown: never retried by accident
        ("", APP),
    ],
)
def test_classification(code: str, kind: FailureClass) -> None:
    assert classify_failure(code) is kind


def test_the_enclaves_own_error_line_names_the_cause() -> None:
    message = "the enclave exited 1 without a report: error [SMS_UNREACHABLE]: the SMS at http://x is down"
    assert underlying_code("ENCLAVE_CRASHED", message) == "SMS_UNREACHABLE"
    two = "error [STORAGE_UNREACHABLE]: a\nerror [ATTEST_POLICY_TCB]: b"
    assert underlying_code("ENCLAVE_CRASHED", two) == "ATTEST_POLICY_TCB"  # the last line wins
    assert underlying_code("ENCLAVE_CRASHED", "killed by signal 9") == "ENCLAVE_CRASHED"
    assert underlying_code("ENCLAVE_CRASHED", "error [lower]: no") == "ENCLAVE_CRASHED"
    # only a crashed enclave's message is read: any other code is already the cause
    assert underlying_code("BUNDLE_UNAVAILABLE", "error [SMS_UNREACHABLE]") == "BUNDLE_UNAVAILABLE"


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, deadline_margin=0)
    rng = random.Random(7)
    for failures in range(1, 12):
        window = min(30.0, 2.0 ** (failures - 1))
        draws = [backoff_delay(failures, policy, rng) for _ in range(200)]
        assert all(0.0 <= d <= window for d in draws)
        assert max(draws) > window * 0.8  # the whole window is used (full jitter)
    assert backoff_delay(0, policy, rng) <= 1.0  # below 1 counts as 1
    assert backoff_delay(10**9, policy, rng) <= 30.0  # no overflow


def test_backoff_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    first = [backoff_delay(n, policy, random.Random(42)) for n in range(1, 8)]
    again = [backoff_delay(n, policy, random.Random(42)) for n in range(1, 8)]
    assert first == again


def test_the_windows_grow() -> None:
    # The mean of the draws doubles with each failure until the cap: no hammering.
    policy = RetryPolicy(base_delay=1.0, max_delay=64.0)
    rng = random.Random(1)
    means = [sum(backoff_delay(n, policy, rng) for _ in range(400)) / 400 for n in range(1, 8)]
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(means))


def test_decide_retries_infrastructure_until_the_margin() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, deadline_margin=100.0)
    rng = random.Random(3)
    decision = decide_retry(
        "STORAGE_UNREACHABLE", failures=1, now=1000.0, deadline=2000.0, max_time=300.0, policy=policy, rng=rng
    )
    assert decision.retry
    assert decision.failure_class is INFRA
    assert decision.not_before is not None
    assert 1000.0 <= decision.not_before <= 1001.0
    # now + backoff + max_time + margin past the deadline: no retry, the receipt stands
    late = decide_retry(
        "STORAGE_UNREACHABLE", failures=1, now=1600.0, deadline=2000.0, max_time=300.0, policy=policy, rng=rng
    )
    assert not late.retry
    assert late.not_before is None
    assert "deadline" in late.reason
    # just inside the limit still fits
    edge = decide_retry(
        "SMS_UNREACHABLE", failures=1, now=1599.5, deadline=2000.0, max_time=300.0,
        policy=RetryPolicy(base_delay=1e-9, max_delay=1e-9, deadline_margin=100.0), rng=rng,
    )  # fmt: skip
    assert edge.retry


def test_decide_never_retries_the_app() -> None:
    decision = decide_retry(
        "APP_EXIT_NONZERO", failures=1, now=0.0, deadline=10**9, max_time=1.0,
        policy=RetryPolicy(), rng=random.Random(0),
    )  # fmt: skip
    assert not decision.retry
    assert decision.failure_class is APP


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_delay": 0.0},
        {"base_delay": -1.0},
        {"base_delay": 10.0, "max_delay": 5.0},
        {"deadline_margin": -1.0},
        {"max_delay": float("inf")},
        {"base_delay": float("nan")},
    ],
)
def test_a_bad_policy_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError) as caught:
        RetryPolicy(**kwargs)
    assert caught.value.code == "CONFIG_RETRY_INVALID"
