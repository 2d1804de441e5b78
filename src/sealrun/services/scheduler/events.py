"""Task events: every change of a task on the board, persisted, served as Server-Sent Events.

**Recording.** :func:`install_journal` hooks the board's session factory: just before any
transaction commits, each task row the transaction touched (added, updated by the ORM, or
loaded after a compare-and-set such as :meth:`~.board.TaskBoard.claim`) is compared with the
last event recorded for it, and a new :class:`TaskEventRow` is added *in the same
transaction* when its status, attempt or worker differ. So an event exists if and only if
the change committed, whatever code path made it, and the board's modules need not know.

**Ids.** An event's id comes from one autoincrementing column: it increases with every event,
so within a task too, and is kept across restarts (the table is the scheduler's database).
Two transactions that change the same task are serialized by that task's row, so a task's
events are committed in id order and a reader that resumes after id ``n`` misses none.

**Serving.** ``GET /v1/tasks/{task_id}/events`` is public, like ``GET /v1/tasks/{task_id}``,
and carries exactly what that route shows (status, attempt, worker, detail): never inputs,
parameters or secrets. It replays the events after ``Last-Event-ID`` (header) or ``?after=``,
then follows new ones, and ends after a final status (``completed``, ``failed``,
``expired``). A comment line is sent every ``keepalive`` seconds; a client that goes away
only ends its own stream (each read is a short transaction; nothing is held between reads).

Errors (:class:`~sealrun.errors.ServiceError`): ``TASK_UNKNOWN`` (404), ``EVENTS_CURSOR_INVALID``
(400: a ``Last-Event-ID`` that is not a decimal event id), ``EVENTS_BUSY`` (503: too many
open streams).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import BigInteger, Float, Index, Integer, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from sealrun.adapters.web import problem_responses
from sealrun.api.scheduler import Routes, TaskEventOut
from sealrun.errors import ServiceError
from sealrun.services.scheduler.models import ADDRESS, HEX32, Base, TaskRow

__all__ = [
    "EventLog",
    "StreamCounter",
    "TaskEventRow",
    "event_out",
    "events_router",
    "install_journal",
    "parse_cursor",
    "sse_frame",
]

log = logging.getLogger(__name__)

#: A ``Last-Event-ID``: a decimal event id (at most 18 digits: it fits a signed 64-bit column).
_CURSOR = re.compile(r"[0-9]{1,18}")
#: Events sent per database read.
_BATCH = 200


class TaskEventRow(Base):
    """One recorded change of a task (what the public task route shows at that moment)."""

    __tablename__ = "scheduler_task_events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_id: Mapped[str] = mapped_column(HEX32)
    deal_id: Mapped[str] = mapped_column(HEX32)
    idx: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    detail: Mapped[str] = mapped_column(String(300))
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_scheduler_task_events_task", "task_id", "id"),
        Index("ix_scheduler_task_events_deal", "deal_id", "id"),
    )


def _last(session: Session, task_id: str) -> tuple[str, int, str | None] | None:
    row = session.execute(
        select(TaskEventRow.status, TaskEventRow.attempt, TaskEventRow.worker)
        .where(TaskEventRow.task_id == task_id)
        .order_by(TaskEventRow.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (str(row[0]), int(row[1]), row[2])


_TOUCHED = "sealrun.scheduler.touched_tasks"


def _touched(session: Session) -> dict[str, TaskRow]:
    found: dict[str, TaskRow] = session.info.setdefault(_TOUCHED, {})
    return found


def _keep(session: Session, _context: object) -> None:
    """``after_flush``: hold the task rows this flush wrote (the identity map holds them weakly)."""
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, TaskRow):
            _touched(session)[obj.task_id] = obj


def _forget(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def _record(session: Session) -> None:
    """``before_commit``: add an event for each touched task whose state changed."""
    touched = _touched(session)
    for obj in (*session.new, *session.dirty, *session.identity_map.values()):
        if isinstance(obj, TaskRow):
            touched[obj.task_id] = obj
    session.flush()
    for task_id in sorted(touched):
        task = touched[task_id]
        state = (task.status, task.attempts or 0, task.worker)
        if _last(session, task.task_id) == state:
            continue
        session.add(
            TaskEventRow(
                task_id=task.task_id, deal_id=task.deal_id, idx=task.idx, status=task.status,
                attempt=task.attempts or 0, worker=task.worker, detail=(task.detail or "")[:300],
                at=task.updated_at,
            )
        )  # fmt: skip
    _forget(session)


def install_journal(sessions: sessionmaker[Session]) -> None:
    """Record task events for every transaction of ``sessions`` (the board's factory)."""
    event.listen(sessions, "after_flush", _keep)
    event.listen(sessions, "before_commit", _record)
    event.listen(sessions, "after_rollback", _forget)
    event.listen(sessions, "after_commit", _forget)


def event_out(row: TaskEventRow) -> TaskEventOut:
    """The wire form of an event."""
    return TaskEventOut(
        id=row.id, task_id=row.task_id, deal_id=row.deal_id, index=row.idx, status=row.status,
        attempt=row.attempt, worker=row.worker, detail=row.detail, at=row.at,
    )  # fmt: skip


def sse_frame(item: TaskEventOut) -> bytes:
    """One SSE message: ``id``, ``event: status`` and the JSON event on one ``data`` line."""
    return f"id: {item.id}\nevent: status\ndata: {item.model_dump_json()}\n\n".encode()


class EventLog:
    """Reads recorded events.

    Args:
        sessions: the scheduler's session factory.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def after(self, task_id: str, after: int, *, limit: int = _BATCH) -> list[TaskEventOut]:
        """A task's events with an id above ``after``, in order."""
        with self._sessions() as session:
            rows = session.scalars(
                select(TaskEventRow)
                .where(TaskEventRow.task_id == task_id, TaskEventRow.id > after)
                .order_by(TaskEventRow.id)
                .limit(limit)
            ).all()
            return [event_out(row) for row in rows]

    def since(self, after: int, *, limit: int = _BATCH) -> list[TaskEventOut]:
        """Every task's events with an id above ``after``, in order (the webhook dispatcher)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(TaskEventRow).where(TaskEventRow.id > after).order_by(TaskEventRow.id).limit(limit)
            ).all()
            return [event_out(row) for row in rows]

    def newest(self) -> int:
        """The highest event id recorded (0 when none)."""
        with self._sessions() as session:
            found = session.scalar(select(TaskEventRow.id).order_by(TaskEventRow.id.desc()).limit(1))
            return int(found or 0)


def parse_cursor(header: str | None, query: int | None) -> int:
    """The id to resume after: ``Last-Event-ID`` wins over ``?after=``; 0 replays everything.

    Raises:
        ServiceError: ``EVENTS_CURSOR_INVALID``.
    """
    if header is not None:
        if not _CURSOR.fullmatch(header.strip()):
            raise ServiceError("Last-Event-ID must be a decimal event id", code="EVENTS_CURSOR_INVALID")
        return int(header.strip())
    return query or 0


events_router = APIRouter()


@events_router.get(
    Routes.TASK_EVENTS,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the task's events (SSE)"},
        **problem_responses(400, 404, 503),
    },
)
async def task_events(
    task_id: str,
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    after: Annotated[int | None, Query(ge=0, le=10**18)] = None,
    follow: bool = True,
) -> StreamingResponse:
    """A task's events as Server-Sent Events, resumable with ``Last-Event-ID``
    (``?follow=false``: only the events recorded so far, then the stream ends)."""
    cursor = parse_cursor(last_event_id, after)
    wanted = task_id.lower()
    service = request.app.state.service
    if await run_in_threadpool(service.board.task, wanted) is None:
        raise ServiceError(f"no task {task_id} on this pool", code="TASK_UNKNOWN")
    streams: StreamCounter = request.app.state.event_streams
    if not streams.take():
        raise ServiceError("too many open event streams; retry later", code="EVENTS_BUSY")
    return StreamingResponse(
        _stream(request, wanted, cursor, streams, follow=follow),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


class StreamCounter:
    """Bounds the open event streams (each holds a connection and a polling loop)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.open = limit, 0

    def take(self) -> bool:
        """Open one stream if under the limit."""
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def give(self) -> None:
        """Close one stream."""
        self.open = max(0, self.open - 1)


async def _stream(
    request: Request, task_id: str, cursor: int, streams: StreamCounter, *, follow: bool = True
) -> AsyncIterator[bytes]:
    events: EventLog = request.app.state.event_log
    interval: float = request.app.state.event_poll
    keepalive: float = request.app.state.event_keepalive
    idle = 0.0
    try:
        yield b"retry: 2000\n\n"
        while True:
            batch = await run_in_threadpool(events.after, task_id, cursor)
            for item in batch:
                cursor = item.id
                yield sse_frame(item)
                if item.final:
                    return
            if batch:
                idle = 0.0
                continue
            if not follow:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)
            idle += interval
            if idle >= keepalive:
                idle = 0.0
                yield b": keepalive\n\n"
    finally:
        streams.give()
