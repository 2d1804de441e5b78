"""Webhooks: registered by a signed request, delivered signed, retried, once per event."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import httpx
import pytest
from eth_account import Account

from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.core.requests import RequestDomain
from sealrun.errors import ServiceError
from sealrun.services.scheduler.webhooks import MAX_ATTEMPTS, WebhookDispatcher, WebhookPolicy, check_url
from tests.scheduler.conftest import CHAIN_ID, HUB, Harness, deal_event, task_event

REQUESTER = Account.from_key(b"\x61" * 32)
DEAL = b"\xab" * 32
HOOK = "http://127.0.0.1:9/hook"


def _register(harness: Harness, key: bytes = bytes(REQUESTER.key), **body: object) -> httpx.Response:
    auth = SignedRequestAuth(key, RequestDomain(chain_id=CHAIN_ID, hub=HUB), clock=lambda: harness.clock[0])
    return harness.client.post("/v1/webhooks", json=body, auth=auth)


def _deal(harness: Harness) -> None:
    event = deal_event(DEAL, volume=1)
    event.args["deal"]["requester"] = REQUESTER.address
    harness.events.queue.append(event)
    harness.follow()


def test_a_bad_webhook_url_is_refused_with_its_code(harness: Harness) -> None:
    _deal(harness)
    deal = "0x" + DEAL.hex()
    cases = {
        "ftp://example.com/hook": (400, "WEBHOOK_URL_INVALID"),
        "http://user:pw@example.com/": (400, "WEBHOOK_URL_INVALID"),
        "file:///etc/passwd": (400, "WEBHOOK_URL_INVALID"),
        "http://127.0.0.1:8080/hook": (403, "WEBHOOK_HOST_REFUSED"),  # loopback: not configured
        "http://169.254.169.254/latest": (403, "WEBHOOK_HOST_REFUSED"),  # link-local metadata
        "http://10.0.0.7/hook": (403, "WEBHOOK_HOST_REFUSED"),
    }
    for url, (status, code) in cases.items():
        answer = _register(harness, url=url, deal_id=deal)
        assert (answer.status_code, answer.json()["code"]) == (status, code), url
    # Loopback from here on (as a pool operator may allow): no test sends anything off this machine,
    # and the scheduler's own dispatcher, started before, keeps refusing loopback.
    harness.client.app.state.webhook_policy = WebhookPolicy(allow_loopback=True)  # type: ignore[attr-defined]
    both = _register(harness, url=HOOK, deal_id=deal, requester=REQUESTER.address)
    assert both.json()["code"] == "WEBHOOK_FILTER_INVALID"
    stranger = _register(harness, key=b"\x62" * 32, url=HOOK, deal_id=deal)
    assert (stranger.status_code, stranger.json()["code"]) == (403, "WEBHOOK_NOT_YOURS")
    unknown = _register(harness, url=HOOK, deal_id="0x" + "00" * 32)
    assert unknown.json()["code"] == "WEBHOOK_DEAL_UNKNOWN"
    assert _register(harness, url=HOOK).json()["code"] == "WEBHOOK_FILTER_INVALID"
    with pytest.raises(ServiceError) as caught:
        check_url("http://hooks.example/", WebhookPolicy(allowed_hosts=("receiver.example",)))
    assert caught.value.code == "WEBHOOK_HOST_REFUSED"
    for _ in range(16):
        assert _register(harness, url=HOOK, requester=REQUESTER.address).status_code == 200
    limit = _register(harness, url=HOOK, requester=REQUESTER.address)
    assert (limit.status_code, limit.json()["code"]) == (429, "WEBHOOK_LIMIT")


def test_a_webhook_arrives_once_per_event_even_when_the_receiver_fails_twice(harness: Harness) -> None:
    app = harness.client.app
    app.state.webhook_policy = WebhookPolicy(allow_loopback=True)  # type: ignore[attr-defined]
    _deal(harness)
    answer = _register(harness, url=HOOK, deal_id="0x" + DEAL.hex())
    assert answer.status_code == 200
    secret = bytes.fromhex(answer.json()["secret"])
    worker = harness.worker()
    worker.register(slots=1, tee="simulated", holding=[])
    assignment = worker.next(wait=0)
    assert assignment is not None
    worker.report(assignment.task_id, "running")
    harness.events.queue.append(task_event("TaskCompleted", assignment.task_id, tx=4))
    harness.follow()

    calls: list[int] = []
    received: list[int] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        event_id = int(request.headers["sealrun-event-id"])
        calls.append(event_id)
        if len(calls) == 1:
            return httpx.Response(503)
        if len(calls) == 2:
            raise httpx.ConnectError("the receiver is down")
        timestamp = request.headers["sealrun-timestamp"]
        expected = hmac.new(secret, f"{timestamp}.{event_id}.".encode() + request.content, hashlib.sha256)
        assert request.headers["sealrun-signature"] == "v1=" + expected.hexdigest()
        if event_id not in received:
            received.append(event_id)
        return httpx.Response(204)

    clock = [harness.clock[0]]

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
            dispatcher = WebhookDispatcher(
                app.state.sessions, app.state.event_log, http, WebhookPolicy(allow_loopback=True),  # type: ignore[attr-defined]
                lambda: clock[0],
            )  # fmt: skip
            for _ in range(MAX_ATTEMPTS):
                await dispatcher.tick()
                clock[0] += 600  # past any backoff

    asyncio.run(run())
    statuses = [e.status for e in app.state.event_log.after(assignment.task_id, 0)]  # type: ignore[attr-defined]
    assert statuses == ["pending", "assigned", "running", "completed"]
    assert len(received) == 4  # every event, once
    assert received == sorted(received)
    assert calls[:3] == [received[0]] * 3  # failed twice, then delivered
    assert len(calls) == 6  # no event sent again after it was acknowledged
