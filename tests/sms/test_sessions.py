"""Isolation mode ``session`` at the SMS (decision 0080): open once, release per task.

Each task released over a session is still checked per task (authorization, deal, app
fingerprint, deadline, restrictions) and audited; an expired or unknown session (an SMS
restart drops them) is refused with a stable code and the enclave attests again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.http.sms import SmsClient
from sealrun.core.attestation import make_simulated_evidence
from sealrun.core.receipts.release import verify_release_record
from sealrun.core.releases import session_report_data, session_request_digest
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle, address_of, sign_digest
from sealrun.enclave.sessions import EnclaveSession
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.release import ReleaseRequest
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import T0, World, make_settings, serve

SESSION_KEY = bytes.fromhex("5e" * 32)


def _open(
    sms: SmsUseCases, world: World, *, requires_strict: bool = False, measurement: bytes | None = None
) -> Any:
    nonce, _ = sms.issue_session_nonce()
    signer = address_of(SESSION_KEY)
    data = session_report_data(
        nonce, signer=signer, worker=world.worker.address, requires_strict=requires_strict
    )
    evidence = make_simulated_evidence(
        world.simulator, measurement=measurement or world.fingerprint, report_data=data
    )
    from sealrun.services.sms.sessions import SessionRequest

    return sms.open_session(
        SessionRequest(
            nonce=nonce,
            worker=world.worker.address,
            signer=signer,
            requires_strict=requires_strict,
            evidence=evidence.to_json(),
        )
    )


def _release(
    sms: SmsUseCases, world: World, session: Any, enclave: str, sequence: int, *, task: bytes | None = None
) -> tuple[Any, Identity]:
    task = task or world.task
    identity = Identity.generate()
    recipient = str(identity.recipient)
    digest = session_request_digest(session.session_id, task, recipient, sequence)
    request = ReleaseRequest(
        task_id=task,
        nonce=b"",
        worker=world.worker.address,
        authorization=world.authorization(enclave, task=task),
        evidence="",
        ephemeral_recipient=recipient,
    )
    released = sms.release_in_session(
        request, session_id=session.session_id, sequence=sequence, signature=sign_digest(SESSION_KEY, digest)
    )
    return released, identity


def _refused_in_session(
    sms: SmsUseCases, world: World, session: Any, enclave: str, sequence: int, code: str
) -> None:
    with pytest.raises(SealrunError) as caught:
        _release(sms, world, session, enclave, sequence)
    assert caught.value.code == code
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("refusal", code)
    assert f"isolation session {session.hex_id}" in head.detail


def test_a_session_releases_each_task_with_an_audit_entry_naming_the_mode(
    sms: SmsUseCases, world: World
) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    session = _open(sms, world)
    opened = sms.audit_head()
    assert opened is not None
    assert (opened.event, opened.code) == ("session", "SESSION_OPENED")
    released, identity = _release(sms, world, session, enclave, 1)
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert bundle.requester_secrets == {1: "s3cr3t"}
    assert address_of(bundle.enclave_key) == enclave
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("release", "RELEASED")
    assert head.detail.startswith(f"isolation session {session.hex_id}: ")
    assert released.record is not None
    record = verify_release_record(released.record)
    assert (record["isolation"], record["session"]) == ("session", session.hex_id)
    assert record["audit_seq"] == head.seq
    verify_audit_chain(sms.repository.audit_records())


def test_a_strict_release_names_its_mode_in_the_release_record(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    released = sms.release(world.release_request(sms, enclave, Identity.generate()))
    record = json.loads(released.record["record"])
    assert (record["isolation"], record["session"]) == ("strict", None)


def test_an_expired_session_is_refused_and_a_fresh_one_works(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    session = _open(sms, world)
    world.clock.now = session.expires_at  # usable while now < expires_at
    _refused_in_session(sms, world, session, enclave, 1, "RELEASE_SESSION_EXPIRED")
    renewed = _open(sms, world)
    released, _ = _release(sms, world, renewed, enclave, 1)
    assert released.failure is None


def test_a_task_past_its_deadline_is_refused_in_session_mode(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    world.clock.now = T0 + 3590
    session = _open(sms, world)
    world.clock.now = T0 + 3600  # the task's final deadline; the session lives on until T0 + 4490
    assert world.clock.now < session.expires_at
    _refused_in_session(sms, world, session, enclave, 1, "RELEASE_TASK_PAST_DEADLINE")


def test_an_app_that_requires_strict_is_refused_over_a_session(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    session = _open(sms, world, requires_strict=True)
    _refused_in_session(sms, world, session, enclave, 1, "RELEASE_ISOLATION_STRICT_REQUIRED")


def test_a_session_for_another_app_gets_no_secrets(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    session = _open(sms, world, measurement=b"\x01" * 32)
    _refused_in_session(sms, world, session, enclave, 1, "ATTEST_POLICY_MEASUREMENT")


def test_a_replayed_or_forged_session_request_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    session = _open(sms, world)
    _release(sms, world, session, enclave, 5)
    _refused_in_session(sms, world, session, enclave, 5, "RELEASE_SESSION_REPLAYED")
    identity = Identity.generate()
    request = ReleaseRequest(
        task_id=world.task, nonce=b"", worker=world.worker.address,
        authorization=world.authorization(enclave), evidence="", ephemeral_recipient=str(identity.recipient),
    )  # fmt: skip
    forged = sign_digest(
        os.urandom(31) + b"\x01", session_request_digest(session.session_id, world.task, "x", 6)
    )
    with pytest.raises(SealrunError) as caught:
        sms.release_in_session(request, session_id=session.session_id, sequence=6, signature=forged)
    assert caught.value.code == "RELEASE_SESSION_SIGNATURE_INVALID"


def test_an_unknown_session_is_refused(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    enclave = world.challenge(sms)
    session = _open(sms, world)
    other = type(session)(**{**session.__dict__, "session_id": b"\x00" * 16})
    _refused_in_session(sms, world, other, enclave, 1, "RELEASE_SESSION_UNKNOWN")


def test_session_evidence_that_binds_another_worker_opens_nothing(sms: SmsUseCases, world: World) -> None:
    from sealrun.services.sms.sessions import SessionRequest

    nonce, _ = sms.issue_session_nonce()
    signer = address_of(SESSION_KEY)
    data = session_report_data(nonce, signer=signer, worker=world.stranger.address, requires_strict=False)
    evidence = make_simulated_evidence(world.simulator, measurement=world.fingerprint, report_data=data)
    request = SessionRequest(
        nonce=nonce,
        worker=world.worker.address,
        signer=signer,
        requires_strict=False,
        evidence=evidence.to_json(),
    )
    with pytest.raises(SealrunError) as caught:
        sms.open_session(request)
    assert caught.value.code == "ATTEST_REPORT_DATA_MISMATCH"
    with pytest.raises(SealrunError) as again:
        sms.open_session(request)
    assert again.value.code == "RELEASE_NONCE_USED"


def test_an_sms_restart_drops_sessions_and_the_enclave_attests_again(
    tmp_path: Path, world: World, simulator: Any
) -> None:
    """Over HTTP with the real client: the SMS restarts between two tasks; nothing is lost."""
    settings = make_settings(tmp_path, simulator)
    second = world.add_deal(b"\x02" * 32)

    def quote(data: bytes) -> Any:
        return make_simulated_evidence(world.simulator, measurement=world.fingerprint, report_data=data)

    first_app = create_app(settings, chain=world.chain, clock=world.clock)
    world.push_secrets(first_app.state.sms)
    enclaves = {task: world.challenge(first_app.state.sms, task) for task in (world.task, second)}
    with serve(first_app) as url:
        port = int(url.rsplit(":", 1)[1])
        client = SmsClient(url)
        session = EnclaveSession(
            client=client, worker=world.worker.address, measurement=world.fingerprint,
            requires_strict=False, quote=quote,
        )  # fmt: skip
        bundle, info = session.release(world.task, world.authorization(enclaves[world.task]))
        assert bundle.requester_secrets == {1: "s3cr3t"}
        assert info.evidence is not None
        assert session.attestations == 1
    restarted = create_app(settings, chain=world.chain, clock=world.clock)
    with serve(restarted, port=port):
        bundle, info = session.release(second, world.authorization(enclaves[second], task=second))
        assert bundle.task_id == "0x" + second.hex()
        assert session.attestations == 2  # refused RELEASE_SESSION_UNKNOWN once, attested again
        record = json.loads(str(info.signed_record["record"]))  # type: ignore[index]
        assert (record["isolation"], record["session"]) == ("session", session.session_id)
        # The session's attestation expires: refused RELEASE_SESSION_EXPIRED, attested again.
        third = world.add_deal(b"\x03" * 32)
        third_enclave = world.challenge(restarted.state.sms, third)
        world.clock.now = session.expires_at
        bundle, _ = session.release(third, world.authorization(third_enclave, task=third))
        assert bundle.task_id == "0x" + third.hex()
        assert session.attestations == 3
        client.close()
    codes = [(r.event, r.code) for r in restarted.state.sms.repository.audit_records()]
    assert ("refusal", "RELEASE_SESSION_UNKNOWN") in codes
    assert ("refusal", "RELEASE_SESSION_EXPIRED") in codes
    assert codes.count(("session", "SESSION_OPENED")) == 3
    assert codes.count(("release", "RELEASED")) == 3


def test_a_dataset_owner_who_requires_strict_gets_no_session_release(sms: SmsUseCases, world: World) -> None:
    """Her release policy (decision 0090) reads the mode: a session release ends in a failure
    bundle (audited with the session), a strict one of the same task gets the key."""
    from sealrun.core.tasks import FailureCode

    world.push_secrets(sms)
    path = f"/v1/datasets/{world.dataset}/policy"
    policy = {"version": 1, "isolation": "strict"}
    sms.put_dataset_policy(world.signed(world.dataset_owner, "PUT", path, policy), world.dataset)
    enclave = world.challenge(sms)
    session = _open(sms, world)
    released, identity = _release(sms, world, session, enclave, 1)
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert bundle.failure is not None
    assert bundle.failure.code is FailureCode.OWNER_POLICY_REFUSED
    assert bundle.dataset is None
    head = sms.audit_head()
    assert head is not None
    assert (head.event, head.code) == ("failure", "RELEASE_POLICY_ISOLATION")
    assert head.detail.startswith(f"isolation session {session.hex_id}: ")
    strict = sms.release(world.release_request(sms, enclave, Identity.generate()))
    assert strict.failure is None
