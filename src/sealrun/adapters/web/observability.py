"""What an operator scrapes and probes: ``/metrics``, ``/healthz`` and ``/readyz``.

:func:`install_observability` gives a FastAPI service the three routes and the HTTP metrics
middleware, over a :class:`ServiceMetrics` that owns a *per-app*
:class:`~prometheus_client.CollectorRegistry` (two apps in one process never share a series).

- ``/metrics``: the Prometheus text format. Every service has
  ``sealrun_http_requests_total{method,route,status}`` (``route`` is the route's *template*,
  ``/v1/tasks/{task_id}``, never the path a caller typed: ids do not become series, and an
  unknown path counts as ``<unmatched>``) and ``sealrun_http_request_duration_seconds``; each
  service adds its own (``docs/operate.md`` lists them). Values that cost a query (task counts,
  queue depth, chain lag) are *sampled*: read at most once per ``ttl`` seconds whatever the
  scrape rate, and a failed read leaves the series out rather than failing the scrape.
- ``/healthz``: the process answers (``{"status": "alive", "service": ...}``), nothing else.
- ``/readyz``: each named check (database, chain, peers) run with a short timeout, in
  parallel, at most once per ``ttl`` seconds (an anonymous caller cannot make the service do
  more); ``200`` when every check passes, else ``503``. The body names each check and, for a
  failed one, only a stable reason (``timeout``, a sealrun error code or an exception class):
  never a message, which could quote a database URL with its password.

None of the three is signed (signing is per route, through ``read_signed_call``), none
reads a request body, and none shows a secret, a task input or an address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sealrun.adapters.http.base import parse_service_urls
from sealrun.errors import SealrunError

__all__ = [
    "HEALTHZ",
    "METRICS",
    "READYZ",
    "Check",
    "HttpMetrics",
    "Readiness",
    "SampledGauge",
    "ServiceMetrics",
    "chain_lag",
    "database_check",
    "http_check",
    "install_observability",
    "rpc_check",
]

METRICS = "/metrics"
HEALTHZ = "/healthz"
READYZ = "/readyz"
UNMATCHED = "<unmatched>"
_CHECK_TIMEOUT = 2.0
_READY_TTL = 5.0
_SAMPLE_TTL = 5.0
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Sample = Callable[[], Mapping[tuple[str, ...], float]]
Check = Callable[[], None]


class SampledGauge(Collector):
    """A gauge family whose values come from ``sample()``, read at most once per ``ttl`` s.

    ``sample`` returns ``{label values: value}``. A scrape during a read (another thread)
    serves the last values instead of waiting; a read that raises keeps the last values
    for one more ``ttl`` and is counted in ``sealrun_sample_errors_total``.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        sample: Sample,
        *,
        ttl: float = _SAMPLE_TTL,
        errors: Counter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self._sample, self.ttl, self._clock, self._errors = sample, ttl, clock, errors
        self._values: Mapping[tuple[str, ...], float] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def values(self) -> Mapping[tuple[str, ...], float]:
        """The current values (reading them if the last read is older than ``ttl``)."""
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self.ttl:
            return self._values
        if not self._lock.acquire(blocking=False):
            return self._values
        try:
            try:
                self._values = dict(self._sample())
            except Exception:  # a sample is best effort: the scrape must still answer
                if self._errors is not None:
                    self._errors.labels(metric=self.name).inc()
            self._read_at = now
            return self._values
        finally:
            self._lock.release()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in sorted(self.values().items()):
            family.add_metric(list(labels), float(value))
        return [family]


@dataclass
class ServiceMetrics:
    """One service's metrics, in its own registry (``registry``).

    Attributes:
        service: ``store``, ``market``, ``sms``, ``scheduler`` or ``worker``.
    """

    service: str
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        self.http_requests = Counter(
            "sealrun_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "sealrun_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._sampled: list[SampledGauge] = []
        self.sample_errors = Counter(
            "sealrun_sample_errors",
            "Sampled gauges whose read failed (the scrape served the last values).",
            ["metric"],
            registry=self.registry,
        )

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter in this service's registry."""
        return Counter(name, documentation, list(labels), registry=self.registry)

    def histogram(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Histogram:
        """A latency histogram (seconds) in this service's registry."""
        return Histogram(name, documentation, list(labels), buckets=_LATENCY_BUCKETS, registry=self.registry)

    def sampled(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        sample: Sample,
        *,
        ttl: float = _SAMPLE_TTL,
    ) -> SampledGauge:
        """Register a :class:`SampledGauge` (read at most once per ``ttl`` seconds)."""
        gauge = SampledGauge(name, documentation, labels, sample, ttl=ttl, errors=self.sample_errors)
        self.registry.register(gauge)
        self._sampled.append(gauge)
        return gauge

    def sample_every(self, seconds: float) -> None:
        """Set every sampled gauge's ``ttl`` (tests: ``0``, read at each scrape)."""
        for gauge in self._sampled:
            gauge.ttl = seconds

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class HttpMetrics:
    """ASGI middleware: counts every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]
        began = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = str(scope.get("method", "GET")).upper()
            if method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
                method = "OTHER"  # a caller does not mint label values
            self.metrics.http_requests.labels(method=method, route=template, status=str(status[0])).inc()
            self.metrics.http_duration.labels(method=method, route=template).observe(
                time.perf_counter() - began
            )


def _reason(error: BaseException) -> str:
    if isinstance(error, SealrunError):
        return error.code
    return type(error).__name__


class Readiness:
    """Named readiness checks, each under ``timeout`` seconds, cached for ``ttl`` seconds.

    A check is a callable that returns when its dependency answers and raises otherwise. A
    check still running from an earlier round (a hung connection) is reported ``timeout``
    and not started again, so a flood of probes never piles up threads.
    """

    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        timeout: float = _CHECK_TIMEOUT,
        ttl: float = _READY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checks = dict(checks)
        self.timeout, self.ttl, self._clock = timeout, ttl, clock
        self._running: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._last: tuple[float, bool, dict[str, dict[str, Any]]] | None = None

    def _round(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        for name, check in self.checks.items():
            running = self._running.get(name)
            if running is None or running.done.is_set():
                self._running[name] = _Run.start(name, check)
        deadline = time.monotonic() + self.timeout
        results: dict[str, dict[str, Any]] = {}
        for name in self.checks:
            run = self._running[name]
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                results[name] = {"ok": False, "reason": "timeout"}
            elif run.error is not None:
                results[name] = {"ok": False, "reason": _reason(run.error)}
            else:
                results[name] = {"ok": True}
        return all(r["ok"] for r in results.values()), results

    def status(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """``(ready, {check: {"ok": bool, "reason"?: str}})``, at most ``ttl`` seconds old.

        While one caller runs a round, the others get the previous answer at once (they wait
        only for the very first round): a flood of probes holds no request threads.
        """
        last = self._last
        if last is not None and self._clock() - last[0] < self.ttl:
            return last[1], last[2]
        if not self._lock.acquire(blocking=last is None):
            assert last is not None
            return last[1], last[2]
        try:
            last = self._last
            if last is not None and self._clock() - last[0] < self.ttl:
                return last[1], last[2]
            ready, results = self._round()
            self._last = (self._clock(), ready, results)
            return ready, results
        finally:
            self._lock.release()


@dataclass
class _Run:
    """One check running in a daemon thread (a hung one never holds the process at exit)."""

    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    @classmethod
    def start(cls, name: str, check: Check) -> _Run:
        run = cls()

        def target() -> None:
            try:
                check()
            except Exception as error:
                run.error = error
            finally:
                run.done.set()

        threading.Thread(target=target, name=f"readyz-{name}", daemon=True).start()
        return run


def database_check(engine: sa.Engine) -> Check:
    """A check that runs ``SELECT 1`` on ``engine``."""

    def check() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return check


def rpc_check(url: str, *, timeout: float = _CHECK_TIMEOUT) -> Check:
    """A check that asks the JSON-RPC node at ``url`` for its block number."""

    def check() -> None:
        answer = httpx.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}, timeout=timeout
        )
        answer.raise_for_status()
        if "result" not in answer.json():
            raise ValueError("no result")

    return check


def http_check(base_url: str, *, path: str = HEALTHZ, timeout: float = _CHECK_TIMEOUT) -> Check:
    """A check that a peer service at ``base_url`` answers ``path`` (its ``/healthz``) with 200.

    ``base_url`` may list several replicas (comma-separated, as the clients take it): the
    check passes when one of them answers, since the clients fail over to it.
    """
    urls = parse_service_urls(base_url)

    def check() -> None:
        for url in urls[:-1]:
            try:
                httpx.get(url + path, timeout=timeout).raise_for_status()
                return
            except httpx.HTTPError:
                continue
        httpx.get(urls[-1] + path, timeout=timeout).raise_for_status()

    return check


def chain_lag(metrics: ServiceMetrics, source: object) -> None:
    """Register ``sealrun_chain_lag_blocks`` if ``source`` can tell its lag (an ``EventReader``)."""
    lag = getattr(source, "lag", None)
    if not callable(lag):
        return
    metrics.sampled(
        "sealrun_chain_lag_blocks",
        "Blocks between the chain's head and the last block this service has processed.",
        [],
        lambda: {(): float(lag())},
    )


def install_observability(
    app: FastAPI, metrics: ServiceMetrics, checks: Mapping[str, Check], *, ready_ttl: float = _READY_TTL
) -> Readiness:
    """Add ``/metrics``, ``/healthz``, ``/readyz`` and the HTTP metrics middleware to ``app``.

    Call it last in the app factory, so the middleware is the outermost one (it also counts
    what an inner guard refused). Keeps ``metrics`` and the readiness in ``app.state``.
    """
    readiness = Readiness(checks, ttl=ready_ttl)
    app.state.metrics = metrics
    app.state.readiness = readiness

    def scrape() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def healthz() -> JSONResponse:
        return JSONResponse({"status": "alive", "service": metrics.service})

    def readyz() -> JSONResponse:
        ready, results = readiness.status()
        body = {"status": "ready" if ready else "not ready", "service": metrics.service, "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    app.add_api_route(METRICS, scrape, methods=["GET"], include_in_schema=False)
    app.add_api_route(HEALTHZ, healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route(READYZ, readyz, methods=["GET"], include_in_schema=False)
    app.add_middleware(HttpMetrics, metrics=metrics)
    return readiness
