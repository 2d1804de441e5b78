"""Poison orders end at once: a genuine enclave gets a failure bundle, never a retry loop.

When evidence, policy, task and authorization pass but the order is unusable (params the
SMS cannot read, a secret or the recipient never pushed) or the task's secrets were already
released ``max_releases`` times, the SMS seals a failure bundle to the enclave: the enclave
key, a failure code, no secret. Each outcome is audited as ``failure``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from sealrun.core.releases import parse_release_params
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.core.tasks.secretsbundle import TaskParams
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.settings import SmsSettings
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import World

BAD_INDEXES = ["²", "١", "0", "-1", " 1", "1.0", "1001", "9" * 30, ""]


def _released(sms: SmsUseCases, world: World, **evidence: object) -> SecretsBundle:
    identity = Identity.generate()
    enclave = world.challenge(sms)
    released = sms.release(world.release_request(sms, enclave, identity, **evidence))
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert Account.from_key(bundle.enclave_key).address == enclave
    return bundle


def _assert_failure_bundle(bundle: SecretsBundle, world: World, code: FailureCode) -> None:
    assert bundle.failure is not None
    assert bundle.failure.code is code
    assert bundle.task_id == "0x" + world.task.hex()
    assert bundle.worker == world.worker.address
    # No secret at all: not the dataset key, not the requester's, not the developer's.
    assert bundle.dataset is None
    assert bundle.app_developer_secret is None
    assert bundle.requester_secrets == {}
    assert bundle.params == TaskParams()


def _audited(sms: SmsUseCases, code: str) -> None:
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("failure", code)
    assert verify_audit_chain(sms.repository.audit_records()) == head.entry_hash


@pytest.mark.parametrize("index", BAD_INDEXES)
def test_a_bad_secret_index_is_params_invalid_not_a_crash(index: str) -> None:
    with pytest.raises(SealrunError) as caught:
        parse_release_params(json.dumps({"iexec_secrets": {index: "api"}}))
    assert caught.value.code == "RELEASE_PARAMS_INVALID"


def test_params_that_do_not_parse_get_a_failure_bundle(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"²": "api"}}))
    bundle = _released(sms, world)
    _assert_failure_bundle(bundle, world, FailureCode.TASK_PARAMS_INVALID)
    assert bundle.beneficiary_recipient == str(world.result_key.recipient)
    _audited(sms, "RELEASE_PARAMS_INVALID")


def test_a_missing_requester_secret_gets_a_failure_bundle(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"1": "never-pushed"}}))
    bundle = _released(sms, world)
    _assert_failure_bundle(bundle, world, FailureCode.SECRET_MISSING)
    assert bundle.failure is not None
    assert "never-pushed" in bundle.failure.reason
    _audited(sms, "RELEASE_REQUESTER_SECRET_MISSING")


def test_a_missing_dataset_key_gets_a_failure_bundle(sms: SmsUseCases, world: World) -> None:
    bundle = _released(sms, world)
    _assert_failure_bundle(bundle, world, FailureCode.SECRET_MISSING)
    _audited(sms, "RELEASE_DATASET_KEY_MISSING")


def test_a_missing_recipient_gets_a_failure_bundle_without_recipient(sms: SmsUseCases, world: World) -> None:
    world.chain.set_deal(world.deal_id, beneficiary=world.stranger.address)  # never set a recipient
    world.push_secrets(sms)
    bundle = _released(sms, world)
    _assert_failure_bundle(bundle, world, FailureCode.RECIPIENT_MISSING)
    assert bundle.beneficiary_recipient is None
    _audited(sms, "RELEASE_RECIPIENT_MISSING")


@pytest.mark.parametrize(
    ("evidence", "code"),
    [({"measurement": b"\x00" * 32}, "ATTEST_POLICY_MEASUREMENT"), ({"debug": True}, "ATTEST_DEBUG")],
)
def test_a_poison_order_gives_nothing_to_an_enclave_that_is_not_genuine(
    sms: SmsUseCases, world: World, evidence: dict[str, object], code: str
) -> None:
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"²": "api"}}))
    enclave = world.challenge(sms)
    with pytest.raises(SealrunError) as caught:
        sms.release(world.release_request(sms, enclave, Identity.generate(), **evidence))
    assert caught.value.code == code


def test_a_poison_order_gives_nothing_to_an_unauthorized_worker(sms: SmsUseCases, world: World) -> None:
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"²": "api"}}))
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    with pytest.raises(SealrunError) as caught:
        sms.release(replace(request, worker=world.stranger.address))
    assert caught.value.code == "RELEASE_WORKER_UNAUTHORIZED"


def test_the_release_past_the_cap_is_attempts_exhausted(
    sms: SmsUseCases, settings: SmsSettings, world: World
) -> None:
    cap = settings.max_releases_per_task
    world.push_secrets(sms)
    for _ in range(cap):
        bundle = _released(sms, world)
        assert bundle.failure is None
        assert bundle.requester_secrets == {1: "s3cr3t"}
    past = _released(sms, world)
    _assert_failure_bundle(past, world, FailureCode.ATTEMPTS_EXHAUSTED)
    _audited(sms, "RELEASE_ATTEMPTS_EXHAUSTED")
    assert sms.repository.releases("0x" + world.task.hex()) == cap
    records = sms.repository.audit_records()
    assert [(r.event, r.code) for r in records] == [("release", "RELEASED")] * cap + [
        ("failure", "RELEASE_ATTEMPTS_EXHAUSTED")
    ]


def test_the_cap_is_a_setting(build: Any, settings: SmsSettings, world: World) -> None:
    sms: SmsUseCases = build(settings.model_copy(update={"max_releases_per_task": 1}))
    world.push_secrets(sms)
    assert _released(sms, world).failure is None
    _assert_failure_bundle(_released(sms, world), world, FailureCode.ATTEMPTS_EXHAUSTED)


def test_the_release_counter_holds_under_concurrency(sms: SmsUseCases, world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    task = "0x" + world.task.hex()
    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(lambda _: sms.repository.reserve_release(task, cap=3, now=1), range(24)))
    assert granted.count(True) == 3
    assert sms.repository.releases(task) == 3


def test_the_cap_setting_is_bounded(settings: SmsSettings) -> None:
    assert settings.max_releases_per_task == 6
    with pytest.raises(ValueError, match="max_releases_per_task"):
        SmsSettings(**{**settings.model_dump(), "max_releases_per_task": 0})


def test_over_http_a_bad_index_is_a_200_failure_bundle_not_a_500(settings: SmsSettings, world: World) -> None:
    world.chain.set_deal(world.deal_id, params=json.dumps({"iexec_secrets": {"²": "api"}}))
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
        sms: SmsUseCases = http.app.state.sms  # type: ignore[attr-defined]
        enclave = world.challenge(sms)
        identity = Identity.generate()
        nonce = http.post(f"/v1/tasks/0x{world.task.hex()}/nonce").json()["nonce"]
        raw = bytes.fromhex(nonce[2:])
        body = {
            "nonce": nonce,
            "worker": world.worker.address,
            "authorization": "0x" + world.authorization(enclave).hex(),
            "evidence": json.loads(world.evidence(raw, identity)),
            "ephemeral_recipient": str(identity.recipient),
        }
        answer = http.post(f"/v1/tasks/0x{world.task.hex()}/release", json=body)
        assert answer.status_code == 200, answer.text
        import base64

        bundle = SecretsBundle.from_json(
            open_bytes(base64.b64decode(answer.json()["sealed_bundle"]), [identity])
        )
        assert bundle.failure is not None
        assert bundle.failure.code is FailureCode.TASK_PARAMS_INVALID
