"""Attested release (SYSTEM.md §5): gather the facts, apply the core's decision, seal.

The decision is :func:`sealrun.core.releases.appraise_release`, pure; this use case does
the I/O around it, in a fixed order:

1. read the task and its deal from the chain (so that even a nonce refusal is audited
   under the deal's dataset, where its owner will see it);
2. consume the nonce: issued for this task, unexpired and unused (then it is used), so a
   refused attempt cannot be retried with the same nonce;
3. read the rest of the facts (the deal's app, workerpool and dataset on chain; the task's
   enclave challenge and which secrets were pushed, from the tables) and appraise them;
4. on a refusal, audit it and raise its error; on a verdict, open the secrets with the
   master keyring, reserve one of the task's ``max_releases`` releases (counted in
   ``sms_task_releases``) and seal the bundle to the enclave's ephemeral key.

When only the *order* is wrong (the verdict carries a ``failure``, or the attempts cap is
reached), the enclave receives a *failure bundle* (:class:`~sealrun.core.tasks.ReleaseFailure`:
the enclave key, the recipient if any, a :class:`~sealrun.core.tasks.FailureCode`, no
secret) and signs a failure receipt at once, so the task ends FAILED and refunded instead
of being retried until its deadline. The audit log records it as event ``failure`` with the
refusal's code.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from sealrun.adapters.logs import log_context
from sealrun.api.ids import bytes32_hex, deal_id_hex, task_id_hex
from sealrun.core.attestation import Evidence, EvidenceType
from sealrun.core.chainstate import ChainReader, DealRecord, TaskRecord
from sealrun.core.jsontypes import JsonObject
from sealrun.core.receipts.release import derive_release_key, sign_release_record
from sealrun.core.releases import (
    ORDER_FAILURES,
    AttestationPolicy,
    AttestedSession,
    EvidenceVerifier,
    Isolation,
    OwnerPolicy,
    Refusal,
    ReleaseFacts,
    ReleaseRequest,
    ReleaseVerdict,
    appraise_release,
    attempts_exhausted,
    parse_owner_policy,
    parse_release_params,
)
from sealrun.core.tasks import ReleaseFailure, SecretsBundle
from sealrun.core.tasks.secretsbundle import DatasetSecret, ResultUpload, TaskParams
from sealrun.core.uploads import mint_upload_token
from sealrun.errors import AttestationError, ReleaseError, SealrunError
from sealrun.services.sms.audit import AuditFacts, AuditRecord
from sealrun.services.sms.enclaveseal import seal_to_recipient
from sealrun.services.sms.options import SmsOptions
from sealrun.services.sms.repository import ReleaseMaterial, SmsRepository, row_identity
from sealrun.services.sms.vault import MasterKeyring

__all__ = ["ORDER_FAILURES", "ReleaseRequest", "Releaser", "SealedSecretsBundle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SealedSecretsBundle:
    """The secrets bundle sealed (age) to the enclave's ephemeral key, and its challenge.

    ``failure`` is the order refusal behind a failure bundle (``None`` for the secrets); it
    is for the audit log only, the HTTP answer looks the same either way.
    """

    task_id: bytes
    enclave_challenge: str
    sealed_bundle: bytes
    failure: ReleaseError | None = None
    deal_id: str | None = None
    task_index: int | None = None
    record: JsonObject | None = None


class Releaser:
    """The release use case: its collaborators come through the constructor."""

    def __init__(
        self,
        *,
        chain: ChainReader,
        repository: SmsRepository,
        keyring: MasterKeyring,
        verifiers: Mapping[EvidenceType, EvidenceVerifier],
        policy: AttestationPolicy,
        clock: Callable[[], int],
        random: Callable[[int], bytes],
        options: SmsOptions,
    ) -> None:
        self._chain = chain
        self._repository = repository
        self._keyring = keyring
        self._verifiers = dict(verifiers)
        self._policy = policy
        self._clock = clock
        self._random = random
        self._options = options

    def release(
        self, request: ReleaseRequest, *, session: AttestedSession | None = None
    ) -> SealedSecretsBundle:
        """Gather the facts, appraise them; audit and return the sealed bundle, or audit and raise.

        With ``session`` the release is made in ``session`` mode (decision 0080): no nonce is
        consumed (the session's evidence was verified when it opened), the decision checks
        the session instead, and the audit record and the release record name it.
        """
        facts = AuditFacts(
            event="release",
            code="RELEASED",
            detail="",
            task_id=task_id_hex(request.task_id),
            worker=request.worker,
        )
        now = self._clock()
        task = self._chain.task(request.task_id)
        with log_context(task_id=facts.task_id, deal_id=None if task is None else bytes32_hex(task.deal_id)):
            return self._release(request, facts, now, task, session)

    def _release(
        self,
        request: ReleaseRequest,
        facts: AuditFacts,
        now: int,
        task: TaskRecord | None,
        session: AttestedSession | None,
    ) -> SealedSecretsBundle:
        deal = None if task is None else self._chain.deal(task.deal_id)
        if deal is not None:
            facts = replace(
                facts, app=deal.app, requester=deal.requester, workerpool=deal.workerpool,
                dataset=deal.dataset if deal.has_dataset else None,
            )  # fmt: skip
        mode = "" if session is None else f"isolation session {session.hex_id}: "
        try:
            if session is None:
                self._repository.consume_nonce(bytes32_hex(request.nonce), task_id_hex(request.task_id), now)
            gathered, material = self._facts(request, now, task, deal, session)
            if gathered.policy is not None:
                facts = replace(facts, policy=gathered.policy.digest)
            answer = appraise_release(gathered, verifiers=self._verifiers, policy=self._policy)
        except SealrunError as error:
            self._refused(facts, error, mode)
            raise
        if isinstance(answer, Refusal):
            if answer.claims is not None:
                facts = _with_claims(facts, answer)
            refused = answer.error()
            self._refused(facts, refused, mode)
            raise refused
        facts = replace(facts, tee=answer.claims.tee.value, measurement=answer.claims.measurement.hex())
        try:
            assert material is not None  # a verdict needs a deal
            released = self._sealed(request, answer, gathered, material, now)
        except SealrunError as error:
            self._refused(facts, error, mode)
            raise
        order = released.failure
        if order is None:
            audited = self._audit(
                replace(facts, detail=f"{mode}bundle sealed to the attested enclave's ephemeral key")
            )
        else:
            code = ORDER_FAILURES[order.code]
            detail = f"{mode}failure bundle {code.name} sealed to the attested enclave: {order.message}"
            audited = self._audit(replace(facts, event="failure", code=order.code, detail=detail))
        assert task is not None  # a verdict needs the task
        record = sign_release_record(
            _release_record(audited, task, released.enclave_challenge, request.evidence, session),
            derive_release_key(self._keyring.keys[self._keyring.current_id]),
        )
        return replace(released, deal_id=deal_id_hex(task.deal_id), task_index=task.index, record=record)

    def _refused(self, facts: AuditFacts, error: SealrunError, mode: str = "") -> None:
        kind = "attestation" if isinstance(error, AttestationError) else "release"
        self._audit(replace(facts, event="refusal", code=error.code, detail=f"{mode}{kind}: {error.message}"))

    def _audit(self, facts: AuditFacts) -> AuditRecord:
        record = self._repository.append_audit(facts, self._clock())
        # The audit record, as a log line too (the task and deal come from the log context).
        log.info("audit %s %s: %s", facts.event, facts.code, facts.detail)
        return record

    def _facts(
        self,
        request: ReleaseRequest,
        now: int,
        task: TaskRecord | None,
        deal: DealRecord | None,
        session: AttestedSession | None,
    ) -> tuple[ReleaseFacts, ReleaseMaterial | None]:
        """Read what the decision needs (after the nonce is consumed), and the stored rows."""
        isolation: Isolation = "strict" if session is None else "session"
        if deal is None:
            facts = ReleaseFacts(
                request=request, now=now, task=task, deal=None, isolation=isolation, session=session
            )
            return facts, None
        try:
            names = list(parse_release_params(deal.params).secrets.values())
        except ReleaseError:
            names = []  # the decision refuses the params; no secret is read
        material = self._repository.release_material(
            task_id=task_id_hex(request.task_id), dataset=deal.dataset if deal.has_dataset else None,
            requester=deal.requester, names=names, app=deal.app, beneficiary=deal.beneficiary,
        )  # fmt: skip
        facts = ReleaseFacts(
            request=request, now=now, task=task, deal=deal,
            app=self._chain.app(deal.app),
            workerpool=self._chain.workerpool(deal.workerpool),
            dataset=self._chain.dataset(deal.dataset) if deal.has_dataset else None,
            enclave_challenge=None if material.enclave is None else material.enclave.address,
            dataset_key_stored=material.dataset_key is not None,
            requester_secrets_stored=frozenset(material.requester_secrets),
            recipient_stored=material.recipient is not None,
            grant=None if deal.grant_id is None else self._chain.grant(deal.grant_id),
            policy=self._owner_policy(deal), isolation=isolation, session=session,
        )  # fmt: skip
        return facts, material

    def _owner_policy(self, deal: DealRecord) -> OwnerPolicy | None:
        """The dataset owner's release policy (opened with the master keyring: a tampered row
        raises ``SECRET_AT_REST_CORRUPT`` rather than loosening the rules)."""
        if not deal.has_dataset:
            return None
        row = self._repository.dataset_policy(deal.dataset)
        if row is None:
            return None
        document = self._keyring.open(row.sealed, kind="dataset-policy", row=row_identity(deal.dataset))
        return parse_owner_policy(document)

    def _sealed(
        self,
        request: ReleaseRequest,
        verdict: ReleaseVerdict,
        facts: ReleaseFacts,
        material: ReleaseMaterial,
        now: int,
    ) -> SealedSecretsBundle:
        """The secrets (or the failure) bundle, sealed to the enclave's ephemeral key."""
        failure = verdict.failure
        if failure is None:
            bundle = self._secrets_bundle(request, verdict, facts, material, now)
            cap = self._options.max_releases
            if not self._repository.reserve_release(task_id_hex(request.task_id), cap=cap, now=now):
                failure = attempts_exhausted(cap)
        if failure is not None:
            bundle = self._failure_bundle(request, verdict.deal, material, failure, now)
        sealed = seal_to_recipient(bundle.to_json(), verdict.recipient, random=self._random)
        refusal = None if failure is None else ReleaseError(failure.message, code=failure.code)
        return SealedSecretsBundle(request.task_id, verdict.enclave_challenge, sealed, failure=refusal)

    def _enclave_key(self, request: ReleaseRequest, material: ReleaseMaterial) -> str:
        assert material.enclave is not None  # the decision checked the enclave challenge
        task_hex = task_id_hex(request.task_id)
        key = self._keyring.open(material.enclave.sealed, kind="enclave-key", row=row_identity(task_hex))
        return "0x" + key.hex()

    def _failure_bundle(
        self, request: ReleaseRequest, deal: DealRecord, material: ReleaseMaterial, failure: Refusal, now: int
    ) -> SecretsBundle:
        """The enclave key, the recipient if any and the failure code: no secret at all."""
        return SecretsBundle(
            task_id=task_id_hex(request.task_id),
            worker=request.worker,
            enclave_key=self._enclave_key(request, material),
            beneficiary_recipient=None if material.recipient is None else material.recipient.recipient,
            result_upload=self._upload(request, now),
            max_time=max(1, deal.category_time),
            failure=ReleaseFailure(ORDER_FAILURES[failure.code], failure.message),
        )

    def _secrets_bundle(
        self,
        request: ReleaseRequest,
        verdict: ReleaseVerdict,
        facts: ReleaseFacts,
        material: ReleaseMaterial,
        now: int,
    ) -> SecretsBundle:
        """Open every secret the verdict releases (the decision checked each was pushed)."""
        deal, params = verdict.deal, verdict.params
        keyring = self._keyring
        dataset = None
        if deal.has_dataset:
            record, row = facts.dataset, material.dataset_key
            assert record is not None  # the decision checked both
            assert row is not None
            key = keyring.open(row.sealed, kind="dataset-key", row=row_identity(deal.dataset)).decode()
            dataset = DatasetSecret(
                url=record.url, checksum=bytes32_hex(record.checksum), key=key, address=record.address,
                filename=row.filename,
            )  # fmt: skip
        secrets = {
            index: keyring.open(
                material.requester_secrets[name].sealed,
                kind="requester-secret",
                row=row_identity(deal.requester, name),
            ).decode()
            for index, name in params.secrets.items()
        }
        developer = material.app_secret
        developer_secret = (
            None
            if developer is None
            else keyring.open(developer.sealed, kind="app-secret", row=row_identity(deal.app)).decode()
        )
        assert material.recipient is not None
        return SecretsBundle(
            task_id=task_id_hex(request.task_id),
            worker=request.worker,
            enclave_key=self._enclave_key(request, material),
            beneficiary_recipient=material.recipient.recipient,
            result_upload=self._upload(request, now),
            max_time=deal.category_time,
            params=TaskParams(args=params.args, input_files=params.input_files),
            dataset=dataset,
            app_developer_secret=developer_secret,
            requester_secrets=secrets,
        )

    def _upload(self, request: ReleaseRequest, now: int) -> ResultUpload:
        options = self._options
        token = (
            ""
            if options.upload_token_key is None
            else mint_upload_token(
                options.upload_token_key, request.task_id, expires_at=now + options.upload_token_ttl
            )
        )
        return ResultUpload(url=options.result_upload_url, token=token)


def _release_record(
    audited: AuditRecord, task: TaskRecord, challenge: str, evidence: str, session: AttestedSession | None
) -> JsonObject:
    """The release record v1 (:mod:`sealrun.core.receipts.release`) of an audited release."""
    # A session release names the session's evidence: the task made none of its own.
    canonical = Evidence.from_json(evidence if session is None else session.evidence).to_json()
    return {
        "version": 1,
        "task_id": audited.task_id,
        "deal_id": deal_id_hex(task.deal_id),
        "task_index": task.index,
        "worker": audited.worker,
        "enclave_challenge": challenge,
        "app": audited.app,
        "dataset": audited.dataset,
        "requester": audited.requester,
        "workerpool": audited.workerpool,
        "tee": audited.tee,
        "measurement": None if audited.measurement is None else "0x" + audited.measurement,
        "evidence_sha256": "0x" + hashlib.sha256(canonical.encode()).hexdigest(),
        "event": audited.event,
        "code": audited.code,
        "at": audited.at,
        "audit_seq": audited.seq,
        "audit_entry_hash": audited.entry_hash,
        "isolation": "strict" if session is None else "session",
        "session": None if session is None else session.hex_id,
    }


def _with_claims(facts: AuditFacts, refusal: Refusal) -> AuditFacts:
    assert refusal.claims is not None
    return replace(facts, tee=refusal.claims.tee.value, measurement=refusal.claims.measurement.hex())
