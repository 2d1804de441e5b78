"""The public half of a scheduler's API: task status and the task event stream (SSE).

Anyone may read them (the scheduler serves them unsigned, like the chain's own data), so
this client holds no key. :meth:`TaskEventsClient.events` reads
``GET /v1/tasks/{id}/events`` with httpx streaming and yields typed
:class:`~sealrun.api.scheduler.TaskEventOut`; when the connection drops (a scheduler restart)
it reconnects with ``Last-Event-ID`` and goes on from the last event it yielded, so every
event is yielded once and in order.

Errors (:class:`~sealrun.errors.ServiceError`): ``SCHEDULER_UNREACHABLE`` (after the
reconnection budget), ``EVENTS_UNSUPPORTED`` (the scheduler predates event streams: the route
is not there; callers fall back to polling), ``EVENTS_BAD_FRAME`` (a ``data`` line that is not
a task event), or the scheduler's own code (``TASK_UNKNOWN``, ``EVENTS_CURSOR_INVALID``...).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import ValidationError

from sealrun.adapters.http.base import ServiceClient
from sealrun.api.scheduler import Routes, TaskEventOut, TaskOut
from sealrun.errors import ServiceError

__all__ = ["TaskEventsClient", "parse_sse"]

#: A frame larger than this is refused (an event is a few hundred bytes).
_MAX_FRAME = 64 * 1024


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """Read SSE ``lines`` into ``(id, event, data)`` messages (comments and ``retry`` skipped).

    Raises:
        ServiceError: ``EVENTS_BAD_FRAME`` for a frame over 64 KiB.
    """
    ident, kind, size = "", "message", 0
    data: list[str] = []
    for line in lines:
        size += len(line)
        if size > _MAX_FRAME:
            raise ServiceError("an event frame is over 64 KiB", code="EVENTS_BAD_FRAME")
        if line == "":
            if data:
                yield ident, kind, "\n".join(data)
            ident, kind, data, size = "", "message", [], 0
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            ident = value
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)


class TaskEventsClient(ServiceClient):
    """A reader of a scheduler's public task routes.

    Args:
        base_url: the scheduler's root URL.
        http: an httpx client to use (tests pass an in-process one).
        reconnects: how many times in a row a dropped stream is reopened before giving up.
        sleep: waits between reconnections (injected for tests).
    """

    service: ClassVar[str] = "scheduler"
    unreachable_code: ClassVar[str] = "SCHEDULER_UNREACHABLE"

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        reconnects: int = 30,
        sleep: Callable[[float], None] = time.sleep,
        ca_file: Path | None = None,
    ) -> None:
        super().__init__(base_url, http=http, sleep=sleep, ca_file=ca_file)
        self._reconnects = reconnects

    def task(self, task_id: str) -> TaskOut:
        """One task as the scheduler sees it (``TASK_UNKNOWN`` if not on this pool)."""
        return self._call(TaskOut, "GET", Routes.TASK.format(task_id=task_id))

    def tasks(self, deal_id: str | None = None) -> list[TaskOut]:
        """The pool's tasks (of one deal)."""
        params = {"deal_id": deal_id} if deal_id else {}
        return self._call(list[TaskOut], "GET", Routes.TASKS, params=params)

    def recorded(self, task_id: str) -> list[TaskEventOut]:
        """The task's events recorded so far (one read of the stream with ``?follow=false``).

        Raises:
            ServiceError: ``EVENTS_UNSUPPORTED``, ``EVENTS_BAD_FRAME``, or the scheduler's code.
        """
        path = Routes.TASK_EVENTS.format(task_id=task_id)
        try:
            response = self._http.get(path, params={"follow": "false"})
        except httpx.TransportError as error:
            self._refuse_untrusted(error)
            raise ServiceError(
                f"scheduler at {self.base_url} is unreachable: {error}", code=self.unreachable_code
            ) from error
        self._check(response)
        lines = iter([*response.text.splitlines(), ""])
        return [_event(data, ident) for ident, kind, data in parse_sse(lines) if kind == "status"]

    def events(self, task_id: str, *, after: int = 0, read_timeout: float = 60.0) -> Iterator[TaskEventOut]:
        """Yield the task's events after id ``after`` until its final one, reconnecting with
        ``Last-Event-ID`` when the stream drops.

        Raises:
            ServiceError: ``EVENTS_UNSUPPORTED``, ``EVENTS_BAD_FRAME``, ``SCHEDULER_UNREACHABLE``,
                or the scheduler's code.
        """
        cursor, failures = after, 0
        path = Routes.TASK_EVENTS.format(task_id=task_id)
        timeout = httpx.Timeout(10.0, read=read_timeout)
        while True:
            headers = {"accept": "text/event-stream"}
            if cursor:
                headers["last-event-id"] = str(cursor)
            try:
                with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                    self._check(response)
                    for ident, kind, data in parse_sse(response.iter_lines()):
                        if kind != "status":
                            continue
                        item = _event(data, ident)
                        if item.id <= cursor:
                            continue  # a replay the scheduler sent again: yielded already
                        cursor, failures = item.id, 0
                        yield item
                        if item.final:
                            return
            except httpx.TransportError as error:
                self._refuse_untrusted(error)
                failures += 1
                if failures > self._reconnects:
                    raise ServiceError(
                        f"scheduler at {self.base_url} is unreachable: {error}", code=self.unreachable_code
                    ) from error
                self._sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))
                continue
            # The stream ended without a final event (the server closed it): reopen it.
            failures += 1
            if failures > self._reconnects:
                raise ServiceError(
                    f"scheduler at {self.base_url} keeps closing the event stream", code=self.unreachable_code
                )
            self._sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))

    def _check(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        response.read()
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        if response.status_code in (404, 405) and not problem:
            raise ServiceError(
                f"scheduler at {self.base_url} serves no task events (an older scheduler)",
                code="EVENTS_UNSUPPORTED",
            )
        self._raise_for_problem(response)


def _event(data: str, ident: str) -> TaskEventOut:
    try:
        item = TaskEventOut.model_validate_json(data)
    except ValidationError as error:
        raise ServiceError(
            "the scheduler sent an event that is not a task event", code="EVENTS_BAD_FRAME"
        ) from error
    if ident and ident != str(item.id):
        raise ServiceError("an event's id line and body disagree", code="EVENTS_BAD_FRAME")
    return item
