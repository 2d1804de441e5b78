"""A task's attempts as its pool's scheduler recorded them (``task show``).

The chain knows a task's outcome; only the pool's scheduler knows how it got there: each
attempt, the worker that ran it, when it started and ended, and why it ended (the stable
code, its class, and when the retry is due). Reading them needs no key.
"""

from __future__ import annotations

from typing import TypedDict

from sealrun.adapters.http.scheduler import SchedulerReader
from sealrun.api.ids import task_id_hex
from sealrun.errors import SealrunError

__all__ = ["AttemptJson", "AttemptsJson", "task_attempts"]


class AttemptJson(TypedDict):
    """One attempt (times are unix seconds)."""

    number: int
    worker: str
    started_at: float
    ended_at: float | None
    outcome: str
    code: str | None
    failure_class: str | None
    next_retry_at: float | None
    detail: str


class AttemptsJson(TypedDict, total=False):
    """The attempts, or why they could not be read (``error``: code and message)."""

    attempts: list[AttemptJson]
    next_retry_at: float | None
    error: dict[str, str]


def task_attempts(scheduler_url: str, task: bytes, *, reader: SchedulerReader | None = None) -> AttemptsJson:
    """Read ``task``'s attempts from the scheduler at ``scheduler_url``; never raises.

    A scheduler that is down, or that does not know the task (another pool's), is reported
    in ``error`` rather than failing ``task show``, whose subject is the chain's record.
    """
    client = reader or SchedulerReader(scheduler_url)
    try:
        answer = client.attempts(task_id_hex(task))
    except SealrunError as error:
        return {"error": {"code": error.code, "message": error.message}}
    finally:
        if reader is None:
            client.close()
    attempts = [
        AttemptJson(
            number=a.number,
            worker=a.worker,
            started_at=a.started_at,
            ended_at=a.ended_at,
            outcome=a.outcome,
            code=a.code,
            failure_class=a.failure_class,
            next_retry_at=a.next_retry_at,
            detail=a.detail,
        )
        for a in answer.attempts
    ]
    return {"attempts": attempts, "next_retry_at": answer.task.next_retry_at}
