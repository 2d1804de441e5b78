"""The SMS's persistence: one transaction per operation, on SQLite or PostgreSQL.

Races are settled by the database, not by reading first: a second write of a dataset key
or a reused nonce hits a primary key or a guarded ``UPDATE`` and fails with its code. So
several SMS processes may share one PostgreSQL database: release counts are guarded
``UPDATE`` statements, nonces single-use rows, and the audit chain's appends queue behind a
transaction-scoped advisory lock (:func:`~sealrun.adapters.db.locks.serialize`), so two
writers never read the same head and the chain never forks.

Error codes: ``SECRET_EXISTS`` (:class:`~sealrun.errors.SecretError`), ``REQUEST_REPLAYED``
(:class:`~sealrun.errors.RequestError`), ``RELEASE_NONCE_UNKNOWN`` / ``RELEASE_NONCE_EXPIRED``
/ ``RELEASE_NONCE_USED``; database outages surface as ``DB_UNAVAILABLE``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sealrun.adapters.db.locks import serialize
from sealrun.errors import DatabaseError, ReleaseError, RequestError, SecretError
from sealrun.services.sms.audit import GENESIS_HASH, AuditFacts, AuditRecord, audit_entry_hash
from sealrun.services.sms.models import (
    AppSecret,
    AttestationNonce,
    AuditEntry,
    DatasetKey,
    DatasetPolicy,
    EnclaveKey,
    RequesterSecret,
    RequestNonce,
    ResultRecipient,
    TaskReleases,
)

__all__ = ["SEALED_TABLES", "ReleaseMaterial", "SmsRepository"]

# The tables holding vault envelopes, with the columns that make up each row's identity
# (bound into the envelope's associated data).
SEALED_TABLES: dict[
    str, tuple[type[DatasetKey | AppSecret | RequesterSecret | EnclaveKey | DatasetPolicy], tuple[str, ...]]
] = {
    "dataset-key": (DatasetKey, ("dataset",)),
    "dataset-policy": (DatasetPolicy, ("dataset",)),
    "app-secret": (AppSecret, ("app",)),
    "requester-secret": (RequesterSecret, ("requester", "name")),
    "enclave-key": (EnclaveKey, ("task_id",)),
}
_AUDIT_RETRIES = 20


def row_identity(*parts: str) -> str:
    """The identity string of a sealed row (joined with ``/``; addresses lowercased)."""
    return "/".join(part.lower() for part in parts)


@dataclass(frozen=True)
class ReleaseMaterial:
    """Every stored row one release needs, read in one transaction."""

    enclave: EnclaveKey | None
    dataset_key: DatasetKey | None
    requester_secrets: dict[str, RequesterSecret]
    app_secret: AppSecret | None
    recipient: ResultRecipient | None


class SmsRepository:
    """Reads and writes the SMS tables.

    Args:
        sessions: the session factory of the service's engine.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._audit_lock = threading.Lock()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as error:
            raise DatabaseError("the SMS database is unavailable", code="DB_UNAVAILABLE") from error

    # -- signed-request nonces (RequestNonceStore) -------------------------------------------
    def consume(self, signer: str, nonce: bytes, *, expires_at: int) -> None:
        """Record a used request nonce; raise ``REQUEST_REPLAYED`` if it was used before."""
        try:
            with self._transaction() as session:
                session.add(
                    RequestNonce(signer=signer.lower(), nonce="0x" + nonce.hex(), expires_at=expires_at)
                )
        except IntegrityError as error:
            raise RequestError("this request was already used", code="REQUEST_REPLAYED") from error

    def prune(self, now: int) -> None:
        """Forget request nonces and attestation nonces that can no longer be used."""
        with self._transaction() as session:
            session.execute(delete(RequestNonce).where(RequestNonce.expires_at < now))
            session.execute(delete(AttestationNonce).where(AttestationNonce.expires_at < now - 86400))

    # -- secrets --------------------------------------------------------------------------------
    def insert_dataset_key(self, row: DatasetKey) -> None:
        """Store a dataset key once; raise ``SECRET_EXISTS`` if the dataset has one."""
        try:
            with self._transaction() as session:
                session.add(row)
        except IntegrityError as error:
            raise SecretError("this dataset already has a key", code="SECRET_EXISTS") from error

    def save(self, row: AppSecret | RequesterSecret | ResultRecipient | DatasetPolicy) -> None:
        """Insert or replace an app secret, requester secret, result recipient or dataset policy.

        ``merge`` reads then inserts: when another process inserted the same row in between,
        the insert fails on the primary key and the second try updates that row instead.
        """
        for last in (False, True):
            try:
                with self._transaction() as session:
                    session.merge(row)
                return
            except IntegrityError:
                if last:
                    raise

    def dataset_key(self, dataset: str) -> DatasetKey | None:
        """The dataset's key row."""
        with self._transaction() as session:
            return session.get(DatasetKey, dataset.lower())

    def dataset_policy(self, dataset: str) -> DatasetPolicy | None:
        """The dataset owner's release policy row."""
        with self._transaction() as session:
            return session.get(DatasetPolicy, dataset.lower())

    def app_secret(self, app: str) -> AppSecret | None:
        """The app's developer secret row."""
        with self._transaction() as session:
            return session.get(AppSecret, app.lower())

    def requester_secret(self, requester: str, name: str) -> RequesterSecret | None:
        """A requester's named secret row."""
        with self._transaction() as session:
            return session.get(RequesterSecret, (requester.lower(), name))

    def requester_secret_names(self, requester: str, *, after: str, limit: int) -> list[tuple[str, int]]:
        """A requester's secret names after ``after`` (sorted) and when each was written."""
        with self._transaction() as session:
            rows = session.execute(
                select(RequesterSecret.name, RequesterSecret.updated_at)
                .where(RequesterSecret.requester == requester.lower(), RequesterSecret.name > after)
                .order_by(RequesterSecret.name)
                .limit(limit)
            )
            return [(name, updated_at) for name, updated_at in rows]

    def recipient(self, beneficiary: str) -> ResultRecipient | None:
        """A beneficiary's result recipient row."""
        with self._transaction() as session:
            return session.get(ResultRecipient, beneficiary.lower())

    # -- enclave keys ---------------------------------------------------------------------------
    def enclave_key(self, task_id: str) -> EnclaveKey | None:
        """The task's enclave key row."""
        with self._transaction() as session:
            return session.get(EnclaveKey, task_id)

    def enclave_key_or_create(self, task_id: str, make: Callable[[], EnclaveKey]) -> EnclaveKey:
        """Return the task's enclave key, creating it with ``make`` once (idempotent under races)."""
        existing = self.enclave_key(task_id)
        if existing is not None:
            return existing
        try:
            with self._transaction() as session:
                row = make()
                session.add(row)
            return row
        except IntegrityError:
            winner = self.enclave_key(task_id)
            assert winner is not None  # the conflicting insert committed it
            return winner

    def release_material(
        self,
        *,
        task_id: str,
        dataset: str | None,
        requester: str,
        names: list[str],
        app: str,
        beneficiary: str,
    ) -> ReleaseMaterial:
        """Read the enclave key, dataset key, named requester secrets, app secret and recipient."""
        with self._transaction() as session:
            secrets = {}
            for name in names:
                row = session.get(RequesterSecret, (requester.lower(), name))
                if row is not None:
                    secrets[name] = row
            return ReleaseMaterial(
                enclave=session.get(EnclaveKey, task_id),
                dataset_key=None if dataset is None else session.get(DatasetKey, dataset.lower()),
                requester_secrets=secrets,
                app_secret=session.get(AppSecret, app.lower()),
                recipient=session.get(ResultRecipient, beneficiary.lower()),
            )

    def reserve_release(self, task_id: str, *, cap: int, now: int) -> bool:
        """Count one release of the task's secrets if fewer than ``cap`` were made; else False.

        A guarded ``UPDATE`` (or the primary key of the first insert) settles concurrent
        releases, so no more than ``cap`` ever succeed, whatever the number of SMS processes.
        """
        for _ in range(2):
            try:
                with self._transaction() as session:
                    done = session.execute(
                        update(TaskReleases)
                        .where(TaskReleases.task_id == task_id, TaskReleases.releases < cap)
                        .values(releases=TaskReleases.releases + 1, updated_at=now)
                    )
                    if done.rowcount == 1:  # type: ignore[attr-defined]
                        return True
                    if session.get(TaskReleases, task_id) is not None:
                        return False  # at the cap
                    if cap < 1:
                        return False
                    session.add(TaskReleases(task_id=task_id, releases=1, updated_at=now))
                return True
            except IntegrityError:
                continue  # another release inserted the first row: count against it
        raise DatabaseError("the release counter is contended; try again", code="DB_UNAVAILABLE")

    def releases(self, task_id: str) -> int:
        """How many times the task's secrets were released."""
        with self._transaction() as session:
            row = session.get(TaskReleases, task_id)
            return 0 if row is None else row.releases

    # -- attestation nonces ---------------------------------------------------------------------
    def issue_nonce(self, nonce: str, task_id: str, expires_at: int) -> None:
        """Store a fresh attestation nonce."""
        with self._transaction() as session:
            session.add(AttestationNonce(nonce=nonce, task_id=task_id, expires_at=expires_at))

    def consume_nonce(self, nonce: str, task_id: str, now: int) -> None:
        """Use an attestation nonce exactly once.

        Raises:
            SecretError: ``RELEASE_NONCE_UNKNOWN`` (never issued, or for another task),
                ``RELEASE_NONCE_EXPIRED``, ``RELEASE_NONCE_USED``.
        """
        with self._transaction() as session:
            row = session.get(AttestationNonce, nonce)
            if row is None or row.task_id != task_id:
                raise ReleaseError("this nonce was not issued for this task", code="RELEASE_NONCE_UNKNOWN")
            if row.consumed_at is not None:
                raise ReleaseError("this nonce was already used", code="RELEASE_NONCE_USED")
            if now >= row.expires_at:
                raise ReleaseError("this nonce has expired", code="RELEASE_NONCE_EXPIRED")
            # The guarded UPDATE settles a race between two releases presenting the same nonce.
            done = session.execute(
                update(AttestationNonce)
                .where(AttestationNonce.nonce == nonce, AttestationNonce.consumed_at.is_(None))
                .values(consumed_at=now)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise ReleaseError("this nonce was already used", code="RELEASE_NONCE_USED")

    # -- audit log ------------------------------------------------------------------------------
    def append_audit(self, facts: AuditFacts, at: int) -> AuditRecord:
        """Append one record to the hash chain.

        The head is read and the record written under the ``sms:audit`` advisory lock
        (PostgreSQL; several SMS processes queue there), and under a process lock (SQLite's
        one writer): a record's ``seq`` primary key is the last guard, and a writer that
        still loses the slot reads the new head and tries again.
        """
        with self._audit_lock:
            for _ in range(_AUDIT_RETRIES):
                try:
                    with self._transaction() as session:
                        serialize(session, "sms:audit")
                        last = session.execute(
                            select(AuditEntry.seq, AuditEntry.entry_hash)
                            .order_by(AuditEntry.seq.desc())
                            .limit(1)
                        ).first()
                        seq, prev = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
                        values = {"seq": seq, "at": at, **_facts_dict(facts), "prev_hash": prev}
                        entry_hash = audit_entry_hash(values)
                        session.add(AuditEntry(**values, entry_hash=entry_hash))
                    return AuditRecord(**values, entry_hash=entry_hash)  # type: ignore[arg-type]
                except IntegrityError:
                    continue
        raise DatabaseError("the audit log is contended; try again", code="DB_UNAVAILABLE")

    def audit_records(
        self, *, dataset: str | None = None, after: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        """Audit records in order, optionally only those about ``dataset``."""
        query = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
        if dataset is not None:
            query = query.where(AuditEntry.dataset == dataset.lower())
        with self._transaction() as session:
            return [_record(row) for row in session.scalars(query)]

    def audit_entry(self, seq: int) -> AuditRecord | None:
        """The audit record at position ``seq`` (``None`` past the head)."""
        with self._transaction() as session:
            row = session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).first()
            return None if row is None else _record(row)

    def audit_head(self) -> AuditRecord | None:
        """The newest audit record."""
        with self._transaction() as session:
            row = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
            return None if row is None else _record(row)

    # -- master-key rotation --------------------------------------------------------------------
    def reseal_all(self, reseal: Callable[[bytes, str, str], bytes | None]) -> int:
        """Re-seal every envelope with ``reseal(envelope, kind, row)``; return rows rewritten."""
        changed = 0
        with self._transaction() as session:
            for kind, (model, keys) in SEALED_TABLES.items():
                rows: list[DatasetKey | AppSecret | RequesterSecret | EnclaveKey | DatasetPolicy] = list(
                    session.scalars(select(model))
                )
                for row in rows:
                    identity = row_identity(*(getattr(row, key) for key in keys))
                    fresh = reseal(row.sealed, kind, identity)
                    if fresh is not None:
                        row.sealed = fresh
                        changed += 1
        return changed


def _facts_dict(facts: AuditFacts) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        field.name: getattr(facts, field.name) for field in dataclass_fields(facts)
    }
    for key in ("dataset", "app", "requester", "workerpool", "worker"):
        if values[key] is not None:
            values[key] = str(values[key]).lower()
    return values


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=row.seq, at=row.at, event=row.event, code=row.code, detail=row.detail, task_id=row.task_id,
        dataset=row.dataset, app=row.app, requester=row.requester, workerpool=row.workerpool,
        worker=row.worker, tee=row.tee, measurement=row.measurement, prev_hash=row.prev_hash,
        entry_hash=row.entry_hash, policy=row.policy,
    )  # fmt: skip
