"""What the SMS does: store secrets for their on-chain owners, mint per-task enclave keys,
and release one sealed secrets bundle to an attested, authorized, entitled enclave.

Everything here is synchronous and takes its collaborators through the constructor: the
chain reader, the repository, the master keyring, the request verifier, the evidence
verifiers (one per evidence type), the attestation policy, the clock and the randomness.
Error codes are listed in :mod:`sealrun.services.sms.codes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_utils import to_checksum_address

from sealrun.adapters.web import SignedCall
from sealrun.api.ids import bytes32_hex, task_id_hex
from sealrun.core.attestation import EvidenceType
from sealrun.core.chainstate import ChainReader, DealRecord, TaskRecord
from sealrun.core.releases import (
    AttestationPolicy,
    AttestedSession,
    EvidenceVerifier,
    canonical_policy,
    check_session_request,
    liveness_refusal,
    parse_owner_policy,
)
from sealrun.core.requests import RequestVerifier, VerifiedRequest
from sealrun.core.sealing import Identity, Recipient
from sealrun.core.secretrules import check_secret_name, check_secret_value
from sealrun.core.tasks.filenames import check_dataset_filename
from sealrun.errors import ConfigError, ReleaseError, SealError, SecretError
from sealrun.services.sms.audit import AuditFacts, AuditRecord
from sealrun.services.sms.models import (
    AppSecret,
    DatasetKey,
    DatasetPolicy,
    EnclaveKey,
    RequesterSecret,
    ResultRecipient,
)
from sealrun.services.sms.options import SmsOptions
from sealrun.services.sms.release import Releaser, ReleaseRequest, SealedSecretsBundle
from sealrun.services.sms.repository import SmsRepository, row_identity
from sealrun.services.sms.sessions import SessionOpener, SessionRequest, SessionTable
from sealrun.services.sms.vault import MasterKeyring

__all__ = [
    "AttestationPolicy",
    "DatasetPolicyStatus",
    "EvidenceVerifier",
    "SecretStatus",
    "SmsOptions",
    "SmsUseCases",
]

_IDENTITY = re.compile(r"^AGE-SECRET-KEY-1[0-9A-Z]{58}$")
_RECIPIENT = re.compile(r"^age1[0-9a-z]{58}$")
_PRUNE_EVERY = 512


@dataclass(frozen=True)
class SecretStatus:
    """That a secret exists (never its value), who wrote it and when."""

    subject: str
    owner: str | None
    updated_at: int


@dataclass(frozen=True)
class DatasetPolicyStatus:
    """A dataset owner's release policy as stored: its canonical document and digest."""

    dataset: str
    owner: str
    document: str
    digest: str
    updated_at: int


def _address(value: str) -> str:
    try:
        return to_checksum_address(value)
    except (ValueError, TypeError) as error:
        raise SecretError(f"not an Ethereum address: {value!r}", code="SECRET_INVALID") from error


def _parse_age(parse: Callable[[str], object], text: str, message: str) -> None:
    # The bundle format accepts only the canonical spelling, so refuse anything else here.
    if not (_IDENTITY.match(text) or _RECIPIENT.match(text)):
        raise SecretError(message, code="SECRET_INVALID")
    try:
        parse(text)
    except SealError as error:
        raise SecretError(message, code="SECRET_INVALID") from error


def _same(left: str, right: str) -> bool:
    return left.lower() == right.lower()


class SmsUseCases:
    """The SMS's operations; one instance per process, shared by all requests."""

    def __init__(
        self,
        *,
        chain: ChainReader,
        repository: SmsRepository,
        keyring: MasterKeyring,
        requests: RequestVerifier,
        verifiers: Mapping[EvidenceType, EvidenceVerifier],
        policy: AttestationPolicy,
        clock: Callable[[], int],
        random: Callable[[int], bytes],
        options: SmsOptions | None = None,
    ) -> None:
        self.chain = chain
        self.repository = repository
        self.keyring = keyring
        self.requests = requests
        self.clock = clock
        self.random = random
        self.options = options or SmsOptions()
        self._calls = 0
        self._releaser = Releaser(
            chain=chain, repository=repository, keyring=keyring, verifiers=verifiers, policy=policy,
            clock=clock, random=random, options=self.options,
        )  # fmt: skip
        # Attested sessions live in this process only (an SMS restart drops them: decision 0080).
        self.sessions = SessionTable()
        self._opener = SessionOpener(
            repository=repository, table=self.sessions, verifiers=verifiers, policy=policy,
            clock=clock, random=random, ttl=self.options.session_ttl,
        )  # fmt: skip

    # -- authentication -------------------------------------------------------------------------
    def authenticate(self, call: SignedCall) -> VerifiedRequest:
        """Verify a signed call (signature, freshness, single-use nonce) and return its signer."""
        self._maybe_prune()
        return self.requests.verify(
            action=call.action, body=call.body, signed=call.signature, now=self.clock()
        )

    def _maybe_prune(self) -> None:
        # Used nonces only matter while they could still be fresh; forget the rest every
        # _PRUNE_EVERY calls instead of on a timer, so no background thread is needed.
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 1:
            self.repository.prune(self.clock())

    def _owned_by(self, call: SignedCall, owner: str, what: str) -> VerifiedRequest:
        verified = self.authenticate(call)
        if not _same(verified.signer, owner):
            raise SecretError(f"the request is not signed by the {what}", code="SECRET_NOT_OWNER")
        return verified

    # -- secrets --------------------------------------------------------------------------------
    def put_dataset_key(
        self, call: SignedCall, dataset: str, key: str, *, filename: str | None = None
    ) -> SecretStatus:
        """Store a dataset's age identity and file name, once, for its on-chain owner.

        Raises:
            SecretError: ``DATASET_FILENAME_INVALID`` (the name breaks
                :func:`~sealrun.core.tasks.filenames.check_dataset_filename`), ``SECRET_INVALID``,
                ``SECRET_ASSET_UNKNOWN``, ``SECRET_NOT_OWNER``, ``SECRET_EXISTS``.
        """
        dataset = _address(dataset)
        _parse_age(Identity.parse, key, "a dataset key must be an age identity (AGE-SECRET-KEY-1…)")
        if filename is not None:
            try:
                check_dataset_filename(filename)
            except ConfigError as error:
                raise SecretError(error.message, code=error.code) from error
        record = self.chain.dataset(dataset)
        if record is None:
            raise SecretError(f"dataset {dataset} is not registered", code="SECRET_ASSET_UNKNOWN")
        signed = self._owned_by(call, record.owner, "dataset's owner")
        identity = row_identity(dataset)
        now = self.clock()
        sealed = self.keyring.seal(key.encode(), kind="dataset-key", row=identity)
        row = DatasetKey(
            dataset=dataset.lower(),
            owner=signed.signer.lower(),
            sealed=sealed,
            created_at=now,
            filename=filename,
        )
        self.repository.insert_dataset_key(row)
        return SecretStatus(subject=dataset, owner=signed.signer, updated_at=now)

    def dataset_key_status(self, dataset: str) -> SecretStatus:
        """Whether the dataset has a key (never the key)."""
        row = self.repository.dataset_key(_address(dataset))
        if row is None:
            raise SecretError("this dataset has no key", code="SECRET_NOT_FOUND")
        return SecretStatus(subject=_address(dataset), owner=_address(row.owner), updated_at=row.created_at)

    def put_dataset_policy(self, call: SignedCall, dataset: str) -> DatasetPolicyStatus:
        """Store (or replace) a dataset's release policy for its on-chain owner; the signed
        body is the policy document (decision 0090). Every later release applies it.

        Raises:
            SecretError: ``SECRET_POLICY_INVALID``, ``SECRET_ASSET_UNKNOWN``, ``SECRET_NOT_OWNER``.
        """
        dataset = _address(dataset)
        policy = parse_owner_policy(call.body)
        record = self.chain.dataset(dataset)
        if record is None:
            raise SecretError(f"dataset {dataset} is not registered", code="SECRET_ASSET_UNKNOWN")
        signed = self._owned_by(call, record.owner, "dataset's owner")
        now = self.clock()
        document = canonical_policy(policy)
        sealed = self.keyring.seal(document.encode(), kind="dataset-policy", row=row_identity(dataset))
        self.repository.save(
            DatasetPolicy(
                dataset=dataset.lower(),
                owner=signed.signer.lower(),
                sealed=sealed,
                digest=policy.digest,
                updated_at=now,
            )
        )
        return DatasetPolicyStatus(dataset, signed.signer, document, policy.digest, now)

    def dataset_policy(self, dataset: str) -> DatasetPolicyStatus:
        """The dataset's release policy (public).

        Raises:
            SecretError: ``SECRET_NOT_FOUND`` (none set), ``SECRET_AT_REST_*`` (tampered row).
        """
        dataset = _address(dataset)
        row = self.repository.dataset_policy(dataset)
        if row is None:
            raise SecretError("this dataset has no release policy", code="SECRET_NOT_FOUND")
        document = self.keyring.open(row.sealed, kind="dataset-policy", row=row_identity(dataset)).decode()
        return DatasetPolicyStatus(dataset, _address(row.owner), document, row.digest, row.updated_at)

    def put_app_secret(self, call: SignedCall, app: str, value: str) -> SecretStatus:
        """Store (or replace) an app's developer secret, for the app's on-chain owner."""
        app = _address(app)
        check_secret_value(value)
        record = self.chain.app(app)
        if record is None:
            raise SecretError(f"app {app} is not registered", code="SECRET_ASSET_UNKNOWN")
        signed = self._owned_by(call, record.owner, "app's owner")
        now = self.clock()
        sealed = self.keyring.seal(value.encode(), kind="app-secret", row=row_identity(app))
        self.repository.save(
            AppSecret(app=app.lower(), owner=signed.signer.lower(), sealed=sealed, updated_at=now)
        )
        return SecretStatus(subject=app, owner=signed.signer, updated_at=now)

    def app_secret_status(self, app: str) -> SecretStatus:
        """Whether the app has a developer secret."""
        row = self.repository.app_secret(_address(app))
        if row is None:
            raise SecretError("this app has no developer secret", code="SECRET_NOT_FOUND")
        return SecretStatus(subject=_address(app), owner=_address(row.owner), updated_at=row.updated_at)

    def put_requester_secret(self, call: SignedCall, requester: str, name: str, value: str) -> SecretStatus:
        """Store (or replace) a requester's named secret; only the requester may write it."""
        requester = _address(requester)
        check_secret_name(name)
        check_secret_value(value)
        self._owned_by(call, requester, "requester")
        now = self.clock()
        identity = row_identity(requester, name)
        sealed = self.keyring.seal(value.encode(), kind="requester-secret", row=identity)
        self.repository.save(
            RequesterSecret(requester=requester.lower(), name=name, sealed=sealed, updated_at=now)
        )
        return SecretStatus(subject=f"{requester}/{name}", owner=requester, updated_at=now)

    def requester_secret_status(self, requester: str, name: str) -> SecretStatus:
        """Whether the requester has a secret of this name."""
        row = self.repository.requester_secret(_address(requester), check_secret_name(name))
        if row is None:
            raise SecretError("no such requester secret", code="SECRET_NOT_FOUND")
        return SecretStatus(
            subject=f"{_address(requester)}/{name}", owner=_address(requester), updated_at=row.updated_at
        )

    def requester_secret_names(
        self, call: SignedCall, requester: str, *, after: str, limit: int
    ) -> list[tuple[str, int]]:
        """The names of a requester's secrets and when each was written, for the requester only.

        Existence of one name is public (:meth:`requester_secret_status`); the list is not,
        because names can say what a requester works on.
        """
        requester = _address(requester)
        self._owned_by(call, requester, "requester")
        return self.repository.requester_secret_names(requester, after=after, limit=limit)

    def put_result_recipient(self, call: SignedCall, beneficiary: str, recipient: str) -> SecretStatus:
        """Store (or replace) the age recipient results for ``beneficiary`` are sealed to."""
        beneficiary = _address(beneficiary)
        _parse_age(Recipient.parse, recipient, "a result recipient must be an age recipient (age1…)")
        self._owned_by(call, beneficiary, "beneficiary")
        now = self.clock()
        self.repository.save(
            ResultRecipient(beneficiary=beneficiary.lower(), recipient=recipient, updated_at=now)
        )
        return SecretStatus(subject=beneficiary, owner=beneficiary, updated_at=now)

    def result_recipient(self, beneficiary: str) -> str:
        """The beneficiary's result recipient (public)."""
        row = self.repository.recipient(_address(beneficiary))
        if row is None:
            raise SecretError("this beneficiary has no result recipient", code="SECRET_NOT_FOUND")
        return row.recipient

    # -- tasks ----------------------------------------------------------------------------------
    def live_task(self, task_id: bytes) -> tuple[TaskRecord, DealRecord]:
        """The task and its deal, if the task may still run in a TEE.

        Raises:
            SecretError: ``RELEASE_TASK_UNKNOWN``, ``RELEASE_DEAL_UNKNOWN``,
                ``RELEASE_DEAL_NOT_TEE``, ``RELEASE_TASK_FINALIZED``, ``RELEASE_TASK_PAST_DEADLINE``.
        """
        task = self.chain.task(task_id)
        return self.check_live(task, None if task is None else self.chain.deal(task.deal_id))

    def check_live(self, task: TaskRecord | None, deal: DealRecord | None) -> tuple[TaskRecord, DealRecord]:
        """Check already-read chain records (see :meth:`live_task`)."""
        refusal = liveness_refusal(task, deal, now=self.clock())
        if refusal is not None:
            raise refusal.error()
        assert task is not None  # liveness_refusal checked both
        assert deal is not None
        return task, deal

    def enclave_challenge(self, call: SignedCall, task_id: bytes) -> str:
        """Return the task's enclave challenge address, creating its key once.

        Only the owner of the deal's workerpool (its scheduler) may ask.
        """
        _task, deal = self.live_task(task_id)
        pool = self.chain.workerpool(deal.workerpool)
        if pool is None:
            raise ReleaseError("the deal's workerpool is not registered", code="RELEASE_WORKERPOOL_UNKNOWN")
        self._owned_by(call, pool.owner, "workerpool's owner")
        task_hex = task_id_hex(task_id)

        def make() -> EnclaveKey:
            account = Account.from_key(self.random(32))
            sealed = self.keyring.seal(bytes(account.key), kind="enclave-key", row=row_identity(task_hex))
            return EnclaveKey(
                task_id=task_hex, address=account.address, sealed=sealed, created_at=self.clock()
            )

        return self.repository.enclave_key_or_create(task_hex, make).address

    def issue_nonce(self, task_id: bytes) -> tuple[bytes, int]:
        """Issue a single-use attestation nonce for a live task; return it and its expiry."""
        self.live_task(task_id)
        self._maybe_prune()
        nonce = self.random(32)
        expires_at = self.clock() + self.options.nonce_ttl
        self.repository.issue_nonce(bytes32_hex(nonce), task_id_hex(task_id), expires_at)
        return nonce, expires_at

    def release(self, request: ReleaseRequest) -> SealedSecretsBundle:
        """Appraise an enclave and release its sealed bundle; every outcome is audited."""
        return self._releaser.release(request)

    # -- attested sessions (isolation mode ``session``, decision 0080) -------------------------
    def issue_session_nonce(self) -> tuple[bytes, int]:
        """A single-use nonce to open an attested session, and its expiry."""
        self._maybe_prune()
        return self._opener.issue_nonce(self.options.nonce_ttl)

    def open_session(self, request: SessionRequest) -> AttestedSession:
        """Verify a session enclave's evidence and open its session (audited)."""
        return self._opener.open(request)

    def release_in_session(
        self, request: ReleaseRequest, *, session_id: bytes, sequence: int, signature: bytes
    ) -> SealedSecretsBundle:
        """Release one task's secrets over an open session, checked per task as any release.

        Raises:
            ReleaseError: ``RELEASE_SESSION_UNKNOWN`` (audited), ``RELEASE_SESSION_SIGNATURE_INVALID``,
                ``RELEASE_SESSION_REPLAYED``, and every refusal of a release.
        """
        try:
            session = self.sessions.get(session_id)

            def check(last: int) -> None:
                check_session_request(
                    session, task_id=request.task_id, worker=request.worker,
                    ephemeral_recipient=request.ephemeral_recipient, sequence=sequence,
                    last_sequence=last, signature=signature,
                )  # fmt: skip

            self.sessions.use_sequence(session_id, check, sequence)
        except ReleaseError as error:
            detail = f"isolation session 0x{session_id.hex()}: release: {error.message}"
            self.audit(AuditFacts(event="refusal", code=error.code, detail=detail,
                                  task_id=task_id_hex(request.task_id), worker=request.worker))  # fmt: skip
            raise
        return self._releaser.release(request, session=session)

    # -- audit ----------------------------------------------------------------------------------
    def audit(self, facts: AuditFacts) -> AuditRecord:
        """Append one audit record at the current time."""
        return self.repository.append_audit(facts, self.clock())

    def dataset_audit(self, call: SignedCall, dataset: str, *, after: int, limit: int) -> list[AuditRecord]:
        """The audit records about a dataset, for its on-chain owner."""
        dataset = _address(dataset)
        record = self.chain.dataset(dataset)
        if record is None:
            raise SecretError(f"dataset {dataset} is not registered", code="SECRET_ASSET_UNKNOWN")
        self._owned_by(call, record.owner, "dataset's owner")
        return self.repository.audit_records(dataset=dataset, after=after, limit=limit)

    def audit_entry(self, seq: int) -> AuditRecord | None:
        """The audit record at position ``seq`` (``None`` past the head)."""
        return self.repository.audit_entry(seq)

    def audit_head(self) -> AuditRecord | None:
        """The newest audit record (its hash commits to the whole log)."""
        return self.repository.audit_head()

    def rotate_master_key(self) -> int:
        """Re-seal every stored secret under the current master key; return rows rewritten."""
        return self.repository.reseal_all(
            lambda envelope, kind, row: self.keyring.reseal(envelope, kind=kind, row=row)
        )
