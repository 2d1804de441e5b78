"""Webhooks: task events pushed to a requester's URL, signed, retried, idempotent by event id.

**Registering** (``POST /v1/webhooks``, a signed request, :mod:`sealrun.api.signing`): a
subscription names exactly one filter, ``requester`` (every task of deals that address
requested; the signer must be that address) or ``deal_id`` (that deal's tasks; the signer
must be the deal's requester), and a URL. The answer carries a fresh 32-byte ``secret``, shown
once: the receiver's key.

**Delivering**: for each event of a matching task (:mod:`.events`, in id order), one ``POST``
of the event's JSON with ``Sealrun-Webhook-Id``, ``Sealrun-Event-Id``, ``Sealrun-Timestamp``
and ``Sealrun-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<event id>." + body)>``.
A 2xx answer acknowledges it; anything else (an error status, a refused connection, no answer
within :data:`TIMEOUT` seconds) is retried after ``2**failures`` seconds (at most
:data:`MAX_DELAY`), up to :data:`MAX_ATTEMPTS` times, then that event is dropped for that
subscription and logged. A subscription's events go out one at a time, in order; the same
event may arrive twice when an acknowledgement is lost, so receivers keep the ids they have
processed (``Sealrun-Event-Id``). The dispatcher runs in its own loop with at most
:data:`PARALLEL` deliveries in flight, each bounded by :data:`TIMEOUT`: a receiver that is down
or slow delays only its own subscription, never the board or the other subscriptions. The
queue is bounded: the backlog is the event table itself, read :data:`BATCH` events at a time,
and a subscription more than :data:`MAX_BACKLOG` events behind skips ahead (logged).

**SSRF stance**: only ``http``/``https`` URLs without credentials; the host must resolve only
to public addresses (loopback, private, link-local, multicast and reserved ranges refused),
checked at registration and again before each delivery (DNS may change); a pool operator may
restrict hosts to an allow-list (``webhook_allowed_hosts``) and may allow loopback
(``webhook_allow_loopback``, as tests and a devnet do).

Errors (:class:`~sealrun.errors.ServiceError`): ``WEBHOOK_URL_INVALID`` (400),
``WEBHOOK_HOST_REFUSED`` (403), ``WEBHOOK_FILTER_INVALID`` (400), ``WEBHOOK_NOT_YOURS`` (403),
``WEBHOOK_DEAL_UNKNOWN`` (404), ``WEBHOOK_LIMIT`` (429).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import BigInteger, Float, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from sealrun.adapters.web import SignedCall, problem_responses, read_signed_call
from sealrun.api.scheduler import Routes, TaskEventOut, WebhookIn, WebhookOut
from sealrun.core.requests import RequestVerifier
from sealrun.errors import ServiceError
from sealrun.services.scheduler.events import EventLog
from sealrun.services.scheduler.models import ADDRESS, HEX32, Base, DealRow

__all__ = [
    "MAX_ATTEMPTS",
    "WebhookDispatcher",
    "WebhookPolicy",
    "WebhookRow",
    "check_url",
    "sign",
    "webhooks_router",
]

log = logging.getLogger(__name__)

TIMEOUT, PARALLEL, BATCH, MAX_BACKLOG = 5.0, 8, 50, 1000
MAX_ATTEMPTS, MAX_DELAY = 8, 300.0
#: Subscriptions one address may hold.
PER_OWNER = 16


class WebhookRow(Base):
    """A subscription and how far its deliveries got (``cursor``: the last event id done)."""

    __tablename__ = "scheduler_webhooks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(ADDRESS)
    deal_id: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    requester: Mapped[str | None] = mapped_column(ADDRESS, nullable=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class WebhookPolicy:
    """Which receivers the pool operator allows (see the module docstring)."""

    allowed_hosts: tuple[str, ...] = ()
    allow_loopback: bool = False


def _refused(host: str, why: str) -> ServiceError:
    return ServiceError(f"webhook host {host!r} refused: {why}", code="WEBHOOK_HOST_REFUSED")


def check_url(
    url: str, policy: WebhookPolicy, *, resolve: Callable[[str], Sequence[str]] | None = None
) -> str:
    """``url`` if a webhook may be sent there.

    Raises:
        ServiceError: ``WEBHOOK_URL_INVALID``, ``WEBHOOK_HOST_REFUSED``.
    """
    parts = urlsplit(url) if len(url) <= 2048 else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError("a webhook URL is http:// or https:// with a host", code="WEBHOOK_URL_INVALID")
    if parts.username or parts.password:
        raise ServiceError("a webhook URL carries no credentials", code="WEBHOOK_URL_INVALID")
    host = parts.hostname.lower()
    if policy.allowed_hosts and host not in policy.allowed_hosts:
        raise _refused(host, "not on the pool's allow-list")
    try:
        addresses = [ipaddress.ip_address(a) for a in (resolve or _resolve)(host)]
    except (OSError, ValueError) as error:
        raise _refused(host, "it does not resolve") from error
    if not addresses:
        raise _refused(host, "it does not resolve")
    for address in addresses:
        if address.is_loopback:
            if not policy.allow_loopback:
                raise _refused(host, "loopback (allowed only when the pool is configured so)")
        elif not address.is_global or address.is_multicast:
            raise _refused(host, f"{address} is not a public address")
    return url


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def sign(secret: bytes, timestamp: int, event_id: int, body: bytes) -> str:
    """The ``Sealrun-Signature`` value of a delivery."""
    mac = hmac.new(secret, f"{timestamp}.{event_id}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


@dataclass
class _Backoff:
    failures: int = 0
    retry_at: float = 0.0


@dataclass
class WebhookDispatcher:
    """Delivers events to subscriptions (one :meth:`tick` per loop turn)."""

    sessions: sessionmaker[Session]
    events: EventLog
    http: httpx.AsyncClient
    policy: WebhookPolicy
    clock: Callable[[], float]
    resolve: Callable[[str], Sequence[str]] | None = None
    _backoff: dict[str, _Backoff] = field(default_factory=dict)
    _requesters: dict[str, str] = field(default_factory=dict)

    def _subscriptions(self) -> list[WebhookRow]:
        with self.sessions() as session:
            return list(session.scalars(select(WebhookRow).order_by(WebhookRow.created_at)).all())

    def _requester(self, deal_id: str) -> str:
        if deal_id not in self._requesters:
            with self.sessions() as session:
                row = session.get(DealRow, deal_id)
            requester = json.loads(row.deal_json).get("requester", "") if row is not None else ""
            self._requesters[deal_id] = str(requester).lower()
        return self._requesters[deal_id]

    def _matches(self, row: WebhookRow, event: TaskEventOut) -> bool:
        if row.deal_id is not None:
            return event.deal_id == row.deal_id
        return row.requester is not None and self._requester(event.deal_id) == row.requester.lower()

    def _advance(self, row: WebhookRow, cursor: int) -> None:
        with self.sessions.begin() as session:
            stored = session.get(WebhookRow, row.id)
            if stored is not None and stored.cursor < cursor:
                stored.cursor = cursor
        row.cursor = cursor

    async def tick(self) -> int:
        """Deliver what is due to every subscription; returns how many deliveries succeeded."""
        rows = await run_in_threadpool(self._subscriptions)
        newest = await run_in_threadpool(self.events.newest)
        gate = asyncio.Semaphore(PARALLEL)

        async def serve(row: WebhookRow) -> int:
            async with gate:
                return await self._serve(row, newest)

        return sum(await asyncio.gather(*(serve(row) for row in rows)))

    async def _serve(self, row: WebhookRow, newest: int) -> int:
        state = self._backoff.setdefault(row.id, _Backoff())
        if state.retry_at > self.clock():
            return 0
        if newest - row.cursor > MAX_BACKLOG:
            log.warning("webhook %s: %d events behind; skipping ahead", row.id, newest - row.cursor)
            await run_in_threadpool(self._advance, row, newest - MAX_BACKLOG)
        delivered = 0
        for event in await run_in_threadpool(self.events.since, row.cursor, limit=BATCH):
            if not await run_in_threadpool(self._matches, row, event):
                await run_in_threadpool(self._advance, row, event.id)
                continue
            if not await self._deliver(row, event):
                state.failures += 1
                if state.failures < MAX_ATTEMPTS:
                    state.retry_at = self.clock() + min(MAX_DELAY, 2.0**state.failures)
                    return delivered
                log.warning("webhook %s: event %d dropped after %d attempts", row.id, event.id, MAX_ATTEMPTS)
            state.failures, state.retry_at = 0, 0.0
            await run_in_threadpool(self._advance, row, event.id)
            delivered += 1
        return delivered

    async def _deliver(self, row: WebhookRow, event: TaskEventOut) -> bool:
        try:
            await run_in_threadpool(check_url, row.url, self.policy, resolve=self.resolve)
        except ServiceError as error:
            log.warning("webhook %s: %s", row.id, error.message)
            return False
        body = event.model_dump_json().encode()
        timestamp = int(self.clock())
        headers = {
            "content-type": "application/json",
            "sealrun-webhook-id": row.id,
            "sealrun-event-id": str(event.id),
            "sealrun-timestamp": str(timestamp),
            "sealrun-signature": sign(bytes.fromhex(row.secret), timestamp, event.id, body),
        }
        try:
            response = await self.http.post(row.url, content=body, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as error:
            log.info("webhook %s: event %d not delivered: %s", row.id, event.id, error)
            return False
        return response.is_success


webhooks_router = APIRouter()


async def _signer(request: Request, call: Annotated[SignedCall, Depends(read_signed_call)]) -> str:
    verifier: RequestVerifier = request.app.state.verifier
    now = int(request.app.state.clock())
    verified = await run_in_threadpool(
        verifier.verify, action=call.action, body=call.body, signed=call.signature, now=now
    )
    return verified.signer


def _register(
    sessions: sessionmaker[Session], body: WebhookIn, signer: str, policy: WebhookPolicy, now: float
) -> WebhookOut:
    if (body.deal_id is None) == (body.requester is None):
        raise ServiceError("name exactly one of deal_id and requester", code="WEBHOOK_FILTER_INVALID")
    check_url(body.url, policy)
    with sessions.begin() as session:
        if body.deal_id is not None:
            deal = session.get(DealRow, body.deal_id.lower())
            if deal is None:
                raise ServiceError(f"no deal {body.deal_id} on this pool", code="WEBHOOK_DEAL_UNKNOWN")
            owner = str(json.loads(deal.deal_json).get("requester", ""))
        else:
            owner = body.requester or ""
        if owner.lower() != signer.lower():
            raise ServiceError("only the deal's requester may subscribe to it", code="WEBHOOK_NOT_YOURS")
        held = session.scalar(select(func.count()).select_from(WebhookRow).where(WebhookRow.owner == signer))
        if int(held or 0) >= PER_OWNER:
            raise ServiceError(f"at most {PER_OWNER} webhooks per address", code="WEBHOOK_LIMIT")
        row = WebhookRow(
            id=secrets.token_hex(16), owner=signer, deal_id=body.deal_id.lower() if body.deal_id else None,
            requester=body.requester, url=body.url, secret=secrets.token_hex(32), cursor=0, created_at=now,
        )  # fmt: skip
        session.add(row)
        return WebhookOut(
            id=row.id, url=row.url, deal_id=row.deal_id, requester=row.requester, secret=row.secret,
            signature="v1=hex(HMAC-SHA256(secret, timestamp + '.' + event_id + '.' + body))",
        )  # fmt: skip


@webhooks_router.post(
    Routes.WEBHOOKS, response_model=WebhookOut, responses=problem_responses(400, 401, 403, 404, 429)
)
async def register_webhook(
    body: WebhookIn, request: Request, signer: Annotated[str, Depends(_signer)]
) -> WebhookOut:
    """Subscribe a URL to the events of one deal or of every deal of a requester (signed)."""
    return await run_in_threadpool(
        _register, request.app.state.sessions, body, signer, request.app.state.webhook_policy,
        request.app.state.clock(),
    )  # fmt: skip
