"""HTTP routes of the scheduler (``/v1``). Every worker call is a signed request by the worker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from sealrun.adapters.web import SignedCall, problem_responses, read_signed_call
from sealrun.api.scheduler import (
    AssignmentOut,
    AttemptOut,
    AttemptsOut,
    HeartbeatOut,
    NextIn,
    RegisterIn,
    RegisterOut,
    ReportIn,
    Routes,
    StatusOut,
    TaskOut,
)
from sealrun.core.requests import RequestVerifier
from sealrun.errors import ServiceError
from sealrun.services.scheduler.models import AttemptRow, TaskRow
from sealrun.services.scheduler.usecases import Assignment, SchedulerService

__all__ = ["router"]

router = APIRouter()


def _service(request: Request) -> SchedulerService:
    service: SchedulerService = request.app.state.service
    return service


def _task_out(row: TaskRow) -> TaskOut:
    """Render a task row."""
    return TaskOut(
        task_id=row.task_id, deal_id=row.deal_id, index=row.idx, status=row.status, worker=row.worker,
        attempts=row.attempts, detail=row.detail, next_retry_at=row.not_before,
    )  # fmt: skip


def _attempt_out(row: AttemptRow) -> AttemptOut:
    """Render an attempt row."""
    kind = row.failure_class if row.failure_class in ("infrastructure", "app") else None
    return AttemptOut(
        number=row.number, worker=row.worker, started_at=row.started_at, ended_at=row.ended_at,
        outcome=row.outcome, code=row.code, failure_class=kind,  # type: ignore[arg-type]
        next_retry_at=row.next_retry_at, detail=row.detail,
    )  # fmt: skip


def _assignment_out(assignment: Assignment) -> AssignmentOut:
    """Render an assignment (its deal as the board stored it)."""
    return AssignmentOut(**vars(assignment))


async def worker_address(request: Request, call: Annotated[SignedCall, Depends(read_signed_call)]) -> str:
    """FastAPI dependency: the authenticated worker (the signer of this request)."""
    verifier: RequestVerifier = request.app.state.verifier
    now = int(request.app.state.clock())
    verified = await run_in_threadpool(
        verifier.verify, action=call.action, body=call.body, signed=call.signature, now=now
    )
    return verified.signer


Worker = Annotated[str, Depends(worker_address)]


@router.post(Routes.WORKERS, response_model=RegisterOut, responses=problem_responses(401, 403))
async def register(body: RegisterIn, worker: Worker, request: Request) -> RegisterOut:
    """Register a worker (again, after a restart: tasks it no longer holds are reassigned)."""
    released = await run_in_threadpool(
        _service(request).register, worker, slots=body.slots, tee=body.tee, holding=body.holding
    )
    if released:
        request.app.state.wakeup.set()
    interval = max(1.0, _service(request).worker_timeout / 3)
    return RegisterOut(worker=worker, released=released, heartbeat_interval=interval)


@router.post(Routes.HEARTBEAT, response_model=HeartbeatOut, responses=problem_responses(401, 404))
async def heartbeat(worker: Worker, request: Request) -> HeartbeatOut:
    """Say the worker is alive; answers with the tasks the scheduler believes it holds."""
    held = await run_in_threadpool(_service(request).heartbeat, worker)
    return HeartbeatOut(holding=[_task_out(task) for task in held])


@router.post(
    Routes.NEXT,
    response_model=AssignmentOut,
    responses={204: {"description": "nothing to do within the wait"}, **problem_responses(401, 404)},
)
async def next_assignment(body: NextIn, worker: Worker, request: Request) -> Response | AssignmentOut:
    """Long poll for the worker's next task (waits up to ``wait`` seconds, capped by the settings)."""
    service = _service(request)
    deadline = time.monotonic() + min(body.wait, request.app.state.long_poll_max)
    while True:
        wakeup: asyncio.Event = request.app.state.wakeup
        assignment = await run_in_threadpool(service.next_assignment, worker)
        if assignment is not None:
            return _assignment_out(assignment)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Response(status_code=204)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=min(remaining, 1.0))


@router.post(Routes.TASK_STATUS, response_model=TaskOut, responses=problem_responses(401, 404, 409))
async def report(task_id: str, body: ReportIn, worker: Worker, request: Request) -> TaskOut:
    """A worker's report on a task it holds (``running``, ``submitted``, ``abandoned``, ``retry``)."""
    row = await run_in_threadpool(
        _service(request).report, worker, task_id, body.status, body.detail, body.code
    )
    if body.status in ("abandoned", "retry"):
        request.app.state.wakeup.set()
    return _task_out(row)


@router.get(Routes.TASKS, response_model=list[TaskOut])
async def tasks(request: Request, deal_id: str | None = None) -> list[TaskOut]:
    """Every task of the pool (or of one deal), in order."""
    rows = await run_in_threadpool(
        _service(request).board.tasks, deal_id=deal_id.lower() if deal_id else None
    )
    return [_task_out(row) for row in rows]


@router.get(Routes.TASK, response_model=TaskOut, responses=problem_responses(404))
async def task(task_id: str, request: Request) -> TaskOut:
    """One task."""
    row = await run_in_threadpool(_service(request).board.task, task_id.lower())
    if row is None:
        raise ServiceError(f"no task {task_id} on this pool", code="TASK_UNKNOWN")
    return _task_out(row)


@router.get(Routes.TASK_ATTEMPTS, response_model=AttemptsOut, responses=problem_responses(404))
async def attempts(task_id: str, request: Request) -> AttemptsOut:
    """A task and its attempts: who ran each, when, and why it ended."""
    row, rows = await run_in_threadpool(_service(request).attempts, task_id)
    return AttemptsOut(task=_task_out(row), attempts=[_attempt_out(attempt) for attempt in rows])


@router.get(Routes.STATUS, response_model=StatusOut)
async def status(request: Request) -> StatusOut:
    """Liveness and task counts by state."""
    service = _service(request)
    counts = await run_in_threadpool(service.board.counts)
    return StatusOut(status="ok", workerpool=service.workerpool, tasks=counts)
