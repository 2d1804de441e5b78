"""The explorer's web app: server-rendered pages (Jinja2, autoescaped) over public data.

Routes (stable URLs): ``/`` (the pool's deals), ``/deals/{id}``, ``/tasks/{id}`` (with its
timeline), ``/apps/{address}``, ``/datasets/{address}``, ``/workerpools/{address}``,
``/orderbook``; ``/tasks/{id}/events`` relays the scheduler's event stream to the page's one
script (same origin, so the CSP stays ``connect-src 'self'``). Every page works without
JavaScript; ``static/live.js`` only appends new timeline steps as they happen.

Every answer carries a strict Content-Security-Policy (no inline script or style, nothing
from another origin), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
no-referrer``. A malformed id or address answers 400 with its code (``INVALID_BYTES32``,
``INVALID_ADDRESS``), an unknown one 404; both as pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from sealrun.api.ids import parse_address, parse_task_id
from sealrun.api.scheduler import Routes
from sealrun.errors import ConfigError
from sealrun.services.explorer.sources import PublicData, is_zero

__all__ = ["CSP", "create_app"]

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.globals["is_zero"] = is_zero
    env.filters["utc"] = lambda unix: datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    env.filters["short"] = lambda value: f"{value[:10]}…{value[-6:]}" if len(value) > 20 else value
    return env


def create_app(
    data: PublicData, *, scheduler_url: str | None = None, title: str = "sealrun explorer"
) -> FastAPI:
    """Build the explorer.

    Args:
        data: the public data the pages show.
        scheduler_url: the pool scheduler whose event streams the pages relay (``None``: pages
            do not update live).
        title: the site's name.
    """
    env = _environment()
    # The devnet checks health on /openapi.json, as for every service (no docs UI: it would need scripts).
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(_HEADERS)
        return response

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        html = env.get_template(name).render(site=title, live=scheduler_url is not None, **context)
        return HTMLResponse(html, status_code=status)

    def missing(what: str) -> HTMLResponse:
        return page("error.html", 404, heading="Not found", message=f"No {what} here.", code="NOT_FOUND")

    async def guarded(render: Callable[[], HTMLResponse]) -> HTMLResponse:
        try:
            return await run_in_threadpool(render)
        except ConfigError as error:  # a malformed id or address
            return page("error.html", 400, heading="Bad request", message=error.message, code=error.code)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return await guarded(lambda: page("index.html", deals=data.deals()))

    @app.get("/deals/{deal_id}", response_class=HTMLResponse)
    async def deal(deal_id: str) -> HTMLResponse:
        def render() -> HTMLResponse:
            found = data.deal(deal_id)
            return page("deal.html", deal=found) if found else missing("deal")

        return await guarded(render)

    @app.get("/tasks/{task_id}", response_class=HTMLResponse)
    async def task(task_id: str) -> HTMLResponse:
        def render() -> HTMLResponse:
            found = data.task(task_id)
            return page("task.html", task=found, receipt=data.receipt(task_id)) if found else missing("task")

        return await guarded(render)

    @app.get("/apps/{address}", response_class=HTMLResponse)
    async def app_page(address: str) -> HTMLResponse:
        def render() -> HTMLResponse:
            found = data.app(parse_address(address, "app"))
            return page("app.html", app=found) if found else missing("app")

        return await guarded(render)

    @app.get("/datasets/{address}", response_class=HTMLResponse)
    async def dataset(address: str) -> HTMLResponse:
        def render() -> HTMLResponse:
            found = data.dataset(parse_address(address, "dataset"))
            return page("dataset.html", dataset=found) if found else missing("dataset")

        return await guarded(render)

    @app.get("/workerpools/{address}", response_class=HTMLResponse)
    async def workerpool(address: str) -> HTMLResponse:
        def render() -> HTMLResponse:
            found = data.workerpool(parse_address(address, "workerpool"))
            return page("workerpool.html", pool=found) if found else missing("workerpool")

        return await guarded(render)

    @app.get("/orderbook", response_class=HTMLResponse)
    async def orderbook() -> HTMLResponse:
        return await guarded(lambda: page("orderbook.html", book=data.orderbook()))

    @app.get("/tasks/{task_id}/events", response_model=None)
    async def events(task_id: str, request: Request) -> Response:
        """Relay the scheduler's event stream of one task (same origin for the page's script)."""
        return await _relay(scheduler_url, task_id, request)

    return app


async def _relay(scheduler_url: str | None, task_id: str, request: Request) -> Response:
    """The scheduler's event stream of ``task_id``, streamed through (``Last-Event-ID``, ``after`` kept)."""
    try:
        wanted = "0x" + parse_task_id(task_id).hex()
    except ConfigError as error:
        return Response(error.code, status_code=400, media_type="text/plain")
    if scheduler_url is None:
        return Response("no scheduler", status_code=404, media_type="text/plain")
    headers = {"accept": "text/event-stream"}
    resume = request.headers.get("last-event-id")
    if resume is not None:
        headers["last-event-id"] = resume[:32]
    start = request.query_params.get("after", "")
    after = {"after": start} if start.isdigit() and len(start) <= 18 else {}
    client = httpx.AsyncClient(base_url=scheduler_url, timeout=httpx.Timeout(10.0, read=None))
    upstream_request = client.build_request(
        "GET", Routes.TASK_EVENTS.format(task_id=wanted), headers=headers, params=after
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.TransportError:
        await client.aclose()
        return Response("scheduler unreachable", status_code=502, media_type="text/plain")
    if upstream.status_code != 200:
        await upstream.aclose()
        await client.aclose()
        return Response(status_code=upstream.status_code)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()
            await client.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream", headers={"cache-control": "no-store"})
