"""The release decision (SYSTEM.md §5), a pure function over facts the SMS gathered.

:func:`appraise_release` reads no chain, database or clock: the SMS's release use case
(:mod:`sealrun.services.sms.release`) consumes the nonce, reads the chain and its tables
into a :class:`ReleaseFacts`, and applies the answer. The answer is a :class:`Refusal`
(refused: the caller raises its error and audits it) or a :class:`ReleaseVerdict` (the
enclave is genuine and authorized: seal the secrets, or, when ``failure`` is set, a failure
bundle). The checks run in a fixed order and the first failure is the answer:

1. the task is live: initialized, its deal TEE, not finalized, before its final deadline
   (``now`` equal to the deadline is past it);
2. the evidence verifies with the verifier of its declared type, at ``now``;
3. its report data binds the nonce, the ephemeral key and the task (all 64 bytes);
4. the app is registered, the policy accepts the claims, and the measurement equals the
   app's on-chain fingerprint;

Every release is made in an isolation mode, an explicit field of the facts
(``isolation``, default ``strict``: one enclave attested for this task). In ``session`` mode
(:mod:`.sessions`, decision 0080) steps 2 and 3 were done once, when the SMS opened the
session; here the session must still be live (``RELEASE_SESSION_EXPIRED`` from its
``expires_at`` on), the app must not require ``strict``
(``RELEASE_ISOLATION_STRICT_REQUIRED``), and step 4 runs on the session's claims for this
task's app. Everything else is the same, per task.

5. the deal's params parse (if not, the refusal waits: see below);
6. an enclave challenge was requested for the task;
7. the workerpool is registered and its owner authorized this worker for this task and
   this enclave challenge;
8. the dataset order allows this app, requester and workerpool;
8b. a deal made under a dataset grant: the grant is still on chain, not revoked and not
   expired at ``now`` (``RELEASE_GRANT_UNKNOWN``, ``RELEASE_GRANT_REVOKED``,
   ``RELEASE_GRANT_EXPIRED``); its uses were counted at match, not here;
8c. the dataset owner's release policy, if she set one (:mod:`.ownerpolicy`: TEE types, TCB
   status, collateral age, isolation mode, workerpools; ``RELEASE_POLICY_*``, decision 0090);
9. every secret the task needs was pushed: the dataset key, the requester secrets (in
   the params' order), the beneficiary's result recipient.

From step 8b on only the *order* can be wrong, and no retry can fix it; those refusals
(:data:`ORDER_FAILURES`) become a verdict with ``failure`` set, so the enclave signs a
failure receipt at once. The attempts cap (``RELEASE_ATTEMPTS_EXHAUSTED``) is the SMS's to
check, atomically, once it holds a verdict; :func:`attempts_exhausted` is its refusal.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sealrun.core.attestation import Claims, Evidence, EvidenceType, verify_report_data
from sealrun.core.chainstate import (
    ZERO_ADDRESS,
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    WorkerpoolRecord,
)
from sealrun.core.orders.grants import Grant
from sealrun.core.releases.ownerpolicy import OwnerPolicy, owner_policy_refusal
from sealrun.core.releases.params import ReleaseParams, parse_release_params
from sealrun.core.releases.sessions import AttestedSession, Isolation
from sealrun.core.sealing import Recipient
from sealrun.core.tasks import FailureCode, authorization_digest, recover_signer
from sealrun.errors import AttestationError, ReleaseError, SealError, SealrunError

__all__ = [
    "ORDER_FAILURES",
    "AttestationPolicy",
    "EvidenceVerifier",
    "Refusal",
    "ReleaseFacts",
    "ReleaseRequest",
    "ReleaseVerdict",
    "appraise_release",
    "attempts_exhausted",
    "liveness_refusal",
]

#: Refusals caused by the order itself (retrying cannot help), and the failure code the
#: enclave receives instead of the secrets.
ORDER_FAILURES: Mapping[str, FailureCode] = {
    "RELEASE_PARAMS_INVALID": FailureCode.TASK_PARAMS_INVALID,
    "RELEASE_REQUESTER_SECRET_MISSING": FailureCode.SECRET_MISSING,
    "RELEASE_DATASET_KEY_MISSING": FailureCode.SECRET_MISSING,
    "RELEASE_RECIPIENT_MISSING": FailureCode.RECIPIENT_MISSING,
    "RELEASE_ATTEMPTS_EXHAUSTED": FailureCode.ATTEMPTS_EXHAUSTED,
    "RELEASE_GRANT_UNKNOWN": FailureCode.GRANT_INVALID,
    "RELEASE_GRANT_REVOKED": FailureCode.GRANT_INVALID,
    "RELEASE_GRANT_EXPIRED": FailureCode.GRANT_INVALID,
    "RELEASE_POLICY_TEE_TYPE": FailureCode.OWNER_POLICY_REFUSED,
    "RELEASE_POLICY_TCB_STATUS": FailureCode.OWNER_POLICY_REFUSED,
    "RELEASE_POLICY_COLLATERAL_AGE": FailureCode.OWNER_POLICY_REFUSED,
    "RELEASE_POLICY_ISOLATION": FailureCode.OWNER_POLICY_REFUSED,
    "RELEASE_POLICY_WORKERPOOL": FailureCode.OWNER_POLICY_REFUSED,
}


class EvidenceVerifier(Protocol):
    """Verifies one evidence type against its pinned root at ``now`` (see core.attestation)."""

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Return verified claims or raise ``AttestationError``."""


class AttestationPolicy(Protocol):
    """Appraises verified claims, deny by default, for an expected measurement."""

    def appraise(self, claims: Claims, *, measurement: bytes) -> Claims:
        """Return the claims if they pass, or raise ``AttestationError`` with the rule's code."""


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
class ReleaseFacts:
    """Everything the decision needs, read by the SMS after consuming the nonce.

    Attributes:
        request: what the enclave presented.
        now: the SMS's clock (unix seconds).
        task, deal: the chain's records (``None``: not on chain).
        app, workerpool, dataset: the deal's assets on chain (``None``: not registered, or
            no dataset in the deal).
        enclave_challenge: the task's enclave challenge address (``None``: never requested).
        dataset_key_stored: the dataset's key was pushed.
        requester_secrets_stored: the names of the requester's secrets the params ask for
            that were pushed.
        recipient_stored: the beneficiary pushed a result recipient.
        grant: the deal's dataset grant as the chain has it now (``None``: no grant in the
            deal, or not on chain).
        policy: the dataset owner's release policy (``None``: she set none).
        isolation: the mode of this release: ``strict`` (the evidence in ``request`` was made
            for this task) or ``session`` (``session`` holds the claims verified at open).
        session: the attested session of a ``session`` release (``None`` in ``strict``).
    """

    request: ReleaseRequest
    now: int
    task: TaskRecord | None
    deal: DealRecord | None
    app: AppRecord | None = None
    workerpool: WorkerpoolRecord | None = None
    dataset: DatasetRecord | None = None
    enclave_challenge: str | None = None
    dataset_key_stored: bool = False
    requester_secrets_stored: frozenset[str] = field(default_factory=frozenset)
    recipient_stored: bool = False
    grant: Grant | None = None
    policy: OwnerPolicy | None = None
    isolation: Isolation = "strict"
    session: AttestedSession | None = None


@dataclass(frozen=True)
class Refusal:
    """Why the release is refused: a stable code, a sentence, and the claims if verified."""

    code: str
    message: str
    claims: Claims | None = None

    @property
    def is_order_failure(self) -> bool:
        """Whether only the order is wrong (the enclave gets a failure bundle, see module doc)."""
        return self.code in ORDER_FAILURES

    def error(self) -> SealrunError:
        """The exception of this refusal's family (``ATTEST_*`` attestation, else release)."""
        if self.code.startswith("ATTEST_"):
            return AttestationError(self.message, code=self.code)
        return ReleaseError(self.message, code=self.code)


@dataclass(frozen=True)
class ReleaseVerdict:
    """A genuine, authorized enclave: release to ``recipient`` (or a failure bundle)."""

    task: TaskRecord
    deal: DealRecord
    claims: Claims
    recipient: Recipient
    enclave_challenge: str
    params: ReleaseParams
    failure: Refusal | None = None


def attempts_exhausted(cap: int) -> Refusal:
    """The order refusal when the task's secrets were already released ``cap`` times."""
    return Refusal("RELEASE_ATTEMPTS_EXHAUSTED", f"this task's secrets were already released {cap} times")


def liveness_refusal(task: TaskRecord | None, deal: DealRecord | None, *, now: int) -> Refusal | None:
    """Why a task may not run in a TEE now, or ``None`` if it may (step 1)."""
    if task is None or task.status == 0:
        return Refusal("RELEASE_TASK_UNKNOWN", "this task is not initialized on chain")
    if deal is None:
        return Refusal("RELEASE_DEAL_UNKNOWN", "this task's deal is not on chain")
    if not deal.is_tee:
        return Refusal("RELEASE_DEAL_NOT_TEE", "this task's deal does not require a TEE")
    if task.status.finalized:
        return Refusal("RELEASE_TASK_FINALIZED", f"this task is {task.status.name.lower()}")
    if now >= task.final_deadline:
        return Refusal("RELEASE_TASK_PAST_DEADLINE", "this task is past its final deadline")
    return None


def appraise_release(
    facts: ReleaseFacts,
    *,
    verifiers: Mapping[EvidenceType, EvidenceVerifier],
    policy: AttestationPolicy,
) -> ReleaseVerdict | Refusal:
    """Decide a release (the checks and their order are in the module docstring).

    Args:
        facts: what the SMS read for this attempt.
        verifiers: one pure verifier per accepted evidence type (no fallback).
        policy: the deployment's attestation policy (pure).

    Returns:
        The verdict, or the first refusal.
    """
    task, deal = facts.task, facts.deal
    live = liveness_refusal(task, deal, now=facts.now)
    if live is not None:
        return live
    assert task is not None  # liveness_refusal checked it
    assert deal is not None
    attested = (
        _attested_session(facts, policy)
        if facts.isolation == "session"
        else _attest(facts, verifiers, policy)
    )
    if isinstance(attested, Refusal):
        return attested
    claims, recipient = attested
    refused = _authorize(facts, claims) or _dataset_order(deal, claims)
    if refused is not None:
        return refused
    assert facts.enclave_challenge is not None  # _authorize checked it
    failure: Refusal | None = _grant(facts, deal, claims) or _owner_policy(facts, deal, claims)
    try:
        params = parse_release_params(deal.params)
    except ReleaseError as error:
        failure = failure or Refusal(error.code, error.message, claims)
        params = ReleaseParams()
    else:
        failure = failure or _missing_secret(facts, deal, params, claims)
    return ReleaseVerdict(task, deal, claims, recipient, facts.enclave_challenge, params, failure)


def _attest(
    facts: ReleaseFacts, verifiers: Mapping[EvidenceType, EvidenceVerifier], policy: AttestationPolicy
) -> tuple[Claims, Recipient] | Refusal:
    """Steps 2 to 4: the evidence, its report data, the policy and the app's fingerprint."""
    request = facts.request
    claims: Claims | None = None
    try:
        verified = verify_declared(request.evidence, verifiers, now=facts.now)
        if isinstance(verified, Refusal):
            return verified
        _, claims = verified
        recipient = _recipient(request, claims)
        if isinstance(recipient, Refusal):
            return recipient
        verify_report_data(
            claims, nonce=request.nonce, ephemeral_public_key=recipient.public_bytes, task_id=request.task_id
        )
    except AttestationError as error:
        return Refusal(error.code, error.message, claims)
    return _pinned(facts, claims, recipient, policy)


def verify_declared(
    text: str, verifiers: Mapping[EvidenceType, EvidenceVerifier], *, now: int
) -> tuple[Evidence, Claims] | Refusal:
    """Parse an evidence envelope and verify it with the verifier of its declared type only.

    There is no fallback to another verifier: a type this deployment has no verifier for is
    refused (``ATTEST_POLICY_TEE_TYPE``).

    Raises:
        AttestationError: the envelope or the evidence is refused (the caller turns it into a
            refusal with whatever claims it has).
    """
    evidence = Evidence.from_json(text)
    verifier = verifiers.get(evidence.type)
    if verifier is None:
        return Refusal(
            "ATTEST_POLICY_TEE_TYPE", f"evidence type {evidence.type.value!r} is not accepted here"
        )
    return evidence, verifier.verify(evidence, now=now)


def _attested_session(facts: ReleaseFacts, policy: AttestationPolicy) -> tuple[Claims, Recipient] | Refusal:
    """Steps 2 to 4 in ``session`` mode: a live session, an app that allows it, its fingerprint."""
    session = facts.session
    if session is None:
        return Refusal("RELEASE_SESSION_UNKNOWN", "a session release names no open session")
    claims = session.claims
    refused: Refusal | None = None
    if not session.opened_at <= facts.now < session.expires_at:
        refused = Refusal("RELEASE_SESSION_EXPIRED", "the attested session has expired: attest again", claims)
    elif session.requires_strict:
        refused = Refusal(
            "RELEASE_ISOLATION_STRICT_REQUIRED",
            "the app requires strict isolation (one enclave per task)",
            claims,
        )
    elif session.worker.lower() != facts.request.worker.lower():
        refused = Refusal("RELEASE_WORKER_UNAUTHORIZED", "the session serves another worker", claims)
    if refused is not None:
        return refused
    recipient = _recipient(facts.request, claims)
    if isinstance(recipient, Refusal):
        return recipient
    return _pinned(facts, claims, recipient, policy)


def _recipient(request: ReleaseRequest, claims: Claims) -> Recipient | Refusal:
    try:
        return Recipient.parse(request.ephemeral_recipient)
    except SealError:
        return Refusal(
            "ATTEST_REPORT_DATA_MISMATCH", "the ephemeral recipient is not an age X25519 recipient", claims
        )


def _pinned(
    facts: ReleaseFacts, claims: Claims, recipient: Recipient, policy: AttestationPolicy
) -> tuple[Claims, Recipient] | Refusal:
    """Step 4: the app is registered, the policy passes, the measurement is its fingerprint."""
    if facts.app is None:
        return Refusal("RELEASE_APP_UNKNOWN", "the deal's app is not registered", claims)
    try:
        policy.appraise(claims, measurement=facts.app.fingerprint)
    except AttestationError as error:
        return Refusal(error.code, error.message, claims)
    # Checked here too, whatever the policy says: the key goes only to the app's own code.
    if not hmac.compare_digest(claims.measurement, facts.app.fingerprint):
        return Refusal(
            "ATTEST_POLICY_MEASUREMENT",
            "the enclave's measurement is not the app's on-chain fingerprint",
            claims,
        )
    return claims, recipient


def _authorize(facts: ReleaseFacts, claims: Claims) -> Refusal | None:
    """Steps 6 and 7: the enclave challenge and the worker's authorization."""
    if facts.enclave_challenge is None:
        return Refusal(
            "RELEASE_NO_ENCLAVE_CHALLENGE", "no enclave challenge was requested for this task", claims
        )
    pool = facts.workerpool
    if pool is None:
        return Refusal("RELEASE_WORKERPOOL_UNKNOWN", "the deal's workerpool is not registered", claims)
    request = facts.request
    try:
        digest = authorization_digest(request.worker, request.task_id, facts.enclave_challenge)
        signer = recover_signer(digest, request.authorization)
    except SealrunError as error:
        return Refusal(
            "RELEASE_WORKER_UNAUTHORIZED", f"the worker's authorization is invalid: {error.message}", claims
        )
    if signer.lower() != pool.owner.lower():
        return Refusal(
            "RELEASE_WORKER_UNAUTHORIZED",
            "the worker's authorization is not signed by the workerpool owner for this task and enclave",
            claims,
        )
    return None


def _dataset_order(deal: DealRecord, claims: Claims) -> Refusal | None:
    """Step 8: the dataset order's restrictions on the app, requester and workerpool."""
    if not deal.has_dataset:
        return None
    rules = (
        (deal.dataset_restrict_app, deal.app, "RELEASE_DATASET_APP_NOT_ALLOWED", "app"),
        (
            deal.dataset_restrict_requester,
            deal.requester,
            "RELEASE_DATASET_REQUESTER_NOT_ALLOWED",
            "requester",
        ),
        (deal.dataset_restrict_workerpool, deal.workerpool, "RELEASE_DATASET_WORKERPOOL_NOT_ALLOWED", "pool"),
    )
    for restriction, actual, code, what in rules:
        if restriction.lower() != ZERO_ADDRESS and restriction.lower() != actual.lower():
            return Refusal(code, f"the dataset order does not allow this {what}", claims)
    return None


def _grant(facts: ReleaseFacts, deal: DealRecord, claims: Claims) -> Refusal | None:
    """Step 8b: the grant a deal was matched under still holds (an order refusal)."""
    if deal.grant_id is None:
        return None
    grant = facts.grant
    if grant is None or grant.grant_id != deal.grant_id:
        return Refusal("RELEASE_GRANT_UNKNOWN", "the deal's dataset grant is not on chain", claims)
    if grant.revoked:
        return Refusal("RELEASE_GRANT_REVOKED", "the dataset owner revoked the grant this deal uses", claims)
    if facts.now >= grant.expiry:
        return Refusal("RELEASE_GRANT_EXPIRED", "the dataset grant this deal uses has expired", claims)
    return None


def _owner_policy(facts: ReleaseFacts, deal: DealRecord, claims: Claims) -> Refusal | None:
    """Step 8c: the dataset owner's own rules for this release (an order refusal)."""
    if facts.policy is None or not deal.has_dataset:
        return None
    broken = owner_policy_refusal(
        facts.policy, claims, workerpool=deal.workerpool, isolation=facts.isolation, now=facts.now
    )
    return None if broken is None else Refusal(broken.code, broken.message, claims)


def _missing_secret(
    facts: ReleaseFacts, deal: DealRecord, params: ReleaseParams, claims: Claims
) -> Refusal | None:
    """Step 9: the order refusal for the first secret the task needs that was never pushed."""
    if deal.has_dataset and (facts.dataset is None or not facts.dataset_key_stored):
        return Refusal("RELEASE_DATASET_KEY_MISSING", "the dataset's key was never pushed", claims)
    for name in params.secrets.values():
        if name not in facts.requester_secrets_stored:
            return Refusal(
                "RELEASE_REQUESTER_SECRET_MISSING", f"requester secret {name!r} was never pushed", claims
            )
    if not facts.recipient_stored:
        return Refusal("RELEASE_RECIPIENT_MISSING", "the beneficiary has no result recipient", claims)
    return None
