"""The base of every service client: one httpx client, timeouts, retries, typed answers.

A :class:`ServiceClient` subclass names its service, the code it raises when the service
cannot be reached and how problem codes map to exception families; its methods are one
line each over :meth:`ServiceClient._call`, which sends a request (signed when given a
:class:`~sealrun.adapters.http.signing.SignedRequestAuth`), retries what is safe to retry,
turns a problem+json answer into the service's code (:func:`.problems.raise_for_problem`)
and validates a success against the route's pydantic model (:mod:`sealrun.api`).

Several replicas: the base URL may be a comma-separated list
(``http://sms-a:8702,http://sms-b:8702``, checked by :func:`parse_service_urls`). The client
sticks to the URL that last answered and moves to the next one when a request cannot be
delivered; once every URL failed in a round it waits (0.2 s, 0.4 s, ...) before the next round.

Retries and failover follow the request's idempotency. A request that never reached the
service (connection refused, connect timeout) is sent again, to the next URL, for any method.
One that may have reached it (a read timeout, a dropped connection) and, when there is another
replica, an answer ``502`` or ``503`` (a proxy without a backend, a replica not ready) are
retried only for ``GET`` and ``HEAD`` (or a request its client marks idempotent, such as
issuing a fresh single-use nonce): a write whose outcome is unknown is never sent twice. The
exception is a ``503`` problem whose code is ``SERVICE_STANDBY``: a standby replica (the
scheduler's) refuses before reading the request, so the request is sent to the next URL
whatever its method. A streamed body is sent once.
A retried signed request is signed again (a fresh nonce), so it is never refused as a replay
of itself.

Request bodies are built with ``model_construct`` (not validated here): the service is the
judge of what it takes and answers its own codes (``VALIDATION_FAILED``...), exactly as for
any other client; answers are validated, since the caller relies on their shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Self, TypeVar

import httpx
from pydantic import AfterValidator, BaseModel, TypeAdapter, ValidationError

from sealrun.adapters.http.problems import raise_for_problem
from sealrun.errors import ConfigError, SealrunError, ServiceError

__all__ = ["ServiceClient", "ServiceUrls", "normalize_service_urls", "parse_service_urls"]

M = TypeVar("M")
_IDEMPOTENT = frozenset({"GET", "HEAD"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
_FAIL_OVER_STATUS = frozenset({502, 503})
#: The problem code of a replica that refused a request without processing it.
_STANDBY_CODE = "SERVICE_STANDBY"
_MAX_URLS = 16
_MAX_URL_CHARS = 2048


def parse_service_urls(value: str) -> tuple[str, ...]:
    """Split a service URL setting (one URL or several, comma-separated) into its URLs.

    Each URL is ``http`` or ``https`` with a host, and no user info, query or fragment (a
    password in a URL would end up in messages); trailing slashes are dropped. At most 16
    URLs, no URL twice.

    Returns:
        The URLs in the order given (the client tries them in that order).

    Raises:
        ConfigError: ``SERVICE_URL_INVALID`` naming the first bad entry (by position).
    """
    if len(value) > _MAX_URLS * _MAX_URL_CHARS:
        raise ConfigError("the service URL list is too long", code="SERVICE_URL_INVALID")
    urls: list[str] = []
    for position, raw in enumerate(value.split(","), start=1):
        text = raw.strip().rstrip("/")
        try:
            url = httpx.URL(text)
            valid = (
                bool(text)
                and len(text) <= _MAX_URL_CHARS
                and text.isprintable()
                and url.scheme in ("http", "https")
                and bool(url.host)
                and (url.port is None or 0 < url.port < 65536)
                and not url.userinfo
                and not url.query
                and not url.fragment
            )
        except (httpx.InvalidURL, ValueError, TypeError):
            valid = False
        if not valid:
            raise ConfigError(
                f"service URL {position} is not an http(s) URL with a host (and no user, query "
                "or fragment); give one URL or several separated by commas",
                code="SERVICE_URL_INVALID",
            )
        if text in urls:
            raise ConfigError(f"service URL {position} is listed twice", code="SERVICE_URL_INVALID")
        urls.append(text)
    if len(urls) > _MAX_URLS:
        raise ConfigError(f"at most {_MAX_URLS} service URLs", code="SERVICE_URL_INVALID")
    return tuple(urls)


def normalize_service_urls(value: str) -> str:
    """A service URL setting checked and normalized (``SERVICE_URL_INVALID``), as one string."""
    return ",".join(parse_service_urls(value))


#: A settings field holding one service URL or a comma-separated list of its replicas'.
#: A bad value raises ``SERVICE_URL_INVALID`` (a ConfigError passes through pydantic).
ServiceUrls = Annotated[str, AfterValidator(normalize_service_urls)]


def _is_standby(response: httpx.Response) -> bool:
    """Whether an answer is a standby's ``503 SERVICE_STANDBY`` (nothing was processed)."""
    if response.status_code != 503 or "json" not in response.headers.get("content-type", ""):
        return False
    try:
        body = response.read()
        document = json.loads(body) if len(body) <= 4096 else None
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("code") == _STANDBY_CODE


class ServiceClient:
    """Talks to one sealrun service (one or several replicas of it) over HTTP.

    Args:
        base_url: the service's root URL, e.g. ``http://127.0.0.1:8702``, or the URLs of
            its replicas separated by commas (see :func:`parse_service_urls`).
        http: an httpx client to use instead of a new one (tests pass an in-process client,
            e.g. Starlette's ``TestClient`` over the real app, or one on a ``MockTransport``).
        timeout: seconds per request (for a new client).
        retries: how many more rounds over the URLs a retryable failure gets.
        sleep: waits between retries (injected for tests).

    Raises:
        ConfigError: ``SERVICE_URL_INVALID`` for a bad URL or URL list.
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
    ) -> None:
        self._urls = parse_service_urls(base_url)
        self._http = http or httpx.Client(timeout=timeout or self.default_timeout)
        self._http.base_url = httpx.URL(self._urls[0])
        self._retries = retries
        self._sleep = sleep

    @property
    def base_url(self) -> str:
        """The root URL of the replica in use (no trailing slash)."""
        return str(self._http.base_url).rstrip("/")

    @property
    def urls(self) -> tuple[str, ...]:
        """Every replica's root URL, in the order they are tried."""
        return self._urls

    def _fail_over(self) -> None:
        """Use the next replica's URL from now on (the one after the current, wrapping)."""
        current = self._urls.index(self.base_url) if self.base_url in self._urls else -1
        self._http.base_url = httpx.URL(self._urls[(current + 1) % len(self._urls)])

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
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request (retrying what is safe) and raise the problem it answers, if any.

        ``idempotent`` (default: the method is ``GET`` or ``HEAD``) says whether sending the
        request twice is harmless, so that it may be resent after an unknown outcome; a
        client sets it for a ``POST`` whose protocol makes a repeat harmless (a fresh
        single-use nonce: an extra one expires unused).
        """
        safe_to_repeat = method in _IDEMPOTENT if idempotent is None else idempotent
        if body is not None:
            kwargs["content"] = body.model_dump_json(exclude_none=True).encode()
            kwargs["headers"] = {**kwargs.get("headers", {}), "content-type": "application/json"}
        tries, last_try = 0, len(self._urls) * (self._retries + 1) - 1
        while True:
            try:
                response = self._http.request(method, path, auth=auth or httpx.USE_CLIENT_DEFAULT, **kwargs)
            except httpx.TransportError as error:
                retryable = replayable and (isinstance(error, _NOT_SENT) or safe_to_repeat)
                if not retryable or tries >= last_try:
                    raise self.unreachable_error(
                        f"{self.service} at {self.base_url} is unreachable: {error}",
                        code=self.unreachable_code,
                    ) from error
            else:
                # An unavailable answer moves to another replica; with one URL it is the
                # answer (a 503 may mean "busy, come back later", the caller's call).
                unavailable = response.status_code in _FAIL_OVER_STATUS and len(self._urls) > 1
                safe = safe_to_repeat or _is_standby(response)
                if not (unavailable and replayable and safe and tries < last_try):
                    break
                response.close()
            tries += 1
            self._fail_over()
            if tries % len(self._urls) == 0:  # a whole round failed: back off before the next
                self._sleep(0.2 * 2 ** (tries // len(self._urls) - 1))
        self._raise_for_problem(response)
        return response

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
