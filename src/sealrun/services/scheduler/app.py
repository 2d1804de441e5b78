"""The scheduler's composition root: ``create_app`` wires the board, the chain, the SMS and the market.

Importing does nothing. The lifespan runs its loops until shutdown: the election
(:mod:`.leadership`: active/standby on PostgreSQL), and, while this process is active, the
chain follower (deals and task outcomes, from a durable checkpoint), the lost-worker sweep,
the pool's offer on the market (when a market is configured) and webhook deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine

from sealrun.adapters.chain.events import ChainEvent
from sealrun.adapters.db import SqlNonceLedger, create_database_engine, session_factory, upgrade_database
from sealrun.adapters.web import BodySizeLimit, install_problem_handlers
from sealrun.adapters.web.observability import (
    Check,
    ServiceMetrics,
    chain_lag,
    database_check,
    http_check,
    install_observability,
    rpc_check,
)
from sealrun.core.requests import RequestDomain, RequestVerifier
from sealrun.errors import SealrunError
from sealrun.services.scheduler.board import PENDING, TaskBoard
from sealrun.services.scheduler.events import EventLog, StreamCounter, events_router, install_journal
from sealrun.services.scheduler.leadership import ACTIVE, ELECTION_INTERVAL, SINGLE, STANDBY, Leadership
from sealrun.services.scheduler.models import RequestNonce
from sealrun.services.scheduler.offers import PoolOffer
from sealrun.services.scheduler.routes import router
from sealrun.services.scheduler.settings import SchedulerSettings
from sealrun.services.scheduler.usecases import (
    FOLLOWED_EVENTS,
    CategorySource,
    ChallengeSource,
    SchedulerService,
)
from sealrun.services.scheduler.webhooks import WebhookDispatcher, WebhookPolicy, webhooks_router

__all__ = ["STATUS_BY_CODE", "EventSource", "SchedulerParts", "create_app"]

log = logging.getLogger(__name__)

STATUS_BY_CODE = {
    "TASK_UNKNOWN": 404,
    "WORKER_UNKNOWN": 404,
    "WORKER_NOT_ALLOWED": 403,
    "ASSIGNMENT_NOT_YOURS": 409,
    "STATUS_INVALID": 400,
    "EVENTS_CURSOR_INVALID": 400,
    "EVENTS_BUSY": 503,
    "WEBHOOK_URL_INVALID": 400,
    "WEBHOOK_FILTER_INVALID": 400,
    "WEBHOOK_HOST_REFUSED": 403,
    "WEBHOOK_NOT_YOURS": 403,
    "WEBHOOK_DEAL_UNKNOWN": 404,
    "WEBHOOK_LIMIT": 429,
    "SMS_UNREACHABLE": 502,
    "SERVICE_UNREACHABLE": 502,
    "SERVICE_STANDBY": 503,
}


#: Open SSE streams at most; how often a stream reads new events; seconds between keepalives.
EVENT_STREAMS, EVENT_POLL, EVENT_KEEPALIVE = 256, 0.25, 15.0
#: Seconds between two rounds of webhook deliveries.
WEBHOOK_INTERVAL = 0.5


class EventSource(Protocol):
    """A checkpointed event stream (:class:`sealrun.adapters.chain.events.EventReader`)."""

    def poll(self, handle: Callable[[list[ChainEvent]], None], *, names: Iterable[str] | None = None) -> int:
        """Deliver new events to ``handle``, then advance the checkpoint."""


@dataclass(frozen=True)
class SchedulerParts:
    """The outside world of a scheduler, built by ``__main__`` (or by tests)."""

    chain_id: int
    events: EventSource | None
    categories: CategorySource
    challenges: ChallengeSource
    offer: PoolOffer | None = None


#: Seconds the background loops get at shutdown to finish the step they are in.
_SHUTDOWN_GRACE = 10.0


def _lifespan(
    service: SchedulerService, parts: SchedulerParts, settings: SchedulerSettings, leadership: Leadership
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The background loops: election, and (when active) chain follower, sweep, offer, webhooks."""

    async def elect() -> bool:
        before = leadership.role
        return await asyncio.to_thread(leadership.elect) != before

    async def follow() -> bool:
        if parts.events is None:
            return False
        changed = [0]

        def apply(batch: list[ChainEvent]) -> None:
            changed[0] += service.apply_events(batch)

        await asyncio.to_thread(parts.events.poll, apply, names=FOLLOWED_EVENTS)
        return changed[0] > 0

    async def sweep() -> bool:
        return await asyncio.to_thread(service.sweep) > 0

    async def offer() -> bool:
        if parts.offer is not None:
            await asyncio.to_thread(parts.offer.ensure_published)
        return False

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def wake() -> None:
            # Swap in a fresh event so each wake-up releases exactly the waiters of that moment.
            old, app.state.wakeup = app.state.wakeup, asyncio.Event()
            old.set()

        stop = asyncio.Event()

        async def loop(
            name: str, step: Callable[[], Awaitable[bool]], interval: float, *, always: bool = False
        ) -> None:
            while not stop.is_set():
                try:
                    if (always or leadership.active) and await step():
                        wake()
                except SealrunError as error:
                    log.warning("scheduler %s: %s (%s)", name, error.message, error.code)
                except Exception:
                    log.exception("scheduler %s failed; retrying", name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

        app.state.wakeup = asyncio.Event()
        await elect()  # the first round before serving: an uncontested process starts active
        loops = [
            asyncio.create_task(loop("election", elect, ELECTION_INTERVAL, always=True)),
            asyncio.create_task(loop("chain follower", follow, settings.poll_interval)),
            asyncio.create_task(loop("sweep", sweep, settings.sweep_interval)),
            asyncio.create_task(loop("offer", offer, max(5.0, settings.poll_interval))),
        ]
        # Webhooks go out from their own loop: a slow receiver delays only its deliveries.
        http = httpx.AsyncClient(follow_redirects=False)
        dispatcher = WebhookDispatcher(
            app.state.sessions, app.state.event_log, http, app.state.webhook_policy, app.state.clock
        )

        async def deliver() -> bool:
            await dispatcher.tick()
            return False

        loops.append(asyncio.create_task(loop("webhooks", deliver, WEBHOOK_INTERVAL)))
        try:
            yield
        finally:
            # A step runs in a thread that cancelling cannot stop: let each loop finish its step
            # (so no thread still holds a database connection when the engines are disposed),
            # and cancel only one that is stuck past the grace time.
            stop.set()
            _, stuck = await asyncio.wait(loops, timeout=_SHUTDOWN_GRACE)
            for task in stuck:
                task.cancel()
            for task in stuck:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await http.aclose()
            await asyncio.to_thread(leadership.release)
            for engine in app.state.engines:
                engine.dispose()

    return lifespan


def create_app(
    settings: SchedulerSettings, parts: SchedulerParts, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """Build the scheduler application.

    Args:
        settings: the scheduler's settings.
        parts: the chain events, categories, SMS and market offer to use.
        clock: unix time source.
    """
    engine = create_database_engine(settings.database_url, schema=settings.database_schema)
    upgrade_database(
        engine,
        script_location="sealrun.services.scheduler:migrations",
        version_table="scheduler_alembic_version",
    )
    sessions = session_factory(engine)
    install_journal(sessions)  # every committed change of a task becomes an event
    board = TaskBoard(sessions)
    owner_key = bytes.fromhex(settings.owner_key.get_secret_value().removeprefix("0x"))
    service = SchedulerService(
        board,
        workerpool=settings.workerpool,
        owner_key=owner_key,
        challenges=parts.challenges,
        categories=parts.categories,
        clock=clock,
        worker_timeout=settings.worker_timeout,
        allowed_workers=settings.allowed_workers,
        max_claims=settings.max_claims_per_task,
        max_hold_time=settings.max_hold_time,
        retry_policy=settings.retry_policy(),
    )
    leadership = Leadership(engine, settings.workerpool, on_active=service.became_active)
    app = FastAPI(
        title="sealrun scheduler", version="1", lifespan=_lifespan(service, parts, settings, leadership)
    )
    app.state.leadership = leadership
    app.state.engines = [engine]
    app.state.service = service
    app.state.clock = clock
    app.state.long_poll_max = settings.long_poll_max
    app.state.wakeup = asyncio.Event()
    app.state.event_log = EventLog(sessions)
    app.state.event_streams = StreamCounter(EVENT_STREAMS)
    app.state.event_poll, app.state.event_keepalive = EVENT_POLL, EVENT_KEEPALIVE
    app.state.sessions = sessions
    app.state.webhook_policy = WebhookPolicy(
        tuple(host.lower() for host in settings.webhook_allowed_hosts), settings.webhook_allow_loopback
    )
    domain = RequestDomain(chain_id=parts.chain_id, hub=settings.hub)
    app.state.verifier = RequestVerifier(
        domain=domain, nonces=SqlNonceLedger(sessions, RequestNonce), window=settings.request_window
    )
    install_problem_handlers(app, STATUS_BY_CODE)
    # Worker calls are small JSON documents.
    app.add_middleware(BodySizeLimit, limit=16 * 1024)
    # A standby answers the workers SERVICE_STANDBY (503) before reading anything: their
    # clients fail over to the active scheduler.
    app.include_router(router, dependencies=[Depends(_require_active)])
    app.include_router(events_router)
    app.include_router(webhooks_router)
    install_observability(app, _metrics(board, parts, leadership), _checks(settings, engine, leadership))
    return app


def _require_active(request: Request) -> None:
    leadership: Leadership = request.app.state.leadership
    leadership.require_active()


def _metrics(board: TaskBoard, parts: SchedulerParts, leadership: Leadership) -> ServiceMetrics:
    """The role, the board's tasks by status, their attempts, the queue of pending tasks, the chain lag."""
    metrics = ServiceMetrics("scheduler")
    metrics.sampled(
        "sealrun_scheduler_role",
        "This scheduler's role among the pool's schedulers (1 for the role it has).",
        ["role"],
        lambda: {(role,): float(role == leadership.role) for role in (ACTIVE, STANDBY, SINGLE)},
        ttl=0,
    )
    metrics.sampled(
        "sealrun_tasks",
        "Tasks on the scheduler's board, by status.",
        ["status"],
        lambda: {(status,): float(count) for status, count in board.counts().items()},
    )
    metrics.sampled(
        "sealrun_task_attempts",
        "Attempts (assignments to a worker) of the board's tasks, summed by task status.",
        ["status"],
        lambda: {(status,): float(count) for status, count in board.attempts_by_status().items()},
    )
    metrics.sampled(
        "sealrun_queue_depth",
        "Items waiting in a queue (board: pending tasks no worker holds).",
        ["queue"],
        lambda: {("board",): float(board.counts().get(PENDING, 0))},
    )
    chain_lag(metrics, parts.events)
    return metrics


def _checks(settings: SchedulerSettings, engine: Engine, leadership: Leadership) -> dict[str, Check]:
    """Readiness: active (not a standby), its database, the chain, the SMS, the market."""
    checks: dict[str, Check] = {
        "leader": leadership.require_active,
        "database": database_check(engine),
        "chain": rpc_check(settings.rpc_url),
        "sms": http_check(settings.sms_url),
    }
    if settings.market_url:
        checks["market"] = http_check(settings.market_url)
    return checks
