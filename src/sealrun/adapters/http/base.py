"""The base of every service client: one httpx client, timeouts, retries, typed answers.

A :class:`ServiceClient` subclass names its service, the code it raises when the service
cannot be reached and how problem codes map to exception families; its methods are one
line each over :meth:`ServiceClient._call`, which sends a request (signed when given a
:class:`~sealrun.adapters.http.signing.SignedRequestAuth`), retries what is safe to retry,
turns a problem+json answer into the service's code (:func:`.problems.raise_for_problem`)
and validates a success against the route's pydantic model (:mod:`sealrun.api`).

Retries: a request that never reached the service (connection refused, connect timeout) is
sent again for any method; one that may have reached it is sent again only for ``GET`` and
``HEAD``. A streamed body is sent once. A retried signed request is signed again (a fresh
nonce), so it is never refused as a replay of itself.

TLS: ``ca_file`` is the CA bundle an ``https://`` service's certificate is verified against
(:mod:`sealrun.adapters.tls`); a certificate that does not verify raises
``SERVICE_TLS_UNTRUSTED`` at once, never retried.

Request bodies are built with ``model_construct`` (not validated here): the service is the
judge of what it takes and answers its own codes (``VALIDATION_FAILED``...), exactly as for
any other client; answers are validated, since the caller relies on their shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from sealrun.adapters.http.problems import raise_for_problem
from sealrun.adapters.tls import client_verify, untrusted_peer
from sealrun.errors import SealrunError, ServiceError

__all__ = ["ServiceClient"]

M = TypeVar("M")
_IDEMPOTENT = frozenset({"GET", "HEAD"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


class ServiceClient:
    """Talks to one sealrun service over HTTP.

    Args:
        base_url: the service's root URL, e.g. ``http://127.0.0.1:8702``.
        http: an httpx client to use instead of a new one (tests pass an in-process client,
            e.g. Starlette's ``TestClient`` over the real app, or one on a ``MockTransport``).
        timeout: seconds per request (for a new client).
        retries: how many times a retryable failure is tried again.
        sleep: waits between retries (injected for tests).
        ca_file: the CA bundle peers' certificates are verified against (for a new client;
            default: the system's trust store).
    """

    #: How messages name the service ("the SMS", "store", ...).
    service: ClassVar[str] = "service"
    #: The code raised when the service cannot be reached.
    unreachable_code: ClassVar[str] = "SERVICE_UNREACHABLE"
    #: The exception family of an unreachable service.
    unreachable_error: ClassVar[type[SealrunError]] = ServiceError
    #: The family of codes no prefix in :attr:`families` claims.
    default_error: ClassVar[type[SealrunError]] = ServiceError
    #: The code of an error answer that is not a problem document.
    default_code: ClassVar[str] = "SERVICE_ERROR"
    #: Code prefix -> exception family, first match wins.
    families: ClassVar[Mapping[str, type[SealrunError]]] = {}
    default_timeout: ClassVar[float] = 30.0

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        timeout: float | None = None,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        ca_file: Path | None = None,
    ) -> None:
        self._http = http or httpx.Client(
            timeout=timeout or self.default_timeout, verify=client_verify(ca_file)
        )
        self._http.base_url = httpx.URL(base_url.rstrip("/"))
        self._retries = retries
        self._sleep = sleep

    @property
    def base_url(self) -> str:
        """The service's root URL (no trailing slash)."""
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        auth: httpx.Auth | None = None,
        replayable: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request (retrying what is safe) and raise the problem it answers, if any."""
        if body is not None:
            kwargs["content"] = body.model_dump_json(exclude_none=True).encode()
            kwargs["headers"] = {**kwargs.get("headers", {}), "content-type": "application/json"}
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, auth=auth or httpx.USE_CLIENT_DEFAULT, **kwargs)
                break
            except httpx.TransportError as error:
                self._refuse_untrusted(error)
                retryable = replayable and (isinstance(error, _NOT_SENT) or method in _IDEMPOTENT)
                if not retryable or attempt >= self._retries:
                    raise self.unreachable_error(
                        f"{self.service} at {self.base_url} is unreachable: {error}",
                        code=self.unreachable_code,
                    ) from error
                self._sleep(0.2 * 2**attempt)
                attempt += 1
        self._raise_for_problem(response)
        return response

    def _refuse_untrusted(self, error: httpx.TransportError) -> None:
        """Raise ``SERVICE_TLS_UNTRUSTED`` if ``error`` is a certificate that did not verify."""
        if (refusal := untrusted_peer(error)) is not None:
            raise ServiceError(
                f"{self.service} at {self.base_url} was refused: its TLS certificate does not "
                f"verify against the trusted CAs ({refusal.verify_message})",
                code="SERVICE_TLS_UNTRUSTED",
            ) from error

    def _raise_for_problem(self, response: httpx.Response) -> None:
        raise_for_problem(
            response,
            service=self.service,
            default=self.default_error,
            default_code=self.default_code,
            families=self.families,
        )

    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        """Send a request and return its answer as ``model`` (a pydantic model or type)."""
        return self._parse(model, self._send(method, path, **kwargs))

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        try:
            return TypeAdapter(model).validate_json(response.content)
        except ValidationError as error:
            raise ServiceError(
                f"{self.service} answered a body that is not a {getattr(model, '__name__', model)}: "
                f"{error.error_count()} error(s)",
                code="SERVICE_BAD_ANSWER",
            ) from error
