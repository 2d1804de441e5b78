"""The scheduler's tables (SQLAlchemy 2), all prefixed ``scheduler_``.

A task row is the single source of truth for who may run it: a worker gets a task only by
a compare-and-set from ``pending`` to ``assigned`` in one statement, so two workers can
never hold the same task. Times are UNIX seconds (floats for heartbeats).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["AttemptRow", "Base", "DealRow", "RequestNonce", "SeenEvent", "TaskRow", "WorkerRow"]

ADDRESS = String(42)
HEX32 = String(66)


class Base(DeclarativeBase):
    """Declarative base with the scheduler's own metadata."""

    metadata = MetaData()


class DealRow(Base):
    """A deal on this pool, as matched on chain (``deal_json`` is every field of the hub's struct)."""

    __tablename__ = "scheduler_deals"
    deal_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    max_time: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    deal_json: Mapped[str] = mapped_column(Text)


class TaskRow(Base):
    """One task and its assignment."""

    __tablename__ = "scheduler_tasks"
    task_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    deal_id: Mapped[str] = mapped_column(HEX32)
    idx: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    worker: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    enclave: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    authorization: Mapped[str | None] = mapped_column(String(132), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(300), default="")
    # Self-healing: no claim before ``not_before`` (the backoff after an infrastructure
    # failure), and the worker that failed it waits its turn while another is alive.
    not_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    avoid_worker: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    # Optimistic concurrency: every write of a task checks and bumps it, so a write decided
    # on a stale read (a worker's report racing the chain's outcome) fails instead of undoing it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # SQLAlchemy reads it once
    __table_args__ = (
        Index("ix_scheduler_tasks_status", "status", "deal_id", "idx"),
        Index("ix_scheduler_tasks_worker", "worker", "status"),
    )


class AttemptRow(Base):
    """One attempt at a task: who ran it, when, and why it ended (``task show`` reads them).

    ``outcome`` is ``running`` while the attempt lasts, then ``submitted`` (a result or a
    receipt was sent on chain), ``retry`` (an infrastructure failure: the task is retried at
    ``next_retry_at``), ``settle`` (a failure whose receipt is settled: no retry), ``given_up``
    (a failure without a receipt and no retry: the task expires) or ``completed``/``failed``
    (the chain's outcome). ``code`` and ``failure_class`` name the failure, if any.
    """

    __tablename__ = "scheduler_attempts"
    task_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(ADDRESS)
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    next_retry_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(String(300), default="")


class WorkerRow(Base):
    """A registered worker, its capacity and its last heartbeat."""

    __tablename__ = "scheduler_workers"
    address: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    tee: Mapped[str] = mapped_column(String(32))
    registered_at: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)


class SeenEvent(Base):
    """A chain event already applied, so the follower's replays are no-ops."""

    __tablename__ = "scheduler_seen_events"
    tx_hash: Mapped[str] = mapped_column(HEX32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)


class RequestNonce(Base):
    """A worker's signed-request nonce, kept until the request could no longer be fresh."""

    __tablename__ = "scheduler_request_nonces"
    signer: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    nonce: Mapped[str] = mapped_column(HEX32, primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
