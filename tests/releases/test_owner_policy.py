"""The dataset owner's release policy, pure (decision 0090): the parser (with hypothesis),
its canonical form and digest, every rule with real claims, their order, and the release
decision's order refusal.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.attestation import Claims, Evidence, EvidenceType, SgxDcapVerifier
from sealrun.core.releases import (
    ORDER_FAILURES,
    OwnerPolicy,
    ReleaseVerdict,
    appraise_release,
    canonical_policy,
    owner_policy_refusal,
    parse_owner_policy,
)
from sealrun.core.releases.ownerpolicy import MAX_POLICY_BYTES
from sealrun.core.tasks import FailureCode
from sealrun.errors import SecretError
from tests.releases.test_appraisal import FACTS, POLICY, POOL, VERIFIERS
from tests.releases.test_sessions import in_session

DAY = 86_400
OLDEST = 1750327278  # the sgx vector's oldest collateral part (tests/attestation/test_collateral_age.py)
POOL_B = "0x" + "ab" * 20


def _invalid(document: Any) -> str:
    with pytest.raises(SecretError) as caught:
        parse_owner_policy(document)
    return caught.value.code


def _simulated_claims(**evidence: Any) -> Claims:
    from sealrun.core.attestation import make_simulated_evidence
    from tests.releases.test_appraisal import FINGERPRINT, SIMULATOR

    made = make_simulated_evidence(SIMULATOR, measurement=FINGERPRINT, report_data=b"\x00" * 64, **evidence)
    return VERIFIERS[EvidenceType.SIMULATED].verify(made, now=0)


@pytest.fixture(scope="module")
def dcap_claims(vectors_dir: Path) -> Claims:
    """Real SGX DCAP claims (dated collateral: issued at OLDEST), verified 3 days after it."""
    evidence = Evidence(
        type=EvidenceType.SGX_DCAP,
        payload=(vectors_dir / "sgx/dcap-qvl/sgx_quote").read_bytes(),
        collateral=(vectors_dir / "sgx/dcap-qvl/sgx_quote_collateral.json").read_bytes(),
    )
    return SgxDcapVerifier(max_collateral_age=30 * DAY).verify(evidence, now=OLDEST + 3 * DAY)


def _check(
    policy: dict[str, Any], claims: Claims, *, pool: str = POOL, isolation: str = "strict", now: int = 0
) -> str | None:
    broken = owner_policy_refusal(
        parse_owner_policy({"version": 1, **policy}), claims, workerpool=pool, isolation=isolation, now=now
    )
    return None if broken is None else broken.code


# -- the parser ------------------------------------------------------------------------------


def test_an_empty_policy_has_no_rule_and_a_stable_digest() -> None:
    policy = parse_owner_policy('{"version": 1}')
    assert policy == OwnerPolicy()
    assert canonical_policy(policy) == (
        '{"isolation":"any","max_collateral_age":null,"min_tcb":null,"tee_types":null,"version":1,"workerpools":null}'
    )
    assert policy.digest.startswith("0x")
    assert len(policy.digest) == 66


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        "{}",
        '{"version": 2}',
        '{"version": true}',
        '{"version": 1.0}',
        '{"version": 1, "extra": 1}',
        '{"version": 1, "tee_types": []}',
        '{"version": 1, "tee_types": ["sgx"]}',
        '{"version": 1, "tee_types": ["sgx-dcap", "sgx-dcap"]}',
        '{"version": 1, "tee_types": "sgx-dcap"}',
        '{"version": 1, "min_tcb": "OutOfDate"}',
        '{"version": 1, "min_tcb": 1}',
        '{"version": 1, "max_collateral_age": 0}',
        '{"version": 1, "max_collateral_age": -5}',
        '{"version": 1, "max_collateral_age": true}',
        '{"version": 1, "max_collateral_age": 4294967296}',
        '{"version": 1, "max_collateral_age": 7.5}',
        '{"version": 1, "isolation": "session"}',
        '{"version": 1, "isolation": null}',
        '{"version": 1, "workerpools": ["0x1234"]}',
        '{"version": 1, "workerpools": ["0x' + "ab" * 20 + '", "0x' + "AB" * 20 + '"]}',
        '{"version": 1, "workerpools": [' + ",".join(['"0x' + f"{i:040x}" + '"' for i in range(101)]) + "]}",
        "[" * 100_000,
        '{"version": 1, "min_tcb": "' + "x" * MAX_POLICY_BYTES + '"}',
    ],
)
def test_a_bad_document_is_refused_with_one_code(document: str) -> None:
    assert _invalid(document) == "SECRET_POLICY_INVALID"


def test_the_canonical_form_sorts_and_lowercases() -> None:
    left = parse_owner_policy(
        {
            "version": 1,
            "tee_types": ["tdx-dcap", "sgx-dcap"],
            "workerpools": [POOL_B.upper().replace("0X", "0x"), POOL],
        }
    )
    right = parse_owner_policy(
        {"version": 1, "workerpools": [POOL, POOL_B], "tee_types": ["sgx-dcap", "tdx-dcap"]}
    )
    assert left == right
    assert left.digest == right.digest
    document = json.loads(canonical_policy(left))
    assert document["tee_types"] == ["sgx-dcap", "tdx-dcap"]
    assert document["workerpools"] == sorted([POOL.lower(), POOL_B])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {"version": st.just(1)},
    optional={
        "tee_types": st.lists(st.sampled_from([t.value for t in EvidenceType]), min_size=1, unique=True),
        "min_tcb": st.sampled_from(["UpToDate", "SWHardeningNeeded"]),
        "max_collateral_age": st.integers(1, 2**32 - 1),
        "isolation": st.sampled_from(["any", "strict"]),
        "workerpools": st.lists(
            st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex()),
            min_size=1,
            max_size=5,
            unique=True,
        ),
    },
)


@given(
    st.one_of(
        JSON,
        st.dictionaries(
            st.sampled_from(
                ["version", "tee_types", "min_tcb", "isolation", "workerpools", "max_collateral_age"]
            ),
            JSON,
        ),
    )
)
def test_any_json_parses_or_is_refused_with_the_policy_code(document: Any) -> None:
    for form in (document, json.dumps(document)):
        outcome = _outcome(form)
        if isinstance(outcome, OwnerPolicy):
            assert parse_owner_policy(canonical_policy(outcome)) == outcome
        else:
            assert outcome == "SECRET_POLICY_INVALID"


def _outcome(document: Any) -> OwnerPolicy | str:
    try:
        return parse_owner_policy(document)
    except SecretError as error:
        return error.code


@given(FIELDS)
def test_a_valid_document_round_trips_through_its_canonical_form(document: dict[str, Any]) -> None:
    policy = parse_owner_policy(json.dumps(document))
    again = parse_owner_policy(canonical_policy(policy))
    assert again == policy
    assert again.digest == policy.digest
    assert canonical_policy(again) == canonical_policy(policy)


# -- the rules -------------------------------------------------------------------------------


def test_tee_types(dcap_claims: Claims) -> None:
    assert _check({"tee_types": ["sgx-dcap"]}, dcap_claims, now=OLDEST) is None
    assert (
        _check({"tee_types": ["tdx-dcap", "simulated"]}, dcap_claims, now=OLDEST) == "RELEASE_POLICY_TEE_TYPE"
    )


def test_minimum_tcb_status() -> None:
    up, hardening, old = (
        _simulated_claims(tcb_status=s) for s in ("UpToDate", "SWHardeningNeeded", "OutOfDate")
    )
    assert _check({"min_tcb": "UpToDate"}, up) is None
    assert _check({"min_tcb": "UpToDate"}, hardening) == "RELEASE_POLICY_TCB_STATUS"
    assert _check({"min_tcb": "SWHardeningNeeded"}, hardening) is None
    assert _check({"min_tcb": "SWHardeningNeeded"}, old) == "RELEASE_POLICY_TCB_STATUS"


def test_maximum_collateral_age_with_real_dcap_claims(dcap_claims: Claims) -> None:
    assert dcap_claims.extra["collateral_issued_at"] == OLDEST
    week = {"max_collateral_age": 7 * DAY}
    assert _check(week, dcap_claims, now=OLDEST + 7 * DAY) is None  # the boundary is allowed
    assert _check(week, dcap_claims, now=OLDEST + 7 * DAY + 1) == "RELEASE_POLICY_COLLATERAL_AGE"
    # Evidence without dated collateral cannot show its age: refused (deny by default).
    assert _check(week, _simulated_claims(), now=OLDEST) == "RELEASE_POLICY_COLLATERAL_AGE"


def test_isolation_mode() -> None:
    claims = _simulated_claims()
    assert _check({"isolation": "strict"}, claims, isolation="strict") is None
    assert _check({"isolation": "strict"}, claims, isolation="session") == "RELEASE_POLICY_ISOLATION"
    assert _check({"isolation": "any"}, claims, isolation="session") is None


def test_workerpools() -> None:
    claims = _simulated_claims()
    assert _check({"workerpools": [POOL.upper().replace("0X", "0x")]}, claims, pool=POOL) is None
    assert _check({"workerpools": [POOL_B]}, claims, pool=POOL) == "RELEASE_POLICY_WORKERPOOL"


def test_the_rules_are_checked_in_their_documented_order(dcap_claims: Claims) -> None:
    everything = {
        "tee_types": ["nitro"], "min_tcb": "UpToDate", "max_collateral_age": 1, "isolation": "strict",
        "workerpools": [POOL_B],
    }  # fmt: skip
    order = ["tee_types", "min_tcb", "max_collateral_age", "isolation", "workerpools"]
    codes = []
    claims = _simulated_claims(tcb_status="OutOfDate")
    for index in range(len(order)):
        policy = {key: everything[key] for key in order[index:]}
        codes.append(_check(policy, claims, isolation="session", pool=POOL))
    assert codes == [
        "RELEASE_POLICY_TEE_TYPE",
        "RELEASE_POLICY_TCB_STATUS",
        "RELEASE_POLICY_COLLATERAL_AGE",
        "RELEASE_POLICY_ISOLATION",
        "RELEASE_POLICY_WORKERPOOL",
    ]


# -- in the release decision -------------------------------------------------------------------


def test_the_decision_turns_a_broken_owner_rule_into_an_order_failure() -> None:
    policy = parse_owner_policy({"version": 1, "isolation": "strict"})
    # A session release carries its attested session (decision 0080).
    for facts, expected in ((FACTS, None), (in_session(), "RELEASE_POLICY_ISOLATION")):
        answer = appraise_release(replace(facts, policy=policy), verifiers=VERIFIERS, policy=POLICY)
        assert isinstance(answer, ReleaseVerdict)
        assert (None if answer.failure is None else answer.failure.code) == expected
    assert ORDER_FAILURES["RELEASE_POLICY_ISOLATION"] is FailureCode.OWNER_POLICY_REFUSED
    refused = FailureCode.OWNER_POLICY_REFUSED
    assert {code for code, failure in ORDER_FAILURES.items() if failure is refused} == {
        "RELEASE_POLICY_TEE_TYPE", "RELEASE_POLICY_TCB_STATUS", "RELEASE_POLICY_COLLATERAL_AGE",
        "RELEASE_POLICY_ISOLATION", "RELEASE_POLICY_WORKERPOOL",
    }  # fmt: skip


def test_a_deal_without_dataset_ignores_an_owner_policy() -> None:
    policy = parse_owner_policy({"version": 1, "workerpools": [POOL_B]})
    assert FACTS.deal is not None
    deal = replace(FACTS.deal, dataset="0x" + "00" * 20)
    facts = replace(FACTS, policy=policy, deal=deal, dataset=None)
    answer = appraise_release(facts, verifiers=VERIFIERS, policy=POLICY)
    assert isinstance(answer, ReleaseVerdict)
    assert answer.failure is None
