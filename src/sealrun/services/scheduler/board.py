"""The scheduler's task board in SQL: deals, tasks, workers and their assignments.

Task states::

    pending ──claim──> assigned ──running──> running ──submitted──> submitted
       ^                  │                    │                       │
       └──── worker lost, abandoned, or restarted without it ──────────┘
    any live state ── TaskCompleted / TaskFailed / TaskClaimed on chain ──> completed | failed
    any live state ── worker lost after the deadline leaves no time ──> expired
    pending ── handed out ``max_claims`` times already ──> expired
    held ── a failed attempt (``fail_attempt``) ──> pending after a backoff (an infrastructure
            failure with time left), stays held (its receipt is settled), or expired (no
            receipt, no retry)

Every hand-out opens an attempt (:class:`AttemptRow`) and whatever ends it (a report, a
sweep, a restart, the chain) closes it with its outcome, code and class; a pending task is
not handed out before its ``not_before`` (the backoff), and the worker that failed it waits
``reroute_grace`` seconds more while another worker is alive, so the retry goes elsewhere.

A worker takes a task only through :meth:`TaskBoard.claim`, an ``UPDATE ... WHERE status =
'pending'`` whose row count says whether *this* worker won; nothing else moves a task out
of ``pending``, so a task is never held by two workers. Chain events are applied once:
their ``(tx_hash, log_index)`` is stored in the same transaction as their effect. Every
other write of a task is checked against the version of the task it was decided on
(:meth:`TaskBoard._write`): a worker's report that crosses the chain's outcome is decided
again on the task as it now is, so a final state is never undone by a late writer.

Errors (:class:`~sealrun.errors.ServiceError`): ``ASSIGNMENT_NOT_YOURS`` when a worker
reports on a task it does not hold, ``TASK_UNKNOWN``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from sealrun.core.tasks import FailureClass, RetryDecision
from sealrun.errors import ServiceError
from sealrun.services.scheduler.models import AttemptRow, DealRow, SeenEvent, TaskRow, WorkerRow

#: ``decide(code, failures, deal)``: the retry decision for a failed attempt (the service's policy).
Decide = Callable[[str, int, DealRow], RetryDecision]

__all__ = ["HELD", "Decide", "TaskBoard"]

PENDING, ASSIGNED, RUNNING, SUBMITTED = "pending", "assigned", "running", "submitted"
COMPLETED, FAILED, EXPIRED = "completed", "failed", "expired"
HELD = (ASSIGNED, RUNNING, SUBMITTED)
FINAL = (COMPLETED, FAILED, EXPIRED)
#: Times a write found stale (the task moved between its read and its write) is decided again.
STALE_RETRIES = 8

T = TypeVar("T")


class TaskBoard:
    """The scheduler's SQL repository.

    Args:
        sessions: the scheduler's session factory.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _write(self, change: Callable[[Session], T]) -> T:
        """Run ``change`` in a transaction; decide it again, on a fresh read, when it went stale.

        Every task row carries a version (``version_id_col``) that each write checks and bumps,
        so a change decided on a read that another writer has since overtaken (the chain
        follower settling the task while a worker's report was on its way) raises
        ``StaleDataError`` instead of silently undoing the other write; it is then re-run and
        sees the task as it now is.
        """
        for _ in range(STALE_RETRIES - 1):
            try:
                with self._sessions.begin() as session:
                    return change(session)
            except StaleDataError:
                continue
        with self._sessions.begin() as session:
            return change(session)

    # -- chain events -------------------------------------------------------------------

    def add_deal(
        self, deal: DealRow, task_ids: Sequence[tuple[str, int]], *, event: tuple[bytes, int], now: float
    ) -> bool:
        """Record a deal on this pool and its tasks as ``pending``; False if already known."""
        with self._sessions.begin() as session:
            if not _first_time(session, event) or session.get(DealRow, deal.deal_id) is not None:
                return False
            session.add(deal)
            for task_id, index in task_ids:
                session.add(
                    TaskRow(
                        task_id=task_id,
                        deal_id=deal.deal_id,
                        idx=index,
                        status=PENDING,
                        attempts=0,
                        updated_at=now,
                        detail="",
                    )
                )
            return True

    def finish(self, task_id: str, status: str, detail: str, *, event: tuple[bytes, int], now: float) -> bool:
        """Apply a task's final on-chain outcome (``completed`` or ``failed``)."""

        def change(session: Session) -> bool:
            if not _first_time(session, event):
                return False
            task = session.get(TaskRow, task_id)
            if task is None:
                return False
            task.status, task.detail, task.updated_at = status, detail[:300], now
            _close_attempt(session, task_id, outcome=status, now=now)
            return True

        return self._write(change)

    def settle(self, task_id: str, status: str, detail: str, *, now: float) -> None:
        """Record a final status read from the chain directly (not from an event)."""

        def change(session: Session) -> None:
            task = session.get(TaskRow, task_id)
            if task is not None and task.status not in FINAL:
                task.status, task.detail, task.updated_at = status, detail[:300], now
                _close_attempt(session, task_id, outcome=status, now=now)

        return self._write(change)

    # -- workers ------------------------------------------------------------------------

    def register(
        self, address: str, *, slots: int, tee: str, holding: Iterable[str], now: float
    ) -> list[str]:
        """(Re)register a worker; tasks it held but no longer holds go back to ``pending``.

        Returns:
            The ids of the tasks released that way (a restarted worker that lost them).
        """
        keep = {task_id.lower() for task_id in holding}

        def change(session: Session) -> list[str]:
            worker = session.get(WorkerRow, address)
            if worker is None:
                session.add(
                    WorkerRow(address=address, slots=slots, tee=tee, registered_at=now, last_seen=now)
                )
            else:
                worker.slots, worker.tee, worker.last_seen = slots, tee, now
            held = session.scalars(
                select(TaskRow).where(TaskRow.worker == address, TaskRow.status.in_(HELD))
            ).all()
            released = []
            for task in held:
                if task.task_id not in keep:
                    _release(task, now=now, detail="the worker restarted without it")
                    _end_attempt(
                        session, task.task_id, now=now, outcome="retry", code="WORKER_RESTARTED",
                        next_retry_at=now, detail="the worker restarted without it",
                    )  # fmt: skip
                    released.append(task.task_id)
            return released

        return self._write(change)

    def heartbeat(self, address: str, *, now: float) -> WorkerRow | None:
        """Record that a worker is alive; ``None`` if it never registered."""
        with self._sessions.begin() as session:
            worker = session.get(WorkerRow, address)
            if worker is not None:
                worker.last_seen = now
            return worker

    def worker(self, address: str) -> WorkerRow | None:
        """A registered worker."""
        with self._sessions() as session:
            return session.get(WorkerRow, address)

    def held_by(self, address: str) -> list[TaskRow]:
        """The tasks a worker holds (assigned, running or submitted)."""
        with self._sessions() as session:
            statement = select(TaskRow).where(TaskRow.worker == address, TaskRow.status.in_(HELD))
            return list(session.scalars(statement.order_by(TaskRow.assigned_at)).all())

    # -- assignments --------------------------------------------------------------------

    def claim(
        self,
        address: str,
        *,
        now: float,
        max_claims: int | None = None,
        live_since: float | None = None,
        reroute_grace: float = 0.0,
    ) -> TaskRow | None:
        """Give the oldest pending task to ``address``, atomically; ``None`` if none is free.

        A task already handed out ``max_claims`` times is never handed out again; a task is
        not handed out before its ``not_before``, and not to the worker it failed on before
        ``not_before + reroute_grace`` while another worker was seen since ``live_since``.
        """
        with self._sessions() as session:
            query = (
                select(TaskRow.task_id)
                .join(DealRow, DealRow.deal_id == TaskRow.deal_id)
                .where(TaskRow.status == PENDING)
                .where(or_(TaskRow.not_before.is_(None), TaskRow.not_before <= now))
            )
            if max_claims is not None:
                query = query.where(TaskRow.attempts < max_claims)
            if live_since is not None and _others_alive(session, address, live_since):
                query = query.where(
                    or_(
                        TaskRow.avoid_worker.is_(None),
                        TaskRow.avoid_worker != address,
                        TaskRow.not_before <= now - reroute_grace,
                    )
                )
            candidates = session.scalars(
                query
                # Fewest attempts first: a task that keeps failing never starves the others.
                .order_by(TaskRow.attempts, DealRow.block_number, TaskRow.deal_id, TaskRow.idx).limit(16)
            ).all()
        for task_id in candidates:
            with self._sessions.begin() as session:
                guard = [TaskRow.task_id == task_id, TaskRow.status == PENDING]
                if max_claims is not None:
                    guard.append(TaskRow.attempts < max_claims)
                won = session.execute(  # type: ignore[attr-defined]  # a CursorResult
                    update(TaskRow)
                    .where(*guard)
                    .values(
                        status=ASSIGNED,
                        worker=address,
                        assigned_at=now,
                        updated_at=now,
                        attempts=TaskRow.attempts + 1,
                        not_before=None,
                        avoid_worker=None,
                        version=TaskRow.version + 1,
                    )
                ).rowcount
                if won == 1:
                    number = session.scalar(
                        select(func.coalesce(func.max(AttemptRow.number), 0)).where(
                            AttemptRow.task_id == task_id
                        )
                    )
                    session.add(
                        AttemptRow(
                            task_id=task_id, number=int(number or 0) + 1, worker=address, started_at=now,
                            outcome="running", detail="",
                        )
                    )  # fmt: skip
                    return session.get(TaskRow, task_id)
        return None

    def grant(self, task_id: str, address: str, *, enclave: str, authorization: str) -> TaskRow:
        """Store the enclave challenge and the signed authorization of an assignment."""

        def change(session: Session) -> TaskRow:
            task = _held(session, task_id, address)
            task.enclave, task.authorization = enclave, authorization
            return task

        return self._write(change)

    def report(self, task_id: str, address: str, status: str, detail: str, *, now: float) -> TaskRow:
        """A worker's report on a task it holds.

        ``running``/``submitted`` advance the task; ``abandoned`` sends it back to ``pending``.

        Raises:
            ServiceError: ``ASSIGNMENT_NOT_YOURS`` (stop working on it) or ``TASK_UNKNOWN``.
        """

        def change(session: Session) -> TaskRow:
            task = session.get(TaskRow, task_id)
            if task is None:
                raise ServiceError(f"no task {task_id} on this pool", code="TASK_UNKNOWN")
            if task.status in FINAL:
                return task  # the chain already settled it; nothing for the worker to change
            task = _held(session, task_id, address)
            task.status, task.detail, task.updated_at = status, detail[:300], now
            if status == SUBMITTED:
                _end_attempt(session, task_id, now=now, outcome="submitted", detail=detail)
            return task

        return self._write(change)

    def fail_attempt(
        self,
        task_id: str,
        address: str,
        *,
        code: str,
        detail: str,
        receipt: bool,
        decide: Decide,
        max_claims: int | None,
        now: float,
    ) -> TaskRow:
        """A worker's attempt at a task it holds failed with ``code``: retry, settle or give up.

        With a retry, the task is ``pending`` again from ``not_before`` (the backoff) and its
        worker is avoided while another is alive. Without one, a task whose attempt has an
        attested failure receipt (``receipt``) stays held, so its worker settles the receipt;
        one without a receipt is ``expired`` (refunded after the deadline).

        Raises:
            ServiceError: ``ASSIGNMENT_NOT_YOURS`` or ``TASK_UNKNOWN``.
        """

        def change(session: Session) -> TaskRow:
            task = session.get(TaskRow, task_id)
            if task is None:
                raise ServiceError(f"no task {task_id} on this pool", code="TASK_UNKNOWN")
            if task.status in FINAL:
                return task  # the chain already settled it; nothing for the worker to change
            task = _held(session, task_id, address)
            deal = session.get(DealRow, task.deal_id)
            assert deal is not None  # a task never exists without its deal
            decision = decide(code, _infra_failures(session, task_id) + 1, deal)
            exhausted = max_claims is not None and task.attempts >= max_claims
            text = f"{code}: {detail}" if detail else code
            why = (
                "handed out as often as the pool allows" if decision.retry and exhausted else decision.reason
            )
            if decision.retry and not exhausted:
                _release(task, now=now, detail=text, not_before=decision.not_before, avoid=address)
                outcome = "retry"
            elif receipt:
                task.detail, task.updated_at = text[:300], now
                outcome = "settle"
            else:
                task.status, task.updated_at = EXPIRED, now
                task.detail = f"{text} (no retry: {why})"[:300]
                outcome = "given_up"
            _end_attempt(
                session, task_id, now=now, outcome=outcome, code=code, failure_class=decision.failure_class,
                next_retry_at=task.not_before if outcome == "retry" else None,
                detail=decision.reason if outcome == "retry" else f"{why}; {detail}" if detail else why,
            )  # fmt: skip
            return task

        return self._write(change)

    def unclaim(
        self, task_id: str, address: str, *, now: float, code: str, detail: str, decide: Decide
    ) -> None:
        """Give back a task this worker was just handed (the grant could not be made).

        The task was never handed out: its hand-out count is not kept, but the attempt is
        recorded and the task waits the backoff ``decide`` gives (so an SMS outage is not
        hammered), or expires when no retry fits before the deadline.
        """

        def change(session: Session) -> None:
            task = session.get(TaskRow, task_id)
            if task is None or task.worker != address or task.status not in HELD:
                return
            deal = session.get(DealRow, task.deal_id)
            assert deal is not None
            decision = decide("GRANT_FAILED", _infra_failures(session, task_id) + 1, deal)
            task.attempts = max(0, task.attempts - 1)
            if decision.retry:
                _release(task, now=now, detail=detail, not_before=decision.not_before)
            else:
                task.status, task.updated_at = EXPIRED, now
                task.detail = f"{detail} (no retry: {decision.reason})"[:300]
            _end_attempt(
                session, task_id, now=now, outcome="retry" if decision.retry else "given_up", code=code,
                failure_class=FailureClass.INFRASTRUCTURE, next_retry_at=decision.not_before, detail=detail,
            )  # fmt: skip

        return self._write(change)

    def lost(self, *, now: float, timeout: float) -> list[tuple[TaskRow, DealRow]]:
        """Held tasks whose worker has sent no heartbeat for ``timeout`` seconds."""
        with self._sessions() as session:
            rows = session.execute(
                select(TaskRow, DealRow)
                .join(WorkerRow, WorkerRow.address == TaskRow.worker)
                .join(DealRow, DealRow.deal_id == TaskRow.deal_id)
                .where(TaskRow.status.in_(HELD), WorkerRow.last_seen < now - timeout)
            ).all()
            return [(row[0], row[1]) for row in rows]

    def held_since(self) -> list[tuple[TaskRow, DealRow]]:
        """Every held task with its deal (the sweep checks how long each has been held)."""
        with self._sessions() as session:
            rows = session.execute(
                select(TaskRow, DealRow)
                .join(DealRow, DealRow.deal_id == TaskRow.deal_id)
                .where(TaskRow.status.in_(HELD))
            ).all()
            return [(row[0], row[1]) for row in rows]

    def expire_exhausted(self, *, max_claims: int, now: float) -> list[str]:
        """Expire pending tasks handed out ``max_claims`` times already; return their ids."""

        def change(session: Session) -> list[str]:
            tasks = session.scalars(
                select(TaskRow).where(TaskRow.status == PENDING, TaskRow.attempts >= max_claims)
            ).all()
            for task in tasks:
                task.status, task.updated_at = EXPIRED, now
                task.detail = f"handed out {task.attempts} times without an outcome: no more claims"
            return [task.task_id for task in tasks]

        return self._write(change)

    def reclaim(
        self, task_id: str, worker: str, *, now: float, expire: bool, detail: str, code: str = "WORKER_LOST"
    ) -> bool:
        """Take a task from a lost worker: back to ``pending``, or ``expired`` if no time is left."""

        def change(session: Session) -> bool:
            task = session.get(TaskRow, task_id)
            if task is None or task.worker != worker or task.status not in HELD:
                return False
            if expire:
                task.status, task.detail, task.updated_at = EXPIRED, detail, now
            else:
                _release(task, now=now, detail=detail)
            _end_attempt(
                session, task_id, now=now, outcome="given_up" if expire else "retry", code=code,
                failure_class=FailureClass.INFRASTRUCTURE, next_retry_at=None if expire else now,
                detail=detail,
            )  # fmt: skip
            return True

        return self._write(change)

    # -- reading ------------------------------------------------------------------------

    def task(self, task_id: str) -> TaskRow | None:
        """One task."""
        with self._sessions() as session:
            return session.get(TaskRow, task_id)

    def attempts(self, task_id: str) -> list[AttemptRow]:
        """A task's attempts, first to last."""
        with self._sessions() as session:
            statement = select(AttemptRow).where(AttemptRow.task_id == task_id).order_by(AttemptRow.number)
            return list(session.scalars(statement).all())

    def deal(self, deal_id: str) -> DealRow | None:
        """One deal."""
        with self._sessions() as session:
            return session.get(DealRow, deal_id)

    def tasks(self, *, deal_id: str | None = None) -> list[TaskRow]:
        """Every task (of one deal), in deal and index order."""
        with self._sessions() as session:
            statement = select(TaskRow).order_by(TaskRow.deal_id, TaskRow.idx)
            if deal_id is not None:
                statement = statement.where(TaskRow.deal_id == deal_id)
            return list(session.scalars(statement).all())

    def counts(self) -> dict[str, int]:
        """How many tasks are in each state."""
        with self._sessions() as session:
            rows = session.execute(select(TaskRow.status, func.count()).group_by(TaskRow.status)).all()
            return {str(status): int(count) for status, count in rows}

    def attempts_by_status(self) -> dict[str, int]:
        """The tasks' attempts (claims by a worker), summed by task state."""
        with self._sessions() as session:
            rows = session.execute(
                select(TaskRow.status, func.coalesce(func.sum(TaskRow.attempts), 0)).group_by(TaskRow.status)
            ).all()
            return {str(status): int(total) for status, total in rows}


def _first_time(session: Session, event: tuple[bytes, int]) -> bool:
    key = ("0x" + event[0].hex(), event[1])
    if session.get(SeenEvent, key) is not None:
        return False
    session.add(SeenEvent(tx_hash=key[0], log_index=key[1]))
    return True


def _held(session: Session, task_id: str, address: str) -> TaskRow:
    task = session.get(TaskRow, task_id)
    if task is None:
        raise ServiceError(f"no task {task_id} on this pool", code="TASK_UNKNOWN")
    if task.worker != address or task.status not in HELD:
        raise ServiceError(f"task {task_id} is not assigned to {address}", code="ASSIGNMENT_NOT_YOURS")
    return task


def _release(
    task: TaskRow, *, now: float, detail: str, not_before: float | None = None, avoid: str | None = None
) -> None:
    task.status, task.worker, task.authorization = PENDING, None, None
    task.assigned_at, task.updated_at, task.detail = None, now, detail[:300]
    task.not_before, task.avoid_worker = not_before, avoid


def _others_alive(session: Session, address: str, since: float) -> bool:
    """Whether a worker other than ``address`` was seen since ``since``."""
    other = session.scalar(
        select(WorkerRow.address).where(WorkerRow.address != address, WorkerRow.last_seen >= since).limit(1)
    )
    return other is not None


def _infra_failures(session: Session, task_id: str) -> int:
    """How many of a task's attempts ended in an infrastructure failure."""
    count = session.scalar(
        select(func.count()).where(
            AttemptRow.task_id == task_id, AttemptRow.failure_class == FailureClass.INFRASTRUCTURE.value
        )
    )
    return int(count or 0)


def _end_attempt(
    session: Session,
    task_id: str,
    *,
    now: float,
    outcome: str,
    code: str | None = None,
    failure_class: FailureClass | None = None,
    next_retry_at: float | None = None,
    detail: str = "",
) -> None:
    """End the task's open attempt (the last one, if it is still running)."""
    attempt = session.scalars(
        select(AttemptRow).where(AttemptRow.task_id == task_id).order_by(AttemptRow.number.desc()).limit(1)
    ).first()
    if attempt is None or attempt.outcome != "running":
        return
    attempt.ended_at, attempt.outcome, attempt.code = now, outcome, code
    attempt.failure_class = None if failure_class is None else failure_class.value
    attempt.next_retry_at, attempt.detail = next_retry_at, detail[:300]


def _close_attempt(session: Session, task_id: str, *, outcome: str, now: float) -> None:
    """Record the chain's outcome on the attempt that produced it (running, submitted or settled)."""
    attempt = session.scalars(
        select(AttemptRow).where(AttemptRow.task_id == task_id).order_by(AttemptRow.number.desc()).limit(1)
    ).first()
    if attempt is None or attempt.outcome not in ("running", "submitted", "settle"):
        return
    if attempt.ended_at is None:
        attempt.ended_at = now
    attempt.outcome = outcome
