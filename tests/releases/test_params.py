"""A deal's params as the release reads them (`core/releases/params.py`), and the decision's
records being values: every malformed params is ``RELEASE_PARAMS_INVALID``, the bounds sit
exactly where the docs say, and nothing the decision returns can be changed after the fact.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from sealrun.core.releases import Refusal, ReleaseFacts, ReleaseVerdict, parse_release_params
from sealrun.core.releases.params import MAX_REQUESTER_SECRETS, MAX_SECRET_NAME, ReleaseParams
from sealrun.errors import ReleaseError
from tests.releases.test_appraisal import FACTS, REQUEST, _appraise


def _code(text: str) -> str:
    with pytest.raises(ReleaseError) as caught:
        parse_release_params(text)
    return caught.value.code


def test_empty_params_ask_for_nothing() -> None:
    assert parse_release_params("") == ReleaseParams(args="", input_files=(), secrets={})


def test_well_formed_params_are_read_whole() -> None:
    text = json.dumps(
        {
            "iexec_args": "--width 3",
            "iexec_input_files": ["https://a/x", "https://b/y"],
            "iexec_secrets": {"1": "k"},
        }
    )
    assert parse_release_params(text) == ReleaseParams(
        args="--width 3", input_files=("https://a/x", "https://b/y"), secrets={1: "k"}
    )


@pytest.mark.parametrize(
    "params",
    [
        "not json",
        json.dumps(["iexec_args"]),
        json.dumps("text"),
        json.dumps({"iexec_args": 7}),
        json.dumps({"iexec_input_files": "https://a/x"}),
        json.dumps({"iexec_input_files": ["https://a/x", 3]}),
        json.dumps({"iexec_secrets": ["k"]}),
        json.dumps({"iexec_secrets": {"0": "k"}}),
        json.dumps({"iexec_secrets": {"1001": "k"}}),
        json.dumps({"iexec_secrets": {"²": "k"}}),
        json.dumps({"iexec_secrets": {"1": 5}}),
        json.dumps({"iexec_secrets": {"1": ""}}),
        json.dumps({"iexec_secrets": {"1": "n" * (MAX_SECRET_NAME + 1)}}),
        json.dumps({"iexec_secrets": {str(i): f"s{i}" for i in range(1, MAX_REQUESTER_SECRETS + 2)}}),
    ],
    ids=[
        "not-json", "a-list", "a-string", "args-not-text", "files-not-a-list", "a-file-not-text",
        "secrets-not-a-map", "index-0", "index-1001", "index-not-ascii", "name-not-text", "name-empty",
        "name-too-long", "too-many-secrets",
    ],
)  # fmt: skip
def test_malformed_params_are_refused_with_one_code(params: str) -> None:
    assert _code(params) == "RELEASE_PARAMS_INVALID"


def test_the_bounds_themselves_are_accepted() -> None:
    assert MAX_REQUESTER_SECRETS == 32
    assert MAX_SECRET_NAME == 64
    most = {str(i): f"s{i}" for i in range(1, MAX_REQUESTER_SECRETS + 1)}
    assert len(parse_release_params(json.dumps({"iexec_secrets": most})).secrets) == MAX_REQUESTER_SECRETS
    longest = {"1000": "n" * MAX_SECRET_NAME}
    assert parse_release_params(json.dumps({"iexec_secrets": longest})).secrets == {
        1000: "n" * MAX_SECRET_NAME
    }


def _code_of(facts: ReleaseFacts) -> str:
    answer = _appraise(facts)
    if isinstance(answer, Refusal):
        return answer.code
    assert answer.failure is not None, "released"
    return answer.failure.code


def test_facts_default_to_nothing_stored() -> None:
    # A caller that forgets a stored-fact gets a refusal, never a release.
    bare = dataclasses.replace(
        FACTS, dataset_key_stored=False, requester_secrets_stored=frozenset(), recipient_stored=False
    )
    defaults = ReleaseFacts(
        request=FACTS.request, now=FACTS.now, task=FACTS.task, deal=FACTS.deal, app=FACTS.app,
        workerpool=FACTS.workerpool, dataset=FACTS.dataset, enclave_challenge=FACTS.enclave_challenge,
    )  # fmt: skip
    assert defaults == bare
    assert _code_of(defaults) == "RELEASE_DATASET_KEY_MISSING"
    keyed = dataclasses.replace(FACTS, recipient_stored=False)
    assert _code_of(keyed) == "RELEASE_RECIPIENT_MISSING"


def test_what_the_decision_reads_and_returns_cannot_be_changed() -> None:
    verdict = _appraise(FACTS)
    assert isinstance(verdict, ReleaseVerdict)
    refusal = Refusal(code="RELEASE_NO_ENCLAVE_CHALLENGE", message="no challenge")
    for value, attribute in (
        (REQUEST, "worker"),
        (FACTS, "now"),
        (verdict, "failure"),
        (refusal, "code"),
        (parse_release_params(""), "args"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, attribute, None)
