"""Client of a workerpool's scheduler (``sealrun.services.scheduler``), used by workers.

Every worker call is an EIP-712 signed request (:mod:`sealrun.core.requests`) by the
worker's key over the exact JSON body sent. Errors: :class:`~sealrun.errors.ServiceError`
``SCHEDULER_UNREACHABLE``, or the scheduler's own code (``ASSIGNMENT_NOT_YOURS``,
``WORKER_UNKNOWN``, ``REQUEST_*``...).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from sealrun.adapters.problems import raise_for_problem
from sealrun.adapters.web import request_action, signature_headers
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.errors import RequestError, ServiceError

__all__ = ["SchedulerClient"]


class SchedulerClient:
    """A worker's connection to its scheduler.

    Args:
        base_url: the scheduler's root URL.
        key: the worker's private key (signs every call).
        domain: the deployment's EIP-712 domain.
        http: an httpx client to use (tests pass an in-process one); its timeout must exceed
            the longest long poll (the default client waits 90 s).
        clock: unix time source for request timestamps.
    """

    def __init__(
        self,
        base_url: str,
        *,
        key: bytes,
        domain: RequestDomain,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = http or httpx.Client(timeout=90.0)
        self._client.base_url = httpx.URL(base_url.rstrip("/"))
        self._key = key
        self._domain = domain
        self._clock = clock

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        signed = sign_request(
            self._key, self._domain, action=request_action(method, path), body=content,
            timestamp=int(self._clock()), nonce=secrets.token_bytes(32),
        )  # fmt: skip
        headers = {**signature_headers(signed), "content-type": "application/json"}
        try:
            response = self._client.request(method, path, content=content, headers=headers)
        except httpx.TransportError as error:
            raise ServiceError(
                f"the scheduler at {self._client.base_url} is unreachable: {error}",
                code="SCHEDULER_UNREACHABLE",
            ) from error
        raise_for_problem(
            response, service="scheduler", default=ServiceError, families={"REQUEST_": RequestError}
        )
        return response

    def register(self, *, slots: int, tee: str, holding: list[str]) -> dict[str, Any]:
        """Register; returns ``{worker, released, heartbeat_interval}``."""
        result: dict[str, Any] = self._call(
            "POST", "/v1/workers", {"slots": slots, "tee": tee, "holding": holding}
        ).json()
        return result

    def heartbeat(self) -> list[dict[str, Any]]:
        """Say the worker is alive; returns the tasks the scheduler believes it holds."""
        held: list[dict[str, Any]] = self._call("POST", "/v1/workers/heartbeat").json()["holding"]
        return held

    def next(self, *, wait: float) -> dict[str, Any] | None:
        """Long-poll the next assignment; ``None`` when nothing came within ``wait`` seconds."""
        response = self._call("POST", "/v1/assignments/next", {"wait": min(wait, 60.0)})
        if response.status_code == 204:
            return None
        assignment: dict[str, Any] = response.json()
        return assignment

    def report(self, task_id: str, status: str, detail: str = "") -> dict[str, Any]:
        """Report ``running``, ``submitted`` or ``abandoned`` for a held task."""
        result: dict[str, Any] = self._call(
            "POST", f"/v1/tasks/{task_id}/status", {"status": status, "detail": detail[:300]}
        ).json()
        return result

    def tasks(self, deal_id: str | None = None) -> list[dict[str, Any]]:
        """The pool's tasks (public)."""
        params = {"deal_id": deal_id} if deal_id else {}
        try:
            response = self._client.get("/v1/tasks", params=params)
        except httpx.TransportError as error:
            raise ServiceError(
                f"the scheduler is unreachable: {error}", code="SCHEDULER_UNREACHABLE"
            ) from error
        rows: list[dict[str, Any]] = response.json()
        return rows
