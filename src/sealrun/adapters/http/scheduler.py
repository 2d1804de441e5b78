"""Client of a workerpool's scheduler (``sealrun.services.scheduler``), used by workers.

Every worker call is a signed request
(:class:`~sealrun.adapters.http.signing.SignedRequestAuth`) by the worker's key over the
exact JSON body sent. Errors: :class:`~sealrun.errors.ServiceError` ``SCHEDULER_UNREACHABLE``,
or the scheduler's own code (``ASSIGNMENT_NOT_YOURS``, ``WORKER_UNKNOWN``, ``REQUEST_*``...).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

import httpx

from sealrun.adapters.http.base import ServiceClient
from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.api.scheduler import (
    AssignmentOut,
    AttemptsOut,
    HeartbeatOut,
    NextIn,
    RegisterIn,
    RegisterOut,
    ReportIn,
    Routes,
    TaskOut,
)
from sealrun.core.requests import RequestDomain
from sealrun.errors import RequestError, SealrunError

__all__ = ["SchedulerClient", "SchedulerReader"]

#: The longest long poll the scheduler serves (its ``NextIn`` bound).
_MAX_WAIT = 60.0


class SchedulerClient(ServiceClient):
    """A worker's connection to its scheduler.

    Args:
        base_url: the scheduler's root URL.
        key: the worker's private key (signs every call).
        domain: the deployment's EIP-712 domain.
        http: an httpx client to use (tests pass an in-process one); its timeout must exceed
            the longest long poll (the default client waits 90 s).
        clock: unix time source for request timestamps.
    """

    service: ClassVar[str] = "scheduler"
    unreachable_code: ClassVar[str] = "SCHEDULER_UNREACHABLE"
    families: ClassVar[dict[str, type[SealrunError]]] = {"REQUEST_": RequestError}
    default_timeout: ClassVar[float] = 90.0

    def __init__(
        self,
        base_url: str,
        *,
        key: bytes,
        domain: RequestDomain,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        ca_file: Path | None = None,
    ) -> None:
        super().__init__(base_url, http=http, ca_file=ca_file)
        self._auth = SignedRequestAuth(key, domain, clock=clock)

    def register(self, *, slots: int, tee: str, holding: list[str]) -> RegisterOut:
        """Register (again, after a restart, with the tasks still held)."""
        body = RegisterIn.model_construct(slots=slots, tee=tee, holding=holding)
        return self._call(RegisterOut, "POST", Routes.WORKERS, body=body, auth=self._auth)

    def heartbeat(self) -> list[TaskOut]:
        """Say the worker is alive; returns the tasks the scheduler believes it holds."""
        return self._call(HeartbeatOut, "POST", Routes.HEARTBEAT, auth=self._auth).holding

    def next(self, *, wait: float) -> AssignmentOut | None:
        """Long-poll the next assignment; ``None`` when nothing came within ``wait`` seconds."""
        body = NextIn.model_construct(wait=min(wait, _MAX_WAIT))
        response = self._send("POST", Routes.NEXT, body=body, auth=self._auth)
        if response.status_code == 204:
            return None
        return self._parse(AssignmentOut, response)

    def report(
        self,
        task_id: str,
        status: Literal["running", "submitted", "abandoned", "retry"],
        detail: str = "",
        code: str | None = None,
    ) -> TaskOut:
        """Report ``running``, ``submitted``, or a failed attempt (``abandoned``, ``retry``) with its code."""
        body = ReportIn.model_construct(status=status, detail=detail[:300], code=code)
        return self._call(
            TaskOut, "POST", Routes.TASK_STATUS.format(task_id=task_id), body=body, auth=self._auth
        )

    def attempts(self, task_id: str) -> AttemptsOut:
        """A task and its attempts (public)."""
        return self._call(AttemptsOut, "GET", Routes.TASK_ATTEMPTS.format(task_id=task_id))

    def tasks(self, deal_id: str | None = None) -> list[TaskOut]:
        """The pool's tasks (public)."""
        params = {"deal_id": deal_id} if deal_id else {}
        return self._call(list[TaskOut], "GET", Routes.TASKS, params=params)


class SchedulerReader(ServiceClient):
    """The scheduler's public, read-only routes (no key): tasks and their attempts.

    Args:
        base_url: the scheduler's root URL.
        http: an httpx client to use (tests pass an in-process one).
    """

    service: ClassVar[str] = "scheduler"
    unreachable_code: ClassVar[str] = "SCHEDULER_UNREACHABLE"
    default_timeout: ClassVar[float] = 30.0

    def attempts(self, task_id: str) -> AttemptsOut:
        """A task and its attempts (``TASK_UNKNOWN`` when the task is not this pool's)."""
        return self._call(AttemptsOut, "GET", Routes.TASK_ATTEMPTS.format(task_id=task_id))
