"""The SMS's refusal table, each code exact: the guards that a planted defect must not pass.

Each test here was checked by planting its defect (see docs/testing.md, "Security promises
and the tests that guard them"): removing the second, constant-time measurement check, or
the policy's measurement pin; accepting a worker's self-signed authorization; moving the
nonce expiry by one second; forgetting a chain record; leaking an unexpected error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sealrun.core.attestation import SimulatorKey, make_simulated_evidence
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle
from sealrun.errors import ConfigError, SealrunError
from sealrun.services.sms.app import build_components, create_app
from sealrun.services.sms.appraisal import ChainPinnedPolicy, base_policy
from sealrun.services.sms.release import ReleaseRequest
from sealrun.services.sms.settings import SmsSettings
from sealrun.services.sms.usecases import SmsUseCases
from sealrun.testing.policies import MeasurementBlindPolicy
from tests.sms.conftest import T0, World, make_settings

OTHER_CODE = b"\x00" * 32
NO_CHAIN = "a production SMS needs chain_rpc_url, chain_id and hub"


def _refused(sms: SmsUseCases, request: ReleaseRequest, code: str) -> str:
    """Assert the exact refusal and its audit record; return the audited detail."""
    with pytest.raises(SealrunError) as caught:
        sms.release(request)
    assert caught.value.code == code
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("refusal", code)
    assert sms.repository.releases("0x" + request.task_id.hex()) == 0
    return head.detail


def _opened(sms: SmsUseCases, request: ReleaseRequest, identity: Identity) -> SecretsBundle:
    bundle = SecretsBundle.from_json(open_bytes(sms.release(request).sealed_bundle, [identity]))
    assert bundle.failure is None
    assert bundle.requester_secrets == {1: "s3cr3t"}
    return bundle


# -- the measurement: the policy's pin and the SMS's own check, each enough alone -----------------
def test_the_policy_pin_refuses_other_code_by_its_own_rule(sms: SmsUseCases, world: World) -> None:
    # Refused by the policy (its message), not by the second check behind it: with the pin
    # removed (the policy pinned to the claims' own measurement) the detail would differ.
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate(), measurement=OTHER_CODE)
    detail = _refused(sms, request, "ATTEST_POLICY_MEASUREMENT")
    assert detail == f"attestation: policy: measurement {OTHER_CODE.hex()} is not an expected one"


def test_the_chain_pinned_policy_pins_exactly_the_measurement_it_is_given(world: World) -> None:
    from sealrun.core.attestation import EvidenceType, SimulatedVerifier

    policy = ChainPinnedPolicy(
        base_policy(
            allowed_tee_types=frozenset({EvidenceType.SIMULATED}),
            accepted_tcb_statuses=frozenset({"UpToDate"}),
        )
    )
    evidence = make_simulated_evidence(
        world.simulator, measurement=world.fingerprint, report_data=b"\x00" * 64
    )
    claims = SimulatedVerifier(world.simulator.public_key).verify(evidence, now=T0)
    assert policy.appraise(claims, measurement=world.fingerprint) == claims
    with pytest.raises(SealrunError) as caught:
        policy.appraise(claims, measurement=OTHER_CODE)
    assert caught.value.code == "ATTEST_POLICY_MEASUREMENT"


@pytest.fixture
def blind_sms(tmp_path: Path, simulator: SimulatorKey, world: World, components: list[Any]) -> SmsUseCases:
    """An SMS whose policy lost its measurement pin (everything else is the deployment's)."""
    from sealrun.core.attestation import EvidenceType

    base = base_policy(
        allowed_tee_types=frozenset({EvidenceType.SIMULATED}), accepted_tcb_statuses=frozenset({"UpToDate"})
    )
    built = build_components(
        make_settings(tmp_path, simulator), chain=world.chain, clock=world.clock,
        policy=MeasurementBlindPolicy(base),
    )  # fmt: skip
    components.append(built)
    return built.usecases


def test_the_second_check_refuses_other_code_whatever_the_policy_says(
    blind_sms: SmsUseCases, world: World
) -> None:
    world.push_secrets(blind_sms)
    enclave = world.challenge(blind_sms)
    # The blind policy passes the app's own code as the real one does...
    identity = Identity.generate()
    _opened(blind_sms, world.release_request(blind_sms, enclave, identity), identity)
    # ...and passes other code too: only the SMS's own constant-time check stops it.
    request = world.release_request(blind_sms, enclave, Identity.generate(), measurement=OTHER_CODE)
    with pytest.raises(SealrunError) as caught:
        blind_sms.release(request)
    assert caught.value.code == "ATTEST_POLICY_MEASUREMENT"
    assert caught.value.message == "the enclave's measurement is not the app's on-chain fingerprint"
    head = blind_sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("refusal", "ATTEST_POLICY_MEASUREMENT")
    assert blind_sms.repository.releases("0x" + world.task.hex()) == 1  # only the genuine one


# -- the worker's authorization ---------------------------------------------------------------------
def test_a_workers_self_signed_authorization_is_refused(sms: SmsUseCases, world: World) -> None:
    # The digest is right (this worker, this task, this enclave) but the worker signed it
    # itself instead of the workerpool owner.
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    forged = replace(request, authorization=world.authorization(enclave, signer=world.worker))
    detail = _refused(sms, forged, "RELEASE_WORKER_UNAUTHORIZED")
    assert detail == (
        "release: the worker's authorization is not signed by the workerpool owner for this task and enclave"
    )


def test_an_authorization_for_another_task_is_refused(sms: SmsUseCases, world: World) -> None:
    other = world.add_deal(b"\x05" * 32)
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    _refused(sms, replace(request, authorization=world.authorization(enclave, task=other)),
             "RELEASE_WORKER_UNAUTHORIZED")  # fmt: skip


# -- the nonce's lifetime, at its boundary ----------------------------------------------------------
@pytest.mark.parametrize("ttl", [120, 7])
@pytest.mark.parametrize(
    ("after", "code"), [(-1, None), (0, "RELEASE_NONCE_EXPIRED"), (1, "RELEASE_NONCE_EXPIRED")]
)
def test_a_nonce_lives_exactly_its_ttl(
    sms: SmsUseCases, world: World, ttl: int, after: int, code: str | None
) -> None:
    # Documented in docs/sms.md: usable while now < issued + NONCE_TTL, expired at issued + NONCE_TTL.
    sms.options = replace(sms.options, nonce_ttl=ttl)
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    identity = Identity.generate()
    issued = world.clock.now
    request = world.release_request(sms, enclave, identity)
    world.clock.now = issued + ttl + after
    if code is None:
        _opened(sms, request, identity)
    else:
        _refused(sms, request, code)


def test_the_nonce_endpoint_reports_the_expiry_it_enforces(sms: SmsUseCases, world: World) -> None:
    _nonce, expires_at = sms.issue_nonce(world.task)
    assert expires_at == T0 + 120


# -- chain records that went missing ----------------------------------------------------------------
def test_a_task_whose_deal_is_not_on_chain_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    del world.chain.deals[world.deal_id]
    _refused(sms, request, "RELEASE_DEAL_UNKNOWN")
    with pytest.raises(SealrunError) as caught:
        sms.issue_nonce(world.task)
    assert caught.value.code == "RELEASE_DEAL_UNKNOWN"


def test_a_deal_whose_app_is_not_registered_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    del world.chain.apps[world.app.lower()]
    _refused(sms, request, "RELEASE_APP_UNKNOWN")


def test_a_deal_whose_workerpool_is_not_registered_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    del world.chain.workerpools[world.pool.lower()]
    _refused(sms, request, "RELEASE_WORKERPOOL_UNKNOWN")
    path = f"/v1/tasks/0x{world.task.hex()}/enclave-challenge"
    with pytest.raises(SealrunError) as caught:
        sms.enclave_challenge(world.signed(world.pool_owner, "POST", path), world.task)
    assert caught.value.code == "RELEASE_WORKERPOOL_UNKNOWN"


# -- over HTTP: each code with its documented status ------------------------------------------------
class _Http:
    """The SMS app in process with the helpers to ask for a nonce and present a release."""

    def __init__(self, http: TestClient, world: World) -> None:
        self.http = http
        self.world = world
        self.sms: SmsUseCases = http.app.state.sms  # type: ignore[attr-defined]

    def release(self, enclave: str, **evidence: Any) -> Any:
        world = self.world
        identity = Identity.generate()
        nonce = self.http.post(f"/v1/tasks/0x{world.task.hex()}/nonce").json()["nonce"]
        body = {
            "nonce": nonce,
            "worker": world.worker.address,
            "authorization": "0x" + world.authorization(enclave).hex(),
            "evidence": json.loads(world.evidence(bytes.fromhex(nonce[2:]), identity, **evidence)),
            "ephemeral_recipient": str(identity.recipient),
        }
        return self.http.post(f"/v1/tasks/0x{world.task.hex()}/release", json=body), identity


@pytest.fixture
def http(settings: SmsSettings, world: World) -> Iterator[_Http]:
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as client:
        yield _Http(client, world)


def _problem(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["code"], body["status"], body["type"]) == (code, status, f"urn:sealrun:problem:{code}")


def _break_chain(world: World, what: str) -> None:
    if what == "deal":
        del world.chain.deals[world.deal_id]
    elif what == "app":
        del world.chain.apps[world.app.lower()]
    elif what == "pool":
        del world.chain.workerpools[world.pool.lower()]


@pytest.mark.parametrize(
    ("broken", "evidence", "status", "code"),
    [
        ("deal", {}, 404, "RELEASE_DEAL_UNKNOWN"),
        ("app", {}, 404, "RELEASE_APP_UNKNOWN"),
        ("pool", {}, 404, "RELEASE_WORKERPOOL_UNKNOWN"),
        (None, {"measurement": OTHER_CODE}, 403, "ATTEST_POLICY_MEASUREMENT"),
        (None, {"debug": True}, 403, "ATTEST_DEBUG"),
        (None, {"report_data": b"\x00" * 64}, 403, "ATTEST_REPORT_DATA_MISMATCH"),
    ],
)
def test_refusals_over_http_have_their_documented_status(
    http: _Http, world: World, broken: str | None, evidence: dict[str, Any], status: int, code: str
) -> None:
    world.push_secrets(http.sms)
    enclave = world.challenge(http.sms)
    if broken is not None:
        # Broken after the nonce is issued (the nonce route checks the task is live).
        identity = Identity.generate()
        nonce = http.http.post(f"/v1/tasks/0x{world.task.hex()}/nonce").json()["nonce"]
        _break_chain(world, broken)
        body = {
            "nonce": nonce, "worker": world.worker.address,
            "authorization": "0x" + world.authorization(enclave).hex(),
            "evidence": json.loads(world.evidence(bytes.fromhex(nonce[2:]), identity)),
            "ephemeral_recipient": str(identity.recipient),
        }  # fmt: skip
        answer = http.http.post(f"/v1/tasks/0x{world.task.hex()}/release", json=body)
    else:
        answer, _identity = http.release(enclave, **evidence)
    _problem(answer, status, code)


@pytest.mark.parametrize(
    ("change", "failure_code", "audit_code"),
    [
        (
            {"params": json.dumps({"iexec_secrets": {"1": "never-pushed"}})},
            13,
            "RELEASE_REQUESTER_SECRET_MISSING",
        ),
        ({"params": "not json"}, 12, "RELEASE_PARAMS_INVALID"),
        ({"beneficiary": "0x" + "be" * 20}, 14, "RELEASE_RECIPIENT_MISSING"),
    ],
)
def test_order_problems_are_a_200_failure_bundle_never_a_refusal(
    http: _Http, world: World, change: dict[str, Any], failure_code: int, audit_code: str
) -> None:
    # docs/sms.md: past step 7 the order's own problems end the task (a failure bundle), they
    # are not answered with their 409 (which no retry could fix).
    world.push_secrets(http.sms)
    world.chain.set_deal(world.deal_id, **change)
    answer, identity = http.release(world.challenge(http.sms))
    assert answer.status_code == 200, answer.text
    bundle = SecretsBundle.from_json(open_bytes(base64.b64decode(answer.json()["sealed_bundle"]), [identity]))
    assert bundle.failure is not None
    assert int(bundle.failure.code) == failure_code
    head = http.sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("failure", audit_code)


class _BrokenClock:
    """A clock that fails as an unforeseen bug would (the message must not reach the caller)."""

    def __call__(self) -> int:
        raise RuntimeError("clock exploded: master key 0x4242")


def test_an_unexpected_error_is_a_500_internal_without_its_message(
    settings: SmsSettings, world: World
) -> None:
    app = create_app(settings, chain=world.chain, clock=_BrokenClock())
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(f"/v1/tasks/0x{world.task.hex()}/nonce")
    _problem(answer, 500, "INTERNAL")
    assert answer.json()["detail"] == "the service failed unexpectedly"
    assert "exploded" not in answer.text
    assert "4242" not in answer.text


# -- start-up refusals ------------------------------------------------------------------------------
def _production(tmp_path: Path, simulator: SimulatorKey, **overrides: Any) -> SmsSettings:
    values: dict[str, Any] = {
        "mode": "production", "allow_simulated_evidence": False, "chain_rpc_url": "http://127.0.0.1:1",
    }  # fmt: skip
    values.update(overrides)
    return make_settings(tmp_path, simulator, **values)


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"allow_simulated_evidence": True}, "SMS_SIMULATED_IN_PRODUCTION",
         "a production SMS must not accept simulated evidence"),
        ({"master_key": None}, "SMS_MASTER_KEY_MISSING", "a production SMS needs a master key"),
        ({"chain_rpc_url": None}, "SMS_CHAIN_MISSING", NO_CHAIN),
        ({"hub": None}, "SMS_CHAIN_MISSING", NO_CHAIN),
        ({"chain_id": None}, "SMS_CHAIN_MISSING", NO_CHAIN),
        ({"master_key": "0x1234"}, "SMS_MASTER_KEY_INVALID", "the master key must be 32 bytes"),
    ],
)  # fmt: skip
def test_production_start_up_refusals(
    tmp_path: Path, simulator: SimulatorKey, world: World, overrides: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_components(_production(tmp_path, simulator, **overrides), chain=world.chain)
    assert (caught.value.code, caught.value.message) == (code, message)
    assert not (tmp_path / "sms.db").exists()  # refused before any database was touched


def test_a_complete_production_configuration_starts(
    tmp_path: Path, simulator: SimulatorKey, world: World
) -> None:
    # The refusals above are refusals of their one setting, not of production as such.
    built = build_components(_production(tmp_path, simulator), chain=world.chain)
    built.close()


def test_simulated_evidence_without_its_key_refuses_to_start(
    tmp_path: Path, simulator: SimulatorKey, world: World
) -> None:
    for key_file in (None, tmp_path / "absent.pem"):
        with pytest.raises(ConfigError) as caught:
            build_components(
                make_settings(tmp_path, simulator, simulator_public_key_file=key_file), chain=world.chain
            )
        assert caught.value.code == "SMS_SIMULATOR_KEY_MISSING"


def test_an_sms_without_a_chain_refuses_to_start(tmp_path: Path, simulator: SimulatorKey) -> None:
    # No injected chain reader and no RPC URL: nothing to read tasks from.
    with pytest.raises(ConfigError) as caught:
        build_components(make_settings(tmp_path, simulator))
    assert caught.value.code == "SMS_CHAIN_MISSING"
