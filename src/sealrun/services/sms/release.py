"""Attested release (SYSTEM.md §5): appraise the enclave, check the task, seal the bundle.

The order of checks is fixed and every step either passes or raises with its code; the
first failure is written to the audit log as a refusal and returned to the caller. The
nonce is consumed first, so a refused attempt cannot be retried with the same nonce.

1. the nonce was issued for this task, is unexpired and unused (then it is used);
2. the task is live: initialized, its deal TEE, not finalized, before its final deadline;
3. the evidence verifies with the verifier of its declared type, at ``now``;
4. its report data binds this nonce, the ephemeral key and the task (all 64 bytes);
5. the policy accepts the claims, and the measurement equals the app's on-chain fingerprint;
6. the workerpool owner authorized this worker for this task and this enclave challenge;
7. the dataset order allows this app, requester and workerpool;
8. every secret the task needs is present, and the task's secrets were released fewer than
   ``max_releases`` times (counted in ``sms_task_releases``); then the bundle is sealed to the
   ephemeral key.

Past step 7 the enclave is genuine, runs the app's code and is authorized for this task;
what can still be wrong is the *order* itself, and no retry can fix it: params the SMS
cannot read (``RELEASE_PARAMS_INVALID``), a requester secret or dataset key never pushed
(``RELEASE_REQUESTER_SECRET_MISSING``, ``RELEASE_DATASET_KEY_MISSING``), no result recipient
(``RELEASE_RECIPIENT_MISSING``), or the attempts cap reached (``RELEASE_ATTEMPTS_EXHAUSTED``).
Then the enclave receives a *failure bundle* (:class:`~sealrun.core.tasks.ReleaseFailure`:
the enclave key, the recipient if any, a :class:`~sealrun.core.tasks.FailureCode`, no
secret) and signs a failure receipt at once, so the task ends FAILED and refunded instead
of being retried until its deadline. The audit log records it as event ``failure`` with the
refusal's code.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sealrun.adapters.storeclient import mint_upload_token
from sealrun.api.ids import task_id_hex
from sealrun.core.attestation import Evidence, EvidenceType, verify_report_data
from sealrun.core.chainstate import ZERO_ADDRESS, DealRecord
from sealrun.core.tasks import (
    FailureCode,
    ReleaseFailure,
    SecretsBundle,
    authorization_digest,
    recover_signer,
)
from sealrun.core.tasks.bundle import (
    MAX_SECRET_INDEX,
    DatasetSecret,
    ResultUpload,
    TaskParams,
    is_secret_index,
)
from sealrun.errors import AttestationError, OrderError, SealrunError, SecretError
from sealrun.services.sms.audit import AuditFacts
from sealrun.services.sms.enclaveseal import parse_ephemeral_recipient, seal_to_recipient
from sealrun.services.sms.repository import ReleaseMaterial, row_identity

if TYPE_CHECKING:
    from sealrun.services.sms.usecases import AttestationPolicy, EvidenceVerifier, SmsUseCases

__all__ = ["ORDER_FAILURES", "ReleaseRequest", "ReleasedBundle", "Releaser"]

_MAX_REQUESTER_SECRETS = 32
_MAX_SECRET_NAME = 64

# Refusals caused by the order itself (retrying cannot help): the failure code the enclave
# receives instead of the secrets.
ORDER_FAILURES: dict[str, FailureCode] = {
    "RELEASE_PARAMS_INVALID": FailureCode.TASK_PARAMS_INVALID,
    "RELEASE_REQUESTER_SECRET_MISSING": FailureCode.SECRET_MISSING,
    "RELEASE_DATASET_KEY_MISSING": FailureCode.SECRET_MISSING,
    "RELEASE_RECIPIENT_MISSING": FailureCode.RECIPIENT_MISSING,
    "RELEASE_ATTEMPTS_EXHAUSTED": FailureCode.ATTEMPTS_EXHAUSTED,
}
_NO_PARAMS: dict[str, Any] = {"args": "", "input_files": [], "secrets": {}}


@dataclass(frozen=True)
class ReleaseRequest:
    """What an enclave presents to obtain its secrets.

    Attributes:
        task_id: the task (32 bytes).
        nonce: the nonce the SMS issued for this attempt.
        worker: the worker the scheduler authorized.
        authorization: the workerpool owner's EIP-191 signature over
            ``authorization_digest(worker, task_id, enclave_challenge)``.
        evidence: the evidence envelope (JSON, :class:`~sealrun.core.attestation.Evidence`).
        ephemeral_recipient: the enclave's ephemeral age X25519 recipient (``age1…``).
    """

    task_id: bytes
    nonce: bytes
    worker: str
    authorization: bytes
    evidence: str
    ephemeral_recipient: str


@dataclass(frozen=True)
class ReleasedBundle:
    """The secrets bundle sealed (age) to the enclave's ephemeral key, and its challenge.

    ``failure`` is the order refusal behind a failure bundle (``None`` for the secrets); it
    is for the audit log only, the HTTP answer looks the same either way.
    """

    task_id: bytes
    enclave_challenge: str
    sealed_bundle: bytes
    failure: SecretError | None = None


class Releaser:
    """Runs the release checks for :class:`~sealrun.services.sms.usecases.SmsUseCases`."""

    def __init__(
        self,
        sms: SmsUseCases,
        *,
        verifiers: Mapping[EvidenceType, EvidenceVerifier],
        policy: AttestationPolicy,
    ) -> None:
        self._sms = sms
        self._verifiers = dict(verifiers)
        self._policy = policy

    def release(self, request: ReleaseRequest) -> ReleasedBundle:
        """Run every check; audit and return the sealed bundle, or audit and raise the refusal."""
        facts = AuditFacts(
            event="release",
            code="RELEASED",
            detail="",
            task_id=task_id_hex(request.task_id),
            worker=request.worker,
        )
        # The checks add what they learn (deal parties, claims) so a refusal is audited with it.
        known = [facts]
        try:
            released = self._checked(request, known)
        except SealrunError as error:
            kind = "attestation" if isinstance(error, AttestationError) else "release"
            refusal = replace(known[-1], event="refusal", code=error.code, detail=f"{kind}: {error.message}")
            self._sms.audit(refusal)
            raise
        order = released.failure
        if order is None:
            self._sms.audit(
                replace(known[-1], detail="bundle sealed to the attested enclave's ephemeral key")
            )
        else:
            code = ORDER_FAILURES[order.code]
            detail = f"failure bundle {code.name} sealed to the attested enclave: {order.message}"
            self._sms.audit(replace(known[-1], event="failure", code=order.code, detail=detail))
        return released

    def _checked(self, request: ReleaseRequest, known: list[AuditFacts]) -> ReleasedBundle:
        facts = known[-1]
        sms = self._sms
        task_hex = task_id_hex(request.task_id)
        now = sms.clock()
        # The chain is read before the nonce is checked so that even a nonce refusal is
        # audited under the deal's dataset, where its owner will see it.
        task = sms.chain.task(request.task_id)
        deal_or_none = None if task is None else sms.chain.deal(task.deal_id)
        if deal_or_none is not None:
            facts = replace(
                facts, app=deal_or_none.app, requester=deal_or_none.requester,
                workerpool=deal_or_none.workerpool,
                dataset=deal_or_none.dataset if deal_or_none.has_dataset else None,
            )  # fmt: skip
            known.append(facts)
        sms.repository.consume_nonce("0x" + request.nonce.hex(), task_hex, now)
        _task, deal = sms.check_live(task, deal_or_none)
        # Attestation: the verifier is chosen by the declared type only (no fallback).
        evidence = Evidence.from_json(request.evidence)
        verifier = self._verifiers.get(evidence.type)
        if verifier is None:
            raise AttestationError(
                f"evidence type {evidence.type.value!r} is not accepted here", code="ATTEST_POLICY_TEE_TYPE"
            )
        claims = verifier.verify(evidence, now=now)
        known.append(replace(facts, tee=claims.tee.value, measurement=claims.measurement.hex()))
        recipient = parse_ephemeral_recipient(request.ephemeral_recipient)
        verify_report_data(
            claims, nonce=request.nonce, ephemeral_public_key=recipient.public_bytes, task_id=request.task_id
        )
        app = sms.chain.app(deal.app)
        if app is None:
            raise SecretError("the deal's app is not registered", code="RELEASE_APP_UNKNOWN")
        self._policy.appraise(claims, measurement=app.fingerprint)
        # Checked here too, whatever the policy says: the key goes only to the app's own code.
        if not hmac.compare_digest(claims.measurement, app.fingerprint):
            raise AttestationError(
                "the enclave's measurement is not the app's on-chain fingerprint",
                code="ATTEST_POLICY_MEASUREMENT",
            )
        refusal: SecretError | None = None
        try:
            params = _parse_params(deal.params)
        except SecretError as error:
            # Refused only once the enclave proved genuine and authorized: then it gets a failure bundle.
            params, refusal = _NO_PARAMS, error
        material = sms.repository.release_material(
            task_id=task_hex, dataset=deal.dataset if deal.has_dataset else None, requester=deal.requester,
            names=list(params["secrets"].values()), app=deal.app, beneficiary=deal.beneficiary,
        )  # fmt: skip
        enclave = material.enclave
        if enclave is None:
            raise SecretError(
                "no enclave challenge was requested for this task", code="RELEASE_NO_ENCLAVE_CHALLENGE"
            )
        self._check_authorization(request, deal, enclave.address)
        self._check_dataset_order(deal)
        # Only the order can be wrong now (see the module docstring).
        bundle, refusal = self._secrets_or_failure(request, deal, params, material, refusal, now)
        sealed = seal_to_recipient(bundle.to_json(), recipient, random=sms.random)
        return ReleasedBundle(request.task_id, enclave.address, sealed, failure=refusal)

    def _secrets_or_failure(
        self,
        request: ReleaseRequest,
        deal: DealRecord,
        params: dict[str, Any],
        material: ReleaseMaterial,
        refusal: SecretError | None,
        now: int,
    ) -> tuple[SecretsBundle, SecretError | None]:
        """The secrets bundle, or the failure bundle when only the order is wrong."""
        if refusal is None:
            try:
                bundle = self._bundle(request, deal, params, material, now)
            except SecretError as error:
                if error.code not in ORDER_FAILURES:
                    raise
                refusal = error
            else:
                cap = self._sms.options.max_releases
                if self._sms.repository.reserve_release(task_id_hex(request.task_id), cap=cap, now=now):
                    return bundle, None
                refusal = SecretError(
                    f"this task's secrets were already released {cap} times",
                    code="RELEASE_ATTEMPTS_EXHAUSTED",
                )
        return self._failure_bundle(request, deal, material, refusal, now), refusal

    def _failure_bundle(
        self,
        request: ReleaseRequest,
        deal: DealRecord,
        material: ReleaseMaterial,
        refusal: SecretError,
        now: int,
    ) -> SecretsBundle:
        """The enclave key, the recipient if any and the failure code: no secret at all."""
        assert material.enclave is not None  # checked before the authorization
        task_hex = task_id_hex(request.task_id)
        enclave_key = self._sms.keyring.open(
            material.enclave.sealed, kind="enclave-key", row=row_identity(task_hex)
        )
        return SecretsBundle(
            task_id=task_hex,
            worker=request.worker,
            enclave_key="0x" + enclave_key.hex(),
            beneficiary_recipient=None if material.recipient is None else material.recipient.recipient,
            result_upload=self._upload(request, now),
            max_time=max(1, deal.category_time),
            failure=ReleaseFailure(ORDER_FAILURES[refusal.code], refusal.message),
        )

    def _upload(self, request: ReleaseRequest, now: int) -> ResultUpload:
        options = self._sms.options
        token = (
            ""
            if options.upload_token_key is None
            else mint_upload_token(
                options.upload_token_key, request.task_id, expires_at=now + options.upload_token_ttl
            )
        )
        return ResultUpload(url=options.result_upload_url, token=token)

    def _check_authorization(self, request: ReleaseRequest, deal: DealRecord, enclave: str) -> None:
        pool = self._sms.chain.workerpool(deal.workerpool)
        if pool is None:
            raise SecretError("the deal's workerpool is not registered", code="RELEASE_WORKERPOOL_UNKNOWN")
        try:
            digest = authorization_digest(request.worker, request.task_id, enclave)
            signer = recover_signer(digest, request.authorization)
        except (OrderError, SealrunError) as error:
            raise SecretError(
                f"the worker's authorization is invalid: {error.message}", code="RELEASE_WORKER_UNAUTHORIZED"
            ) from error
        if signer.lower() != pool.owner.lower():
            raise SecretError(
                "the worker's authorization is not signed by the workerpool owner for this task and enclave",
                code="RELEASE_WORKER_UNAUTHORIZED",
            )

    def _check_dataset_order(self, deal: DealRecord) -> None:
        if not deal.has_dataset:
            return
        rules = (
            (deal.dataset_restrict_app, deal.app, "RELEASE_DATASET_APP_NOT_ALLOWED", "app"),
            (
                deal.dataset_restrict_requester,
                deal.requester,
                "RELEASE_DATASET_REQUESTER_NOT_ALLOWED",
                "requester",
            ),
            (
                deal.dataset_restrict_workerpool,
                deal.workerpool,
                "RELEASE_DATASET_WORKERPOOL_NOT_ALLOWED",
                "pool",
            ),
        )
        for restriction, actual, code, what in rules:
            if restriction.lower() != ZERO_ADDRESS and restriction.lower() != actual.lower():
                raise SecretError(f"the dataset order does not allow this {what}", code=code)

    def _bundle(
        self,
        request: ReleaseRequest,
        deal: DealRecord,
        params: dict[str, Any],
        material: ReleaseMaterial,
        now: int,
    ) -> SecretsBundle:
        sms = self._sms
        task_hex = task_id_hex(request.task_id)
        assert material.enclave is not None  # checked before the authorization
        dataset = None
        if deal.has_dataset:
            record = sms.chain.dataset(deal.dataset)
            row = material.dataset_key
            if record is None or row is None:
                raise SecretError("the dataset's key was never pushed", code="RELEASE_DATASET_KEY_MISSING")
            key = sms.keyring.open(row.sealed, kind="dataset-key", row=row_identity(deal.dataset)).decode()
            dataset = DatasetSecret(
                url=record.url,
                checksum="0x" + record.checksum.hex(),
                key=key,
                address=record.address,
                filename=row.filename,
            )
        secrets: dict[int, str] = {}
        for index, name in params["secrets"].items():
            secret = material.requester_secrets.get(name)
            if secret is None:
                raise SecretError(
                    f"requester secret {name!r} was never pushed", code="RELEASE_REQUESTER_SECRET_MISSING"
                )
            identity = row_identity(deal.requester, name)
            secrets[index] = sms.keyring.open(secret.sealed, kind="requester-secret", row=identity).decode()
        developer = material.app_secret
        developer_secret = (
            None
            if developer is None
            else sms.keyring.open(developer.sealed, kind="app-secret", row=row_identity(deal.app)).decode()
        )
        recipient = material.recipient
        if recipient is None:
            raise SecretError("the beneficiary has no result recipient", code="RELEASE_RECIPIENT_MISSING")
        enclave_key = sms.keyring.open(
            material.enclave.sealed, kind="enclave-key", row=row_identity(task_hex)
        )
        return SecretsBundle(
            task_id=task_hex,
            worker=request.worker,
            enclave_key="0x" + enclave_key.hex(),
            beneficiary_recipient=recipient.recipient,
            result_upload=self._upload(request, now),
            max_time=deal.category_time,
            params=TaskParams(args=params["args"], input_files=tuple(params["input_files"])),
            dataset=dataset,
            app_developer_secret=developer_secret,
            requester_secrets=secrets,
        )


def _parse_params(text: str) -> dict[str, Any]:
    """Read the iExec-style params of a deal: ``iexec_args``, ``iexec_input_files``, ``iexec_secrets``."""
    invalid = SecretError("the deal's params are not valid", code="RELEASE_PARAMS_INVALID")
    if not text:
        return {"args": "", "input_files": [], "secrets": {}}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise invalid from error
    if not isinstance(data, dict):
        raise invalid
    args = data.get("iexec_args", "")
    files = data.get("iexec_input_files", [])
    names = data.get("iexec_secrets", {})
    if not isinstance(args, str) or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise invalid
    if not isinstance(names, dict) or len(names) > _MAX_REQUESTER_SECRETS:
        raise invalid
    secrets: dict[int, str] = {}
    for index, name in names.items():
        # ASCII digits, bounded: "²".isdigit() is true and int("²") raises (it was a 500).
        if not is_secret_index(index) or not isinstance(name, str) or not 0 < len(name) <= _MAX_SECRET_NAME:
            raise SecretError(
                f"the deal's secret indexes must be 1 to {MAX_SECRET_INDEX} in ASCII digits, naming secrets",
                code="RELEASE_PARAMS_INVALID",
            )
        secrets[int(index)] = name
    return {"args": args, "input_files": files, "secrets": secrets}
