"""The SMS tables (SQLAlchemy 2). Every secret column holds a :mod:`.vault` envelope.

All tables are prefixed ``sms_`` so the SMS can share a database with other services; the
Alembic version table is ``sms_alembic_version``. Times are UNIX seconds (integers).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AppSecret",
    "AttestationNonce",
    "AuditEntry",
    "Base",
    "DatasetKey",
    "DatasetPolicy",
    "EnclaveKey",
    "RequestNonce",
    "RequesterSecret",
    "ResultRecipient",
    "TaskReleases",
]

ADDRESS = String(42)
HEX32 = String(66)


class Base(DeclarativeBase):
    """Declarative base with the SMS's own metadata."""

    metadata = MetaData()


class DatasetKey(Base):
    """A dataset's age identity, written once by its on-chain owner."""

    __tablename__ = "sms_dataset_keys"
    dataset: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    owner: Mapped[str] = mapped_column(ADDRESS)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # The owner's file name for the dataset (IEXEC_DATASET_FILENAME); None if she gave none.
    filename: Mapped[str | None] = mapped_column(String(1024), nullable=True, default=None)


class DatasetPolicy(Base):
    """A dataset owner's release policy (canonical JSON, sealed for integrity; decision 0090)."""

    __tablename__ = "sms_dataset_policies"
    dataset: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    owner: Mapped[str] = mapped_column(ADDRESS)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(HEX32)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AppSecret(Base):
    """An app developer's secret (``IEXEC_APP_DEVELOPER_SECRET``)."""

    __tablename__ = "sms_app_secrets"
    app: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    owner: Mapped[str] = mapped_column(ADDRESS)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class RequesterSecret(Base):
    """A requester's named secret, referenced by name from a request's params."""

    __tablename__ = "sms_requester_secrets"
    requester: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ResultRecipient(Base):
    """A beneficiary's age recipient (public): results are sealed to it."""

    __tablename__ = "sms_result_recipients"
    beneficiary: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(62))
    updated_at: Mapped[int] = mapped_column(BigInteger)


class EnclaveKey(Base):
    """The per-task enclave challenge key (secp256k1), created once per task."""

    __tablename__ = "sms_enclave_keys"
    task_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    address: Mapped[str] = mapped_column(ADDRESS)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)


class TaskReleases(Base):
    """How many times a task's secrets were released (each attempt past the cap gets a failure bundle)."""

    __tablename__ = "sms_task_releases"
    task_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    releases: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AttestationNonce(Base):
    """A single-use attestation nonce for one task."""

    __tablename__ = "sms_attestation_nonces"
    nonce: Mapped[str] = mapped_column(HEX32, primary_key=True)
    task_id: Mapped[str] = mapped_column(HEX32, index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    consumed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RequestNonce(Base):
    """A used signed-request nonce, kept until its request could no longer be fresh."""

    __tablename__ = "sms_request_nonces"
    signer: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    nonce: Mapped[str] = mapped_column(HEX32, primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditEntry(Base):
    """One hash-chained audit record: a release or a refusal (see :mod:`.audit`)."""

    __tablename__ = "sms_audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(HEX32, nullable=True, index=True)
    dataset: Mapped[str | None] = mapped_column(ADDRESS, nullable=True, index=True)
    app: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    requester: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    workerpool: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    worker: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    tee: Mapped[str | None] = mapped_column(String(32), nullable=True)
    measurement: Mapped[str | None] = mapped_column(String(130), nullable=True)
    # The digest of the dataset owner's release policy this release applied (None: none).
    policy: Mapped[str | None] = mapped_column(HEX32, nullable=True, default=None)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(HEX32)
    entry_hash: Mapped[str] = mapped_column(HEX32, unique=True)
