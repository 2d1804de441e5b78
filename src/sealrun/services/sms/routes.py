"""The SMS's ``/v1`` routes: thin translations between HTTP and :class:`SmsUseCases`."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from prometheus_client import Counter, Histogram

from sealrun.adapters.web import SignedCall, problem_responses, read_signed_call
from sealrun.api.ids import parse_task_id
from sealrun.api.sms import (
    ADDRESS_PATTERN,
    HEX32_PATTERN,
    AuditLinkOut,
    AuditPage,
    AuditRecordOut,
    ChallengeOut,
    DatasetKeyIn,
    DatasetPolicyOut,
    HealthOut,
    NonceOut,
    RecipientIn,
    RecipientOut,
    ReleaseIn,
    ReleaseOut,
    RequesterSecretNameOut,
    RequesterSecretsOut,
    Routes,
    SecretIn,
    SecretStatusOut,
    SessionIn,
    SessionNonceOut,
    SessionOut,
    SessionReleaseIn,
    SignedReleaseOut,
)
from sealrun.core.secretrules import SECRET_NAME_PATTERN
from sealrun.errors import SealrunError, SecretError
from sealrun.services.sms.release import ReleaseRequest, SealedSecretsBundle
from sealrun.services.sms.sessions import SessionRequest
from sealrun.services.sms.usecases import DatasetPolicyStatus, SecretStatus, SmsUseCases

__all__ = ["ReleaseMetrics", "router"]

router = APIRouter()


@dataclass(frozen=True)
class ReleaseMetrics:
    """The release route's counters (``app.state.releases``; see ``docs/operate.md``)."""

    outcomes: Counter
    latency: Histogram


AddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN)]
TaskPath = Annotated[str, Path(pattern=HEX32_PATTERN)]
Signed = Annotated[SignedCall, Depends(read_signed_call)]


def _sms(request: Request) -> SmsUseCases:
    sms: SmsUseCases = request.app.state.sms
    return sms


Sms = Annotated[SmsUseCases, Depends(_sms)]


def _status(status: SecretStatus) -> SecretStatusOut:
    return SecretStatusOut(subject=status.subject, owner=status.owner, updated_at=status.updated_at)


@router.get(Routes.HEALTH, response_model=HealthOut)
def health(request: Request) -> HealthOut:
    """Liveness and the deployment served."""
    info: HealthOut = request.app.state.health
    return info


@router.put(Routes.DATASET_KEY, status_code=201, responses=problem_responses(401, 403, 404, 409))
def put_dataset_key(dataset: AddressPath, body: DatasetKeyIn, call: Signed, sms: Sms) -> SecretStatusOut:
    """Push a dataset's key, once; signed by the dataset's on-chain owner."""
    return _status(sms.put_dataset_key(call, dataset, body.key, filename=body.filename))


@router.get(Routes.DATASET_KEY, responses=problem_responses(404))
def get_dataset_key(dataset: AddressPath, sms: Sms) -> SecretStatusOut:
    """Whether the dataset has a key (never the key)."""
    return _status(sms.dataset_key_status(dataset))


def _policy(status: DatasetPolicyStatus) -> DatasetPolicyOut:
    return DatasetPolicyOut(
        dataset=status.dataset, owner=status.owner, policy=json.loads(status.document),
        digest=status.digest, updated_at=status.updated_at,
    )  # fmt: skip


_POLICY_BODY = {
    "requestBody": {
        "required": True,
        "description": "the release policy document, version 1 (docs/decisions/0090-owner-release-policy.md)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.put(
    Routes.DATASET_POLICY, responses=problem_responses(400, 401, 403, 404), openapi_extra=_POLICY_BODY
)
def put_dataset_policy(dataset: AddressPath, call: Signed, sms: Sms) -> DatasetPolicyOut:
    """Set (or replace) the dataset owner's release policy; signed by the dataset's on-chain owner."""
    return _policy(sms.put_dataset_policy(call, dataset))


@router.get(Routes.DATASET_POLICY, responses=problem_responses(404))
def get_dataset_policy(dataset: AddressPath, sms: Sms) -> DatasetPolicyOut:
    """The dataset owner's release policy (public)."""
    return _policy(sms.dataset_policy(dataset))


@router.put(Routes.APP_SECRET, responses=problem_responses(400, 401, 403, 404))
def put_app_secret(app: AddressPath, body: SecretIn, call: Signed, sms: Sms) -> SecretStatusOut:
    """Push (or replace) the app developer secret; signed by the app's on-chain owner."""
    return _status(sms.put_app_secret(call, app, body.value))


@router.get(Routes.APP_SECRET, responses=problem_responses(404))
def get_app_secret(app: AddressPath, sms: Sms) -> SecretStatusOut:
    """Whether the app has a developer secret."""
    return _status(sms.app_secret_status(app))


@router.get(Routes.REQUESTER_SECRETS, responses=problem_responses(401, 403))
def list_requester_secrets(
    requester: AddressPath,
    call: Signed,
    sms: Sms,
    after: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> RequesterSecretsOut:
    """The names of the requester's secrets (never a value); signed by the requester."""
    names = sms.requester_secret_names(call, requester, after=after, limit=limit)
    return RequesterSecretsOut(
        requester=requester,
        secrets=[RequesterSecretNameOut(name=name, updated_at=at) for name, at in names],
    )


@router.put(Routes.REQUESTER_SECRET, responses=problem_responses(400, 401, 403))
def put_requester_secret(
    requester: AddressPath,
    name: Annotated[str, Path(pattern=SECRET_NAME_PATTERN)],
    body: SecretIn,
    call: Signed,
    sms: Sms,
) -> SecretStatusOut:
    """Push (or replace) a named requester secret; signed by the requester."""
    return _status(sms.put_requester_secret(call, requester, name, body.value))


@router.get(Routes.REQUESTER_SECRET, responses=problem_responses(404))
def get_requester_secret(
    requester: AddressPath, name: Annotated[str, Path(pattern=SECRET_NAME_PATTERN)], sms: Sms
) -> SecretStatusOut:
    """Whether the requester has a secret of this name."""
    return _status(sms.requester_secret_status(requester, name))


@router.put(Routes.RECIPIENT, responses=problem_responses(400, 401, 403))
def put_recipient(beneficiary: AddressPath, body: RecipientIn, call: Signed, sms: Sms) -> SecretStatusOut:
    """Set the age recipient results for this beneficiary are sealed to; signed by the beneficiary."""
    return _status(sms.put_result_recipient(call, beneficiary, body.recipient))


@router.get(Routes.RECIPIENT, responses=problem_responses(404))
def get_recipient(beneficiary: AddressPath, sms: Sms) -> RecipientOut:
    """The beneficiary's result recipient (public)."""
    return RecipientOut(beneficiary=beneficiary, recipient=sms.result_recipient(beneficiary))


@router.post(Routes.ENCLAVE_CHALLENGE, responses=problem_responses(401, 403, 404, 409))
def enclave_challenge(task_id: TaskPath, call: Signed, sms: Sms) -> ChallengeOut:
    """The task's enclave challenge (created once); signed by the deal's workerpool owner."""
    address = sms.enclave_challenge(call, parse_task_id(task_id))
    return ChallengeOut(task_id=task_id.lower(), enclave_challenge=address)


@router.post(Routes.NONCE, responses=problem_responses(403, 404, 409))
def attestation_nonce(task_id: TaskPath, sms: Sms) -> NonceOut:
    """A single-use attestation nonce for a live task."""
    nonce, expires_at = sms.issue_nonce(parse_task_id(task_id))
    return NonceOut(task_id=task_id.lower(), nonce="0x" + nonce.hex(), expires_at=expires_at)


@router.post(Routes.RELEASE, responses=problem_responses(400, 403, 404, 409))
def release(task_id: TaskPath, body: ReleaseIn, sms: Sms, http: Request) -> ReleaseOut:
    """Appraise the enclave's evidence and release its secrets bundle, sealed to its ephemeral key."""
    request = ReleaseRequest(
        task_id=parse_task_id(task_id),
        nonce=bytes.fromhex(body.nonce[2:]),
        worker=body.worker,
        authorization=bytes.fromhex(body.authorization[2:]),
        evidence=body.evidence.model_dump_json(),
        ephemeral_recipient=body.ephemeral_recipient,
    )
    return _measured(http, task_id, lambda: sms.release(request))


@router.post(Routes.SESSION_NONCE, responses=problem_responses())
def session_nonce(sms: Sms) -> SessionNonceOut:
    """A single-use nonce to open an attested session (isolation mode ``session``)."""
    nonce, expires_at = sms.issue_session_nonce()
    return SessionNonceOut(nonce="0x" + nonce.hex(), expires_at=expires_at)


@router.post(Routes.SESSIONS, responses=problem_responses(400, 403))
def open_session(body: SessionIn, sms: Sms) -> SessionOut:
    """Verify a session enclave's evidence once and open its attested session."""
    session = sms.open_session(
        SessionRequest(
            nonce=bytes.fromhex(body.nonce[2:]),
            worker=body.worker,
            signer=body.signer,
            requires_strict=body.requires_strict,
            evidence=body.evidence.model_dump_json(),
        )
    )
    return SessionOut(
        session=session.hex_id,
        measurement="0x" + session.claims.measurement.hex(),
        expires_at=session.expires_at,
    )


@router.post(Routes.SESSION_RELEASE, responses=problem_responses(400, 403, 404, 409))
def session_release(task_id: TaskPath, body: SessionReleaseIn, sms: Sms, http: Request) -> ReleaseOut:
    """Release one task's secrets over an open session: every per-task check, no new evidence."""
    request = ReleaseRequest(
        task_id=parse_task_id(task_id),
        nonce=b"",
        worker=body.worker,
        authorization=bytes.fromhex(body.authorization[2:]),
        evidence="",
        ephemeral_recipient=body.ephemeral_recipient,
    )
    return _measured(
        http,
        task_id,
        lambda: sms.release_in_session(
            request,
            session_id=bytes.fromhex(body.session[2:]),
            sequence=body.sequence,
            signature=bytes.fromhex(body.signature[2:]),
        ),
    )


def _measured(http: Request, task_id: str, release: Callable[[], SealedSecretsBundle]) -> ReleaseOut:
    """Run a release, count its outcome and time it (both modes share the metrics)."""
    metrics: ReleaseMetrics = http.app.state.releases
    began = time.perf_counter()
    try:
        released = release()
    except SealrunError as error:
        metrics.outcomes.labels(outcome="refused", code=error.code).inc()
        metrics.latency.observe(time.perf_counter() - began)
        raise
    metrics.outcomes.labels(outcome="released", code="").inc()
    metrics.latency.observe(time.perf_counter() - began)
    return ReleaseOut(
        task_id=task_id.lower(),
        enclave_challenge=released.enclave_challenge,
        sealed_bundle=base64.b64encode(released.sealed_bundle).decode(),
        deal_id=released.deal_id,
        task_index=released.task_index,
        release=None if released.record is None else SignedReleaseOut.model_validate(released.record),
    )


@router.get(Routes.DATASET_AUDIT, responses=problem_responses(401, 403, 404))
def dataset_audit(
    dataset: AddressPath,
    call: Signed,
    sms: Sms,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """The audit records about a dataset; signed by the dataset's on-chain owner."""
    records = sms.dataset_audit(call, dataset, after=after, limit=limit)
    return AuditPage(records=[AuditRecordOut.model_validate(record.to_dict()) for record in records])


@router.get(Routes.AUDIT_LINK, responses=problem_responses(404, 422))
def audit_link(sms: Sms, seq: int = Path(ge=1, le=2**62)) -> AuditLinkOut:
    """One link of the audit chain (position and hashes, no content): anyone may check that the
    log holds the entry a release record names."""
    found = sms.audit_entry(seq)
    if found is None:
        raise SecretError(f"the audit log has no entry #{seq}", code="SECRET_NOT_FOUND")
    return AuditLinkOut(seq=found.seq, prev_hash=found.prev_hash, entry_hash=found.entry_hash)


@router.get(Routes.AUDIT_HEAD, responses=problem_responses(404))
def audit_head(sms: Sms) -> AuditRecordOut:
    """The newest audit record: its hash commits to the whole log."""
    head = sms.audit_head()
    if head is None:
        raise SecretError("the audit log is empty", code="SECRET_NOT_FOUND")
    return AuditRecordOut.model_validate(head.to_dict())
