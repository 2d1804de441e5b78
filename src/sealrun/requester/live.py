"""Following a task live: the scheduler's event stream (SSE) wakes the requester, not a timer.

:func:`live_changes` yields the task as the chain records it, like
:func:`~sealrun.requester.tasks.changes`, but reads the chain only when the pool's scheduler
says the task moved (``GET /v1/tasks/{id}/events``, resumed with ``Last-Event-ID`` across a
scheduler restart), and hands each scheduler event (pending, assigned, running, submitted,
completed, failed, expired) to ``on_event``. It falls back to polling the chain when no
scheduler is configured, when the scheduler predates event streams (``EVENTS_UNSUPPORTED``),
cannot be reached, or does not know the task (another pool's, or a deal it never saw within
:data:`UNKNOWN_GRACE` seconds).

Error codes: those of :func:`~sealrun.requester.tasks.changes` (``TASK_WATCH_TIMEOUT``), and
the scheduler's codes other than the fallbacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from sealrun.api.ids import task_id_hex
from sealrun.api.scheduler import TaskEventOut
from sealrun.errors import ChainError, ServiceError
from sealrun.requester.tasks import FollowedTask, changes, read_task

if TYPE_CHECKING:
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.http.taskevents import TaskEventsClient

__all__ = ["FALLBACK_CODES", "UNKNOWN_GRACE", "live_changes"]

#: Scheduler answers after which the task is followed by polling the chain instead.
FALLBACK_CODES = frozenset({"EVENTS_UNSUPPORTED", "SCHEDULER_UNREACHABLE", "TASK_UNKNOWN"})
#: Seconds a just-filled task may stay unknown to the scheduler (it follows the chain too).
UNKNOWN_GRACE = 10.0


def _connect(scheduler: str) -> TaskEventsClient:
    from sealrun.adapters.http.taskevents import TaskEventsClient

    return TaskEventsClient(scheduler, reconnects=5)


def _events(
    client: TaskEventsClient, task_id: bytes, *, read_timeout: float, sleep: Callable[[float], None]
) -> Iterator[TaskEventOut]:
    with client:
        give_up = time.monotonic() + UNKNOWN_GRACE
        while True:
            try:
                yield from client.events(task_id_hex(task_id), read_timeout=read_timeout)
                return
            except ServiceError as error:
                if error.code != "TASK_UNKNOWN" or time.monotonic() > give_up:
                    raise
                sleep(0.5)  # the scheduler has not seen the deal yet


def live_changes(
    market: Marketplace,
    task_id: bytes,
    *,
    start_block: int,
    scheduler: str | None,
    timeout: float = 3600.0,
    interval: float = 0.25,
    on_event: Callable[[TaskEventOut], None] = lambda _e: None,
    sleep: Callable[[float], None] = time.sleep,
    connect: Callable[[str], TaskEventsClient] = _connect,
) -> Iterator[FollowedTask]:
    """Yield the task on each new on-chain status until it ends (see the module docstring).

    ``connect`` makes the scheduler's client from its URL (tests pass an in-process one).

    Raises:
        TaskError: ``TASK_WATCH_TIMEOUT``; ServiceError: a scheduler code not in
            :data:`FALLBACK_CODES`.
    """
    deadline = time.monotonic() + timeout
    last = ""
    if scheduler is not None:
        seen_any = False
        try:
            stream = _events(connect(scheduler), task_id, read_timeout=60.0, sleep=sleep)
            for event in stream:
                seen_any = True
                on_event(event)
                try:
                    current: FollowedTask | None = read_task(market, task_id, start_block)
                except ChainError as error:
                    if error.code != "CHAIN_TASK_UNKNOWN":
                        raise
                    current = None
                if current is not None and current.status != last:
                    last = current.status
                    yield current
                    if current.done:
                        return
                if event.final or time.monotonic() > deadline:
                    break
        except ServiceError as error:
            if error.code not in FALLBACK_CODES or (seen_any and error.code == "TASK_UNKNOWN"):
                raise
    # No stream (or the pool is done with the task): the chain says the rest.
    remaining = max(0.0, deadline - time.monotonic())
    for current in changes(market, task_id, start_block=start_block, timeout=remaining, interval=interval):
        if current.status != last or current.timed_out:
            last = current.status
            yield current
