"""The release decision, pure: every refusal code, every boundary, and the order of checks.

The facts are plain values (no database, no chain, no clock); the verifier and the policy
are the real simulated verifier and the SMS's chain-pinned policy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.core.attestation import (
    Claims,
    EvidenceType,
    SimulatedVerifier,
    SimulatorKey,
    make_simulated_evidence,
    report_data_for,
)
from sealrun.core.chainstate import (
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    TaskStatus,
    WorkerpoolRecord,
)
from sealrun.core.releases import (
    ORDER_FAILURES,
    Refusal,
    ReleaseFacts,
    ReleaseParams,
    ReleaseRequest,
    ReleaseVerdict,
    appraise_release,
    attempts_exhausted,
    liveness_refusal,
)
from sealrun.core.sealing import Identity
from sealrun.core.tasks import FailureCode, authorization_digest, sign_digest, task_id
from sealrun.errors import AttestationError, ReleaseError, SecretError
from sealrun.services.sms.appraisal import ChainPinnedPolicy, base_policy

T0 = 1_800_000_000
DEADLINE = T0 + 3600
SIMULATOR = SimulatorKey.generate()
ENCLAVE_KEY = Identity.generate()
POOL_OWNER = Account.from_key(hashlib.sha256(b"pool-owner").digest())
STRANGER = Account.from_key(hashlib.sha256(b"stranger").digest())
WORKER = Account.from_key(hashlib.sha256(b"worker").digest()).address
CHALLENGE = Account.from_key(hashlib.sha256(b"enclave").digest()).address
APP, DATASET, POOL = "0x" + "a1" * 20, "0x" + "d5" * 20, "0x" + "9f" * 20
REQUESTER = "0x" + "77" * 20
FINGERPRINT = hashlib.sha256(b"the app bundle").digest()
DEAL_ID = hashlib.sha256(b"deal").digest()
TASK = task_id(DEAL_ID, 0)
NONCE = b"\x05" * 32
PARAMS = {"iexec_args": "--fast", "iexec_input_files": ["https://x/y"], "iexec_secrets": {"2": "b", "1": "a"}}
VERIFIERS = {EvidenceType.SIMULATED: SimulatedVerifier(SIMULATOR.public_key)}
POLICY = ChainPinnedPolicy(
    base_policy(
        allowed_tee_types=frozenset({EvidenceType.SIMULATED}), accepted_tcb_statuses=frozenset({"UpToDate"})
    )
)


def _evidence(*, measurement: bytes = FINGERPRINT, nonce: bytes = NONCE, debug: bool = False) -> str:
    data = report_data_for(nonce, ENCLAVE_KEY.recipient.public_bytes, TASK)
    return make_simulated_evidence(
        SIMULATOR, measurement=measurement, report_data=data, debug=debug
    ).to_json()


def _authorization(signer: object = POOL_OWNER) -> bytes:
    return sign_digest(bytes(signer.key), authorization_digest(WORKER, TASK, CHALLENGE))  # type: ignore[attr-defined]


REQUEST = ReleaseRequest(
    task_id=TASK,
    nonce=NONCE,
    worker=WORKER,
    authorization=_authorization(),
    evidence=_evidence(),
    ephemeral_recipient=str(ENCLAVE_KEY.recipient),
)
DEAL = DealRecord(
    deal_id=DEAL_ID, app=APP, dataset=DATASET, workerpool=POOL, requester=REQUESTER, beneficiary=REQUESTER,
    tag=(1).to_bytes(32, "big"), params=json.dumps(PARAMS), category_time=600,
)  # fmt: skip
FACTS = ReleaseFacts(
    request=REQUEST,
    now=T0,
    task=TaskRecord(
        task_id=TASK, deal_id=DEAL_ID, index=0, status=TaskStatus.ACTIVE, final_deadline=DEADLINE
    ),
    deal=DEAL,
    app=AppRecord(address=APP, owner="0x" + "01" * 20, fingerprint=FINGERPRINT),
    workerpool=WorkerpoolRecord(address=POOL, owner=POOL_OWNER.address),
    dataset=DatasetRecord(
        address=DATASET, owner="0x" + "02" * 20, url="http://store/blob", checksum=b"\x07" * 32
    ),
    enclave_challenge=CHALLENGE,
    dataset_key_stored=True,
    requester_secrets_stored=frozenset({"a", "b"}),
    recipient_stored=True,
)


def _appraise(facts: ReleaseFacts) -> ReleaseVerdict | Refusal:
    return appraise_release(facts, verifiers=VERIFIERS, policy=POLICY)


def _refused(facts: ReleaseFacts) -> Refusal:
    answer = _appraise(facts)
    assert isinstance(answer, Refusal), answer
    return answer


def _failed(facts: ReleaseFacts) -> Refusal:
    answer = _appraise(facts)
    assert isinstance(answer, ReleaseVerdict), answer
    assert answer.failure is not None
    return answer.failure


def _request(**changes: object) -> Callable[[ReleaseFacts], ReleaseFacts]:
    return lambda facts: replace(facts, request=replace(facts.request, **changes))


def _deal(**changes: object) -> Callable[[ReleaseFacts], ReleaseFacts]:
    return lambda facts: replace(facts, deal=None if facts.deal is None else replace(facts.deal, **changes))


def _task(**changes: object) -> Callable[[ReleaseFacts], ReleaseFacts]:
    return lambda facts: replace(facts, task=None if facts.task is None else replace(facts.task, **changes))


def _facts(**changes: object) -> Callable[[ReleaseFacts], ReleaseFacts]:
    return lambda facts: replace(facts, **changes)


def test_genuine_authorized_and_complete_is_a_verdict_to_release_the_secrets() -> None:
    answer = _appraise(FACTS)
    assert isinstance(answer, ReleaseVerdict)
    assert answer.failure is None
    assert answer.enclave_challenge == CHALLENGE
    assert answer.recipient.public_bytes == ENCLAVE_KEY.recipient.public_bytes
    assert isinstance(answer.claims, Claims)
    assert answer.claims.measurement == FINGERPRINT
    assert answer.params == ReleaseParams(
        args="--fast", input_files=("https://x/y",), secrets={2: "b", 1: "a"}
    )


# -- step 1: liveness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (_facts(task=None), "RELEASE_TASK_UNKNOWN"),
        (_task(status=TaskStatus(0)), "RELEASE_TASK_UNKNOWN"),
        (_facts(deal=None), "RELEASE_DEAL_UNKNOWN"),
        (_deal(tag=b"\x00" * 32), "RELEASE_DEAL_NOT_TEE"),
        (_deal(tag=(2).to_bytes(32, "big")), "RELEASE_DEAL_NOT_TEE"),
        (_task(status=TaskStatus.COMPLETED), "RELEASE_TASK_FINALIZED"),
        (_task(status=TaskStatus.FAILED), "RELEASE_TASK_FINALIZED"),
        (_facts(now=DEADLINE), "RELEASE_TASK_PAST_DEADLINE"),
        (_facts(now=DEADLINE + 1), "RELEASE_TASK_PAST_DEADLINE"),
    ],
)
def test_a_task_that_may_not_run_is_refused(fault: Callable[[ReleaseFacts], ReleaseFacts], code: str) -> None:
    refusal = _refused(fault(FACTS))
    assert refusal.code == code
    assert refusal.claims is None
    assert isinstance(refusal.error(), ReleaseError)


def test_the_last_second_before_the_deadline_is_still_live() -> None:
    assert isinstance(_appraise(replace(FACTS, now=DEADLINE - 1)), ReleaseVerdict)
    assert liveness_refusal(FACTS.task, FACTS.deal, now=DEADLINE - 1) is None
    refusal = liveness_refusal(FACTS.task, FACTS.deal, now=DEADLINE)
    assert refusal is not None
    assert refusal.code == "RELEASE_TASK_PAST_DEADLINE"


# -- steps 2 to 4: attestation -----------------------------------------------------------------


def test_an_evidence_type_without_a_verifier_is_refused_by_type() -> None:
    refusal = appraise_release(FACTS, verifiers={}, policy=POLICY)
    assert (refusal.code, refusal.claims) == ("ATTEST_POLICY_TEE_TYPE", None)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fault", "code", "verified"),
    [
        (_request(evidence="{not json"), "ATTEST_MALFORMED", False),
        (_request(ephemeral_recipient="age1notarecipient"), "ATTEST_REPORT_DATA_MISMATCH", True),
        (
            _request(ephemeral_recipient=str(Identity.generate().recipient)),
            "ATTEST_REPORT_DATA_MISMATCH",
            True,
        ),
        (_request(nonce=b"\x06" * 32), "ATTEST_REPORT_DATA_MISMATCH", True),
        (_request(evidence=_evidence(nonce=b"\x06" * 32)), "ATTEST_REPORT_DATA_MISMATCH", True),
        (_request(evidence=_evidence(debug=True)), "ATTEST_DEBUG", False),
        (_request(evidence=_evidence(measurement=b"\x01" * 32)), "ATTEST_POLICY_MEASUREMENT", True),
    ],
)
def test_evidence_that_does_not_attest_this_enclave_is_refused(
    fault: Callable[[ReleaseFacts], ReleaseFacts], code: str, verified: bool
) -> None:
    refusal = _refused(fault(FACTS))
    assert refusal.code == code
    assert (refusal.claims is not None) is verified
    assert isinstance(refusal.error(), AttestationError)


def test_an_unregistered_app_is_refused_after_the_evidence_verified() -> None:
    refusal = _refused(replace(FACTS, app=None))
    assert refusal.code == "RELEASE_APP_UNKNOWN"
    assert refusal.claims is not None


def test_the_measurement_is_checked_whatever_the_policy_says() -> None:
    class AcceptsAnything:
        def appraise(self, claims: Claims, *, measurement: bytes) -> Claims:
            return claims

    facts = replace(FACTS, request=replace(REQUEST, evidence=_evidence(measurement=b"\x01" * 32)))
    refusal = appraise_release(facts, verifiers=VERIFIERS, policy=AcceptsAnything())
    assert isinstance(refusal, Refusal)
    assert refusal.code == "ATTEST_POLICY_MEASUREMENT"


# -- steps 6 to 8: the challenge, the authorization, the dataset order ---------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (_facts(enclave_challenge=None), "RELEASE_NO_ENCLAVE_CHALLENGE"),
        (_facts(workerpool=None), "RELEASE_WORKERPOOL_UNKNOWN"),
        (_request(authorization=b"\x00" * 65), "RELEASE_WORKER_UNAUTHORIZED"),
        (_request(authorization=b"short"), "RELEASE_WORKER_UNAUTHORIZED"),
        (_request(authorization=_authorization(STRANGER)), "RELEASE_WORKER_UNAUTHORIZED"),
        (_request(worker=STRANGER.address), "RELEASE_WORKER_UNAUTHORIZED"),
        (_facts(enclave_challenge=STRANGER.address), "RELEASE_WORKER_UNAUTHORIZED"),
        (_deal(dataset_restrict_app="0x" + "ee" * 20), "RELEASE_DATASET_APP_NOT_ALLOWED"),
        (_deal(dataset_restrict_requester="0x" + "ee" * 20), "RELEASE_DATASET_REQUESTER_NOT_ALLOWED"),
        (_deal(dataset_restrict_workerpool="0x" + "ee" * 20), "RELEASE_DATASET_WORKERPOOL_NOT_ALLOWED"),
    ],
)
def test_an_unauthorized_release_is_refused(fault: Callable[[ReleaseFacts], ReleaseFacts], code: str) -> None:
    refusal = _refused(fault(FACTS))
    assert refusal.code == code
    assert refusal.claims is not None
    assert not refusal.is_order_failure


def test_a_restriction_naming_the_actual_party_in_any_case_allows_it() -> None:
    deal = replace(
        DEAL, dataset_restrict_app=APP.upper().replace("0X", "0x"), dataset_restrict_requester=REQUESTER,
        dataset_restrict_workerpool=POOL,
    )  # fmt: skip
    assert isinstance(_appraise(replace(FACTS, deal=deal)), ReleaseVerdict)


def test_a_deal_without_a_dataset_needs_no_dataset_key_and_ignores_restrictions() -> None:
    deal = replace(DEAL, dataset="0x" + "00" * 20, dataset_restrict_app="0x" + "ee" * 20)
    answer = _appraise(replace(FACTS, deal=deal, dataset=None, dataset_key_stored=False))
    assert isinstance(answer, ReleaseVerdict)
    assert answer.failure is None


# -- step 5 and 9: order failures (a failure bundle, not a refusal) ----------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (_deal(params="{"), "RELEASE_PARAMS_INVALID"),
        (_deal(params=json.dumps({"iexec_secrets": {"²": "a"}})), "RELEASE_PARAMS_INVALID"),
        (_deal(params=json.dumps({"iexec_secrets": {"0": "a"}})), "RELEASE_PARAMS_INVALID"),
        (_deal(params=json.dumps({"iexec_secrets": {"1001": "a"}})), "RELEASE_PARAMS_INVALID"),
        (_deal(params=json.dumps({"iexec_secrets": {"1": "x" * 65}})), "RELEASE_PARAMS_INVALID"),
        (_facts(dataset=None), "RELEASE_DATASET_KEY_MISSING"),
        (_facts(dataset_key_stored=False), "RELEASE_DATASET_KEY_MISSING"),
        (_facts(requester_secrets_stored=frozenset({"a"})), "RELEASE_REQUESTER_SECRET_MISSING"),
        (_facts(recipient_stored=False), "RELEASE_RECIPIENT_MISSING"),
    ],
)
def test_a_wrong_order_is_a_verdict_with_a_failure(
    fault: Callable[[ReleaseFacts], ReleaseFacts], code: str
) -> None:
    failure = _failed(fault(FACTS))
    assert failure.code == code
    assert failure.is_order_failure
    assert isinstance(failure.error(), ReleaseError)


def test_the_boundaries_of_the_params_are_accepted() -> None:
    names = {str(index): f"s{index}" for index in (1, 1000)}
    deal = replace(DEAL, params=json.dumps({"iexec_secrets": names | {"7": "x" * 64}}))
    answer = _appraise(
        replace(FACTS, deal=deal, requester_secrets_stored=frozenset({"s1", "s1000", "x" * 64}))
    )
    assert isinstance(answer, ReleaseVerdict)
    assert answer.failure is None
    assert set(answer.params.secrets) == {1, 7, 1000}


def test_empty_params_ask_for_nothing() -> None:
    answer = _appraise(replace(FACTS, deal=replace(DEAL, params=""), requester_secrets_stored=frozenset()))
    assert isinstance(answer, ReleaseVerdict)
    assert answer.params == ReleaseParams()
    assert answer.failure is None


def test_the_first_missing_requester_secret_is_named_in_the_params_order() -> None:
    failure = _failed(replace(FACTS, requester_secrets_stored=frozenset()))
    assert "'b'" in failure.message


def test_unreadable_params_fail_even_when_secrets_are_missing() -> None:
    fault = replace(FACTS, deal=replace(DEAL, params="["), recipient_stored=False, dataset_key_stored=False)
    answer = _appraise(fault)
    assert isinstance(answer, ReleaseVerdict)
    assert answer.params == ReleaseParams()
    assert answer.failure is not None
    assert answer.failure.code == "RELEASE_PARAMS_INVALID"


def test_the_attempts_cap_is_an_order_failure() -> None:
    refusal = attempts_exhausted(3)
    assert refusal.code == "RELEASE_ATTEMPTS_EXHAUSTED"
    assert refusal.is_order_failure
    assert "3 times" in refusal.message


def test_every_order_failure_is_a_release_code_with_a_failure_code() -> None:
    assert all(code.startswith("RELEASE_") for code in ORDER_FAILURES)
    assert set(ORDER_FAILURES.values()) <= set(FailureCode)
    assert isinstance(Refusal("RELEASE_X", "m").error(), SecretError)  # old except clauses hold


# -- the order of checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    apply: Callable[[ReleaseFacts], ReleaseFacts]
    code: str


#: One fault per check, in the documented order of the checks.
FAULTS = (
    Fault("task unknown", _facts(task=None), "RELEASE_TASK_UNKNOWN"),
    Fault("deal unknown", _facts(deal=None), "RELEASE_DEAL_UNKNOWN"),
    Fault("not tee", _deal(tag=b"\x00" * 32), "RELEASE_DEAL_NOT_TEE"),
    Fault("finalized", _task(status=TaskStatus.COMPLETED), "RELEASE_TASK_FINALIZED"),
    Fault("past deadline", _facts(now=DEADLINE), "RELEASE_TASK_PAST_DEADLINE"),
    Fault("malformed evidence", _request(evidence="[]"), "ATTEST_MALFORMED"),
    Fault("report data", _request(nonce=b"\x06" * 32), "ATTEST_REPORT_DATA_MISMATCH"),
    Fault("app unknown", _facts(app=None), "RELEASE_APP_UNKNOWN"),
    Fault("no challenge", _facts(enclave_challenge=None), "RELEASE_NO_ENCLAVE_CHALLENGE"),
    Fault("pool unknown", _facts(workerpool=None), "RELEASE_WORKERPOOL_UNKNOWN"),
    Fault("unauthorized", _request(authorization=_authorization(STRANGER)), "RELEASE_WORKER_UNAUTHORIZED"),
    Fault("app restricted", _deal(dataset_restrict_app="0x" + "ee" * 20), "RELEASE_DATASET_APP_NOT_ALLOWED"),
    Fault("params", _deal(params="{"), "RELEASE_PARAMS_INVALID"),
    Fault("dataset key", _facts(dataset_key_stored=False), "RELEASE_DATASET_KEY_MISSING"),
    Fault("secret", _facts(requester_secrets_stored=frozenset()), "RELEASE_REQUESTER_SECRET_MISSING"),
    Fault("recipient", _facts(recipient_stored=False), "RELEASE_RECIPIENT_MISSING"),
)


@settings(max_examples=150, deadline=None)
@given(st.sets(st.integers(0, len(FAULTS) - 1), min_size=1))
def test_the_first_failed_check_in_the_documented_order_decides(chosen: set[int]) -> None:
    facts = FACTS
    for index in sorted(chosen, reverse=True):
        facts = FAULTS[index].apply(facts)
    first = FAULTS[min(chosen)]
    answer = _appraise(facts)
    if first.code in ORDER_FAILURES:
        assert isinstance(answer, ReleaseVerdict), first.name
        assert answer.failure is not None
        assert answer.failure.code == first.code, first.name
    else:
        assert isinstance(answer, Refusal), first.name
        assert answer.code == first.code, first.name
