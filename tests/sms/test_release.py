"""Attested release through the use cases: the happy path and every refusal, each audited."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sealrun.core.attestation import SimulatorKey
from sealrun.core.chainstate import TaskStatus
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle
from sealrun.core.uploads import verify_upload_token
from sealrun.errors import SealrunError
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import T0, World, make_settings


def _refused(sms: SmsUseCases, request: object, code: str) -> None:
    with pytest.raises(SealrunError) as caught:
        sms.release(request)  # type: ignore[arg-type]
    assert caught.value.code == code
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("refusal", code)


def test_release_seals_the_full_bundle_to_the_ephemeral_key(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    identity = Identity.generate()
    released = sms.release(world.release_request(sms, enclave, identity))
    assert released.enclave_challenge == enclave
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert bundle.task_id == "0x" + world.task.hex()
    assert bundle.worker == world.worker.address
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)
    assert bundle.dataset.url == "http://store/blob"
    assert bundle.dataset.checksum == "0x" + "07" * 32
    assert bundle.requester_secrets == {1: "s3cr3t"}
    assert bundle.app_developer_secret == "dev"
    assert bundle.beneficiary_recipient == str(world.result_key.recipient)
    assert bundle.params.args == "--fast"
    assert bundle.max_time == 600
    from eth_account import Account

    assert Account.from_key(bundle.enclave_key).address == enclave
    grant = verify_upload_token(b"u" * 32, bundle.result_upload.token, now=T0)
    assert grant.task_id == world.task
    # Nobody else can open it: not the result key, not a fresh key.
    with pytest.raises(SealrunError):
        open_bytes(released.sealed_bundle, [Identity.generate()])
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code, head.dataset) == ("release", "RELEASED", world.dataset.lower())
    assert head.measurement == world.fingerprint.hex()
    assert head.tee == "simulated"


def test_enclave_challenge_is_idempotent_and_owner_only(sms: SmsUseCases, world: World) -> None:
    first = world.challenge(sms)
    assert world.challenge(sms) == first
    path = f"/v1/tasks/0x{world.task.hex()}/enclave-challenge"
    with pytest.raises(SealrunError) as caught:
        sms.enclave_challenge(world.signed(world.stranger, "POST", path), world.task)
    assert caught.value.code == "SECRET_NOT_OWNER"


def test_nonce_is_single_use_and_expires(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    identity = Identity.generate()
    request = world.release_request(sms, enclave, identity)
    sms.release(request)
    _refused(sms, request, "RELEASE_NONCE_USED")
    stale = world.release_request(sms, enclave, identity)
    world.clock.now += 121
    _refused(sms, stale, "RELEASE_NONCE_EXPIRED")
    _refused(sms, replace(stale, nonce=b"\x01" * 32), "RELEASE_NONCE_UNKNOWN")


def test_a_nonce_for_another_task_is_unknown(sms: SmsUseCases, world: World) -> None:
    other = world.add_deal(b"\x02" * 32)
    nonce, _ = sms.issue_nonce(other)
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    identity = Identity.generate()
    request = world.release_request(sms, enclave, identity)
    _refused(sms, replace(request, nonce=nonce), "RELEASE_NONCE_UNKNOWN")


@pytest.mark.parametrize(
    ("evidence", "code"),
    [
        ({"measurement": b"\x00" * 32}, "ATTEST_POLICY_MEASUREMENT"),
        ({"debug": True}, "ATTEST_DEBUG"),
        ({"report_data": b"\x00" * 64}, "ATTEST_REPORT_DATA_MISMATCH"),
        ({"task": b"\x03" * 32}, "ATTEST_REPORT_DATA_MISMATCH"),
    ],
)
def test_evidence_refusals(sms: SmsUseCases, world: World, evidence: dict[str, object], code: str) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    _refused(sms, world.release_request(sms, enclave, Identity.generate(), **evidence), code)


def test_evidence_bound_to_another_ephemeral_key_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    attacker = Identity.generate()
    _refused(
        sms, replace(request, ephemeral_recipient=str(attacker.recipient)), "ATTEST_REPORT_DATA_MISMATCH"
    )


def test_evidence_of_another_simulator_is_refused(sms: SmsUseCases, world: World) -> None:
    from sealrun.core.attestation import SimulatorKey

    world.push_secrets(sms)
    enclave = world.challenge(sms)
    forged = replace(world, simulator=SimulatorKey.generate())
    request = forged.release_request(sms, enclave, Identity.generate())
    # The evidence names another simulator key than the pinned one: an untrusted root.
    _refused(sms, request, "ATTEST_UNTRUSTED_ROOT")


def test_evidence_declared_as_another_type_is_refused(sms: SmsUseCases, world: World) -> None:
    # The verifier is chosen by the declared type only: simulated bytes declared as Nitro
    # reach the Nitro verifier, which refuses them; nothing falls back to another verifier.
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    for declared, code in (
        ("nitro", "ATTEST_MALFORMED"),
        ("sgx-dcap", "ATTEST_MALFORMED"),
        ("tpm", "ATTEST_UNKNOWN_TYPE"),
    ):
        request = world.release_request(sms, enclave, Identity.generate())
        envelope = json.loads(request.evidence)
        envelope["type"] = declared
        _refused(sms, replace(request, evidence=json.dumps(envelope)), code)


@pytest.mark.parametrize(
    ("status", "code"),
    [(TaskStatus.COMPLETED, "RELEASE_TASK_FINALIZED"), (TaskStatus.FAILED, "RELEASE_TASK_FINALIZED")],
)
def test_finalized_task_is_refused(sms: SmsUseCases, world: World, status: TaskStatus, code: str) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    world.chain.set_task_status(world.task, status)
    _refused(sms, request, code)


def test_task_past_deadline_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    # The deadline passes while the enclave attests (its nonce is still fresh).
    world.chain.tasks[world.task] = replace(world.chain.tasks[world.task], final_deadline=world.clock.now)
    _refused(sms, request, "RELEASE_TASK_PAST_DEADLINE")


def test_non_tee_deal_and_unknown_task_are_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    request = world.release_request(sms, enclave, Identity.generate())
    world.chain.set_deal(world.deal_id, tag=b"\x00" * 32)
    _refused(sms, request, "RELEASE_DEAL_NOT_TEE")
    with pytest.raises(SealrunError) as caught:
        sms.issue_nonce(b"\x09" * 32)
    assert caught.value.code == "RELEASE_TASK_UNKNOWN"


def test_worker_without_authorization_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    identity = Identity.generate()
    forged = world.release_request(sms, enclave, identity)
    _refused(sms, replace(forged, authorization=world.authorization(enclave, signer=world.stranger)),
             "RELEASE_WORKER_UNAUTHORIZED")  # fmt: skip
    other_enclave = world.release_request(sms, enclave, identity)
    _refused(sms, replace(other_enclave, authorization=world.authorization(world.stranger.address)),
             "RELEASE_WORKER_UNAUTHORIZED")  # fmt: skip
    other_worker = world.release_request(sms, enclave, identity)
    _refused(sms, replace(other_worker, worker=world.stranger.address), "RELEASE_WORKER_UNAUTHORIZED")
    garbage = world.release_request(sms, enclave, identity)
    _refused(sms, replace(garbage, authorization=b"\x00" * 65), "RELEASE_WORKER_UNAUTHORIZED")


def test_release_before_the_scheduler_asked_for_a_challenge_is_refused(
    sms: SmsUseCases, world: World
) -> None:
    world.push_secrets(sms)
    request = world.release_request(sms, world.stranger.address, Identity.generate())
    _refused(sms, request, "RELEASE_NO_ENCLAVE_CHALLENGE")


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("dataset_restrict_app", "RELEASE_DATASET_APP_NOT_ALLOWED"),
        ("dataset_restrict_requester", "RELEASE_DATASET_REQUESTER_NOT_ALLOWED"),
        ("dataset_restrict_workerpool", "RELEASE_DATASET_WORKERPOOL_NOT_ALLOWED"),
    ],
)
def test_dataset_order_restrictions(sms: SmsUseCases, world: World, field: str, code: str) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    world.chain.set_deal(world.deal_id, **{field: world.stranger.address})
    _refused(sms, world.release_request(sms, enclave, Identity.generate()), code)


def test_dataset_order_naming_the_parties_allows_them(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    world.chain.set_deal(
        world.deal_id, dataset_restrict_app=world.app, dataset_restrict_requester=world.requester.address,
        dataset_restrict_workerpool=world.pool,
    )  # fmt: skip
    identity = Identity.generate()
    released = sms.release(world.release_request(sms, enclave, identity))
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert bundle.failure is None
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("release", "RELEASED")


def test_every_attempt_is_in_the_audit_chain(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    sms.release(world.release_request(sms, enclave, Identity.generate()))
    _refused(sms, world.release_request(sms, enclave, Identity.generate(), debug=True), "ATTEST_DEBUG")
    records = sms.repository.audit_records()
    assert [r.code for r in records] == ["RELEASED", "ATTEST_DEBUG"]
    assert verify_audit_chain(records) == records[-1].entry_hash
    path = f"/v1/datasets/{world.dataset}/audit"
    mine = sms.dataset_audit(world.signed(world.dataset_owner, "GET", path), world.dataset, after=0, limit=10)
    assert [r.seq for r in mine] == [1, 2]
    with pytest.raises(SealrunError) as caught:
        sms.dataset_audit(world.signed(world.stranger, "GET", path), world.dataset, after=0, limit=10)
    assert caught.value.code == "SECRET_NOT_OWNER"


def test_simulated_evidence_is_refused_unless_enabled(
    tmp_path: Path, simulator: SimulatorKey, world: World, build: Any
) -> None:
    sms = build(make_settings(tmp_path, simulator, allow_simulated_evidence=False))
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    _refused(sms, world.release_request(sms, enclave, Identity.generate()), "ATTEST_POLICY_TEE_TYPE")


def test_a_release_carries_the_deal_and_a_signed_record_of_its_audit_entry(
    sms: SmsUseCases, world: World
) -> None:
    from sealrun.core.receipts.release import derive_release_key, verify_release_record
    from sealrun.core.tasks import address_of

    world.push_secrets(sms)
    enclave = world.challenge(sms)
    released = sms.release(world.release_request(sms, enclave, Identity.generate()))
    assert released.record is not None
    record = verify_release_record(released.record)
    head = sms.audit_head()
    assert head is not None
    assert (record["audit_seq"], record["audit_entry_hash"], record["event"]) == (
        head.seq,
        head.entry_hash,
        "release",
    )
    assert record["task_id"] == "0x" + world.task.hex()
    assert (record["deal_id"], record["task_index"]) == (released.deal_id, released.task_index)
    assert record["enclave_challenge"] == enclave
    assert record["measurement"] == "0x" + world.fingerprint.hex()
    # The signer is the key derived from the SMS's master key (published at /v1/health).
    current = sms.keyring.keys[sms.keyring.current_id]
    assert released.record["signer"] == address_of(derive_release_key(current))
