"""The maximum collateral age: the verifier and the policy refuse old collateral (injected clock).

Measure: ``uv run --frozen pytest -q tests/attestation/test_collateral_age.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.core.attestation import Evidence, EvidenceType, Policy, SgxDcapVerifier
from sealrun.core.attestation.collateral import dcap_collateral_times, raw_member
from sealrun.core.attestation.freshness import (
    DEFAULT_MAX_COLLATERAL_AGE,
    CacheFacts,
    cache_control_expiry,
    check_collateral_age,
    needs_refresh,
    parse_utc,
    usable,
)
from sealrun.errors import AttestationError

DAY = 24 * 3600
OLDEST = 1750327278  # the sgx sample's oldest part (QE identity issueDate)
NEXT_UPDATE = 1752919278  # its earliest nextUpdate
VERIFY_AT = 1751624924  # the vector's verify_at: 15 days after OLDEST


def _evidence(vectors_dir: Path) -> Evidence:
    return Evidence(
        type=EvidenceType.SGX_DCAP,
        payload=(vectors_dir / "sgx/dcap-qvl/sgx_quote").read_bytes(),
        collateral=(vectors_dir / "sgx/dcap-qvl/sgx_quote_collateral.json").read_bytes(),
    )


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(AttestationError) as caught:
        call()
    return caught.value.code


def test_the_default_is_seven_days() -> None:
    assert DEFAULT_MAX_COLLATERAL_AGE == 7 * DAY
    assert (
        Policy(allowed_tee_types=frozenset({"sgx-dcap"}), measurements=frozenset({b"a"})).max_collateral_age
        == 7 * DAY
    )


def test_the_verifier_with_a_max_age_refuses_older_collateral(vectors_dir: Path) -> None:
    verifier = SgxDcapVerifier(max_collateral_age=7 * DAY)
    claims = verifier.verify(_evidence(vectors_dir), now=OLDEST + 6 * DAY)
    assert claims.extra["collateral_issued_at"] == OLDEST
    assert claims.extra["collateral_age"] == 6 * DAY
    assert (
        _code(lambda: verifier.verify(_evidence(vectors_dir), now=OLDEST + 7 * DAY + 1))
        == "ATTEST_COLLATERAL_STALE"
    )
    # without a max age the verifier only reports the age (the vectors' verify_at is 15 days in)
    assert (
        SgxDcapVerifier().verify(_evidence(vectors_dir), now=VERIFY_AT).extra["collateral_age"]
        == VERIFY_AT - OLDEST
    )


def test_the_default_policy_refuses_collateral_older_than_seven_days(vectors_dir: Path) -> None:
    claims = SgxDcapVerifier().verify(_evidence(vectors_dir), now=VERIFY_AT)
    policy = Policy(
        allowed_tee_types=frozenset({EvidenceType.SGX_DCAP}),
        measurements=frozenset({claims.measurement}),
        accepted_tcb_statuses=frozenset({"ConfigurationAndSWHardeningNeeded"}),
    )
    assert _code(lambda: policy.appraise(claims)) == "ATTEST_COLLATERAL_STALE"
    fresh = SgxDcapVerifier().verify(_evidence(vectors_dir), now=OLDEST + DAY)
    assert "collateral_age" in policy.appraise(fresh).rules
    lenient = Policy.from_mapping(
        {"version": 1, "allowed_tee_types": ["sgx-dcap"], "measurements": [claims.measurement.hex()],
         "accepted_tcb_statuses": ["ConfigurationAndSWHardeningNeeded"], "max_collateral_age": 30 * DAY}
    )  # fmt: skip
    assert lenient.appraise(claims).claims is claims


@pytest.mark.parametrize("value", [-1, "7d", True, 1.5])
def test_a_bad_max_collateral_age_is_an_invalid_policy(value: object) -> None:
    document = {
        "version": 1,
        "allowed_tee_types": ["sgx-dcap"],
        "measurements": ["aa"],
        "max_collateral_age": value,
    }
    assert _code(lambda: Policy.from_mapping(document)) == "ATTEST_POLICY_INVALID"


def test_check_collateral_age_and_next_update() -> None:
    assert check_collateral_age(issued_at=100, next_update=None, now=150, max_age=60) == 50
    assert (
        _code(lambda: check_collateral_age(issued_at=100, next_update=None, now=161, max_age=60))
        == "ATTEST_COLLATERAL_STALE"
    )
    assert (
        _code(lambda: check_collateral_age(issued_at=100, next_update=120, now=120, max_age=60))
        == "ATTEST_COLLATERAL_STALE"
    )


def test_cache_control_and_the_refresh_decision() -> None:
    assert cache_control_expiry(None, 10) is None
    assert cache_control_expiry("public, max-age=3600", 10) == 3610
    assert cache_control_expiry("s-maxage=5", 10) == 15
    assert cache_control_expiry("no-cache", 10) == 10
    assert cache_control_expiry("private", 10) is None
    facts = CacheFacts(fetched_at=0, http_expires_at=100, issued_at=0, next_update=1000)
    assert not needs_refresh(facts, now=99, max_age=500)
    assert needs_refresh(facts, now=100, max_age=500)  # Cache-Control lifetime over
    assert needs_refresh(facts, now=50, max_age=40)  # older than the max age
    assert not usable(facts, now=1000, max_age=5000)  # past nextUpdate
    bare = CacheFacts(fetched_at=0)
    assert not needs_refresh(bare, now=DAY - 1, max_age=7 * DAY)
    assert needs_refresh(bare, now=DAY, max_age=7 * DAY)


def test_dates_and_raw_members_parse_strictly(vectors_dir: Path) -> None:
    assert dcap_collateral_times(_evidence(vectors_dir).collateral or b"") == (OLDEST, NEXT_UPDATE)
    assert parse_utc("2025-06-19T10:01:18Z", "d") == OLDEST
    for bad in ("2025-06-19", "2025-13-19T10:01:18Z", 5, "2025-06-19T10:01:18+01:00"):
        assert _code(lambda bad=bad: parse_utc(bad, "d")) == "ATTEST_COLLATERAL"
    assert raw_member('{ "a" : [1, 2] , "b":{"c" : 1}}', "b") == '{"c" : 1}'
    for bad in ("[]", '{"a": 1}', '{"b": ', "{"):
        assert _code(lambda bad=bad: raw_member(bad, "b")) == "ATTEST_COLLATERAL"
    for bad in (b"", b"{}", b'{"tcb_info": 1}', b"\xff"):
        assert _code(lambda bad=bad: dcap_collateral_times(bad)) == "ATTEST_COLLATERAL"
