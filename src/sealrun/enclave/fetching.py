"""Download a task's inputs from the public internet, and from nowhere else.

Every URL a task names is hostile input to the worker host (SYSTEM.md §6). An
:class:`InputFetcher` applies one :class:`~sealrun.core.netpolicy.FetchPolicy`
(``docs/enclave.md``, "Inputs"):

- the URL's scheme and origin are checked before anything else
  (:func:`~sealrun.core.netpolicy.check_url_target`): ``https``, or ``http`` for an origin the
  worker lists; never ``file``, ``data``, ``ftp``, ...;
- its HTTP client connects through :class:`PublicNetworkBackend`, which resolves the host
  itself, refuses the connection unless *every* resolved address is public
  (:func:`~sealrun.core.netpolicy.check_public_address`), connects to the checked address
  literally (no second resolution, so DNS rebinding gains nothing) and checks the socket's
  peer once more; TLS still verifies the certificate against the URL's host name;
- redirects are followed up to ``max_redirects`` times and every hop goes through the same
  transport, so through the same checks; a listed http origin is reached only through a
  plain transport reserved for exactly that origin;
- sizes: a download starts only if the disk has what remains of the task's budget plus a
  margin free; a ``Content-Length`` over the limit is refused before the body is read; the
  body stops at the limit (the smaller of the per-input limit and what remains of the budget).

Every refusal or failure is a :class:`~sealrun.enclave.failure.TaskFailedError` with
``INPUT_FETCH_FAILED`` whose message names the URL and the rule, except a transient one:
a server unreachable, a timeout, or an answer 5xx, 408 or 429 is tried again in place
(``transient_retries`` times, waiting ``retry_delay_seconds`` doubled each time, never past
``max_fetch_seconds``) and then fails with ``INPUT_UNAVAILABLE``, an infrastructure failure
the pool retries on another attempt (:mod:`sealrun.core.tasks.retries`). A download goes to a
temporary name (created only once the response is acceptable) and is renamed into place
only when complete.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

import httpcore
import httpx

from sealrun.core.netpolicy import FetchPolicy, Route, check_public_address, check_url_target
from sealrun.core.tasks import FailureCode
from sealrun.enclave.failure import TaskFailedError
from sealrun.errors import EnclaveError

__all__ = [
    "FetchPolicy",
    "Fetched",
    "InputFetcher",
    "PublicNetworkBackend",
    "Resolver",
    "disk_free_bytes",
    "resolve_host",
    "url_basename",
]

_CHUNK = 1 << 20
_TIMEOUT = httpx.Timeout(60.0, connect=15.0)

#: ``resolve(host, port)`` → the IP addresses (text) a TCP connection to ``host`` may use.
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Fetched:
    """A fetched input: where it is, its sha256 and size."""

    path: Path
    sha256: bytes
    size: int


#: Answers that say "not now" rather than "no": retried in place, then INPUT_UNAVAILABLE.
_TRANSIENT_STATUSES = frozenset({408, 429})
_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _check_status(url: str, response: httpx.Response) -> None:
    """Refuse any answer but 200: "not now" ones as ``INPUT_UNAVAILABLE``, the others as failed."""
    status = response.status_code
    if status >= 500 or status in _TRANSIENT_STATUSES:
        raise _unavailable(url, f"HTTP {status} from {response.url}")
    if status != 200:
        raise _fail(url, f"HTTP {status} from {response.url}")


def _unavailable(url: str, why: str) -> TaskFailedError:
    return _fail(url, why, FailureCode.INPUT_UNAVAILABLE)


def _fail(url: str, why: str, code: FailureCode = FailureCode.INPUT_FETCH_FAILED) -> TaskFailedError:
    return TaskFailedError(code, f"cannot fetch {url}: {why}")


def _refused(url: str, why: str) -> TaskFailedError:
    return _fail(url, why, FailureCode.INPUT_URL_REFUSED)


def _too_large(url: str, why: str) -> TaskFailedError:
    return _fail(url, why, FailureCode.INPUT_TOO_LARGE)


def url_basename(url: str, fallback: str) -> str:
    """Return a safe file name for ``url`` (its last path segment), or ``fallback``."""
    name = unquote(urlparse(url).path.rsplit("/", 1)[-1])
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".")
    return cleaned[:128] or fallback


def resolve_host(host: str, port: int) -> list[str]:
    """Resolve ``host`` for a TCP connection with the system resolver.

    Returns:
        Every address ``getaddrinfo`` gives, as text, in its order (an IP literal resolves to
        itself; glibc also turns numeric spellings such as ``2130706433`` into ``127.0.0.1``).

    Raises:
        OSError: the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def disk_free_bytes(folder: Path) -> int:
    """Return the bytes an unprivileged user may still write on ``folder``'s file system."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


class PublicNetworkBackend(httpcore.NetworkBackend):
    """An httpcore network backend that connects to public internet addresses only.

    It resolves the host itself and refuses the connection when any resolved address fails
    :func:`~sealrun.core.netpolicy.check_public_address` (a name that mixes public and
    private addresses is a rebinding trick, not a mirror); it then connects to the checked
    addresses literally and checks the connected socket's peer. Unix sockets are refused.

    Args:
        resolve: the resolver (:func:`resolve_host` by default; tests inject others).
    """

    def __init__(self, resolve: Resolver = resolve_host) -> None:
        self._resolve = resolve
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host``, check every address, connect to the first that answers."""
        try:
            resolved = self._resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"{host} does not resolve: {error}") from error
        if not resolved:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        checked = [check_public_address(address) for address in resolved]
        last: httpcore.ConnectError | None = None
        for address in checked:
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as error:
                last = error
                continue
            try:
                peer = stream.get_extra_info("socket").getpeername()[0]
                if ip_address(peer) != address:
                    check_public_address(peer)
            except BaseException:
                stream.close()
                raise
            return stream
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002 - the interface's signature
        timeout: float | None = None,  # noqa: ARG002
        socket_options: Iterable[Any] | None = None,  # noqa: ARG002
    ) -> httpcore.NetworkStream:
        """Refuse: an input never comes from a local socket."""
        raise EnclaveError("a unix socket is not the public internet", code="INPUT_ADDRESS_REFUSED")

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retry back-off)."""
        self._inner.sleep(seconds)


class _PolicyTransport(httpx.BaseTransport):
    """Checks each request (each redirect hop too) and routes it to the transport it may use."""

    def __init__(self, policy: FetchPolicy, resolve: Resolver) -> None:
        self._policy = policy
        # trust_env=False everywhere: a proxy from the environment would make the peer
        # address the proxy's and let it reach anything on the requester's behalf.
        self._allowed = httpx.HTTPTransport(trust_env=False)
        self._public = httpx.HTTPTransport(trust_env=False)
        # httpx 0.28 takes no network backend (encode/httpx#3749 adds one): swap in a pool
        # that has ours. Fail closed if httpx's internals ever change shape.
        original = getattr(self._public, "_pool", None)
        if not isinstance(original, httpcore.ConnectionPool):  # pragma: no cover - a dependency change
            raise EnclaveError(
                "httpx's transport has no connection pool to guard", code="ENCLAVE_HTTP_UNGUARDED"
            )
        original.close()
        self._public._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=PublicNetworkBackend(resolve),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            route = check_url_target(url.scheme, url.host, url.port, self._policy)
        except EnclaveError as error:
            raise EnclaveError(f"{url}: {error.message}", code=error.code) from error
        transport = self._allowed if route is Route.ALLOWED_ORIGIN else self._public
        return transport.handle_request(request)

    def close(self) -> None:
        self._allowed.close()
        self._public.close()


class InputFetcher:
    """Fetches one task's inputs under a policy and the task's byte budget.

    Args:
        policy: the worker's :class:`~sealrun.core.netpolicy.FetchPolicy`.
        requested_bytes: the app manifest's input budget in bytes (``input_size_mb``), or
            None; the policy caps it (:meth:`FetchPolicy.task_budget`).
        free_space: bytes free on a folder's file system (:func:`disk_free_bytes`).
        resolve: the resolver for public hosts (:func:`resolve_host`).
        clock: monotonic seconds, for ``max_fetch_seconds``.
        sleep: waits between in-place retries (tests inject it).

    Use as a context manager (the HTTP client is closed on exit).
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        requested_bytes: int | None = None,
        free_space: Callable[[Path], int] = disk_free_bytes,
        resolve: Resolver = resolve_host,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.budget = policy.task_budget(requested_bytes)
        self.fetched_bytes = 0
        self.retried = 0
        self._free_space = free_space
        self._clock = clock
        self._sleep = sleep
        self._deadline = clock() + policy.max_fetch_seconds
        self._client = httpx.Client(
            transport=_PolicyTransport(policy, resolve),
            timeout=_TIMEOUT,
            follow_redirects=True,
            max_redirects=policy.max_redirects,
            trust_env=False,
            headers={"accept-encoding": "identity"},
        )

    def __enter__(self) -> InputFetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def check(self, url: str) -> None:
        """Check ``url``'s scheme and origin without connecting (addresses are checked on connect).

        Raises:
            TaskFailedError: ``INPUT_FETCH_FAILED`` naming the URL and the rule.
        """
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as error:
            raise _refused(url, f"not a valid URL ({error})") from error
        try:
            check_url_target(parsed.scheme, parsed.host, parsed.port, self.policy)
        except EnclaveError as error:
            raise _refused(url, error.message) from error

    def limit(self) -> int:
        """Return the most the next input may be: the per-input limit or what remains of the budget."""
        return min(self.policy.max_input_bytes, self.budget - self.fetched_bytes)

    def fetch(self, url: str, target: Path) -> Fetched:
        """Download ``url`` to ``target`` (its folder must exist).

        Returns:
            The :class:`Fetched` file; its size is added to :attr:`fetched_bytes`.

        Raises:
            TaskFailedError: ``INPUT_FETCH_FAILED``: a refused scheme, origin or address,
                too little free disk, over the per-input limit or the task's budget, an HTTP
                error status, too many redirects; ``INPUT_UNAVAILABLE``: still unreachable,
                timing out or answering 5xx/408/429 after the in-place retries.
        """
        self.check(url)
        limit = self.limit()
        remaining = self.budget - self.fetched_bytes
        if limit <= 0:
            raise _too_large(url, f"the task's input budget of {self.budget} bytes is used up")
        try:
            free = self._free_space(target.parent)
        except OSError as error:
            raise _fail(url, f"cannot read the free disk space: {error.strerror or error}") from error
        needed = remaining + self.policy.free_space_margin_bytes
        if free < needed:
            raise _too_large(
                url,
                f"only {free} bytes are free on the disk; the task's remaining input budget needs "
                f"{remaining} plus a {self.policy.free_space_margin_bytes}-byte margin",
            )
        too_big = (
            f"larger than the per-input limit of {limit} bytes"
            if limit == self.policy.max_input_bytes
            else f"over the task's input budget of {self.budget} bytes ({self.fetched_bytes} already fetched)"
        )
        partial = target.with_name(target.name + ".part")
        try:
            size, digest = self._download_retrying(url, partial, limit, too_big)
            os.replace(partial, target)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise _fail(url, error.strerror or str(error)) from error
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.fetched_bytes += size
        return Fetched(path=target, sha256=digest, size=size)

    def _download_retrying(self, url: str, partial: Path, limit: int, too_big: str) -> tuple[int, bytes]:
        """:meth:`_download`, tried again in place after a transient failure (bounded)."""
        attempt = 0
        while True:
            try:
                return self._download(url, partial, limit, too_big)
            except TaskFailedError as error:
                if (
                    error.failure is not FailureCode.INPUT_UNAVAILABLE
                    or attempt >= self.policy.transient_retries
                ):
                    raise
                delay = self.policy.retry_delay_seconds * 2**attempt
                if self._clock() + delay >= self._deadline:
                    raise
                partial.unlink(missing_ok=True)
                self._sleep(delay)
                attempt += 1
                self.retried += 1

    def _download(self, url: str, partial: Path, limit: int, too_big: str) -> tuple[int, bytes]:
        digest = hashlib.sha256()
        size = 0
        try:
            with self._client.stream("GET", url) as response:
                _check_status(url, response)
                declared = response.headers.get("content-length")
                if declared is not None:
                    if not (declared.isascii() and declared.isdigit()):
                        raise _fail(url, f"bad Content-Length {declared!r}")
                    if int(declared) > limit:
                        raise _too_large(url, f"Content-Length {declared} is {too_big}")
                with partial.open("wb") as sink:
                    for chunk in response.iter_bytes(_CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise _too_large(url, too_big)
                        if self._clock() > self._deadline:
                            raise _fail(
                                url, f"the task's downloads took over {self.policy.max_fetch_seconds} s"
                            )
                        digest.update(chunk)
                        sink.write(chunk)
        except EnclaveError as error:
            if isinstance(error, TaskFailedError):
                raise
            raise _refused(url, error.message) from error  # a refused hop or address
        except httpx.TooManyRedirects as error:
            raise _refused(url, f"more than {self.policy.max_redirects} redirects") from error
        except _TRANSIENT_ERRORS as error:
            raise _unavailable(url, f"{type(error).__name__}: {error}") from error
        except httpx.HTTPError as error:
            raise _fail(url, f"{type(error).__name__}: {error}") from error
        return size, digest.digest()
