"""Two of each stateless service on one PostgreSQL, and kill -9 of the active ones mid-deal.

A whole pool on loopback (embedded chain, simulated TEE): two SMS processes and two market
processes serving at once on one PostgreSQL database each, two schedulers of the pool
(active/standby on the pool's advisory lock), one worker whose scheduler and SMS settings
list both replicas. Once the deal's first task is handed out, the active scheduler and the
first SMS are killed with ``kill -9``:

- the standby scheduler takes over within 10 s (its ``sealrun_scheduler_role`` gauge);
- the worker and the scheduler fail over to the second SMS and the standby scheduler;
- every task ends COMPLETED on chain, settled once;
- the markets, both following the chain, counted the fill once (the pool order's
  ``remaining``); every app order published to both markets at the same instant beforehand
  is stored once and listed by both; the SMS audit chain is linear and verifies.

The fast guards of the same things in the default tier: ``tests/adapters/test_failover.py``
(client failover), ``tests/sms/test_replicas_db.py`` (SMS rows under two writers),
``tests/market/test_replicas_db.py`` (the book under two followers) and
``tests/scheduler/test_standby.py`` (the election and the standby's answers).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.db import create_database_engine, session_factory
from sealrun.adapters.http.market import MarketClient, order_wire
from sealrun.adapters.http.sms import SmsClient
from sealrun.core.orders.models import AppOrder
from sealrun.core.orders.signing import sign_order
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.repository import SmsRepository
from tests.databases import database_url
from tests.pool.deals import domain, fill_deal
from tests.pool.world import TEE, PoolWorld, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.extended, pytest.mark.postgres]

VOLUME = 3
PUBLISHED = 6  # app orders each published to both markets at the same instant
TAKEOVER = 10.0  # seconds the standby scheduler may take to become active


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[PoolWorld, dict[str, str]]]:
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(database_url("postgres", tmp_path, prefix=name))
            for name in ("sms", "market", "scheduler")
        }
        world = build_world(workers=1)
        stack.callback(world.close)
        world.start_store()
        sms_db = {"SEALRUN_SMS_DATABASE_URL": urls["sms"]}
        world.start_sms(extra=sms_db)  # first: it writes the devnet master key both share
        world.wait = False
        world.start_sms(extra=sms_db, name="sms-b")
        for name in ("market", "market-b"):
            world.start_market(extra={"SEALRUN_MARKET_DATABASE_URL": urls["market"]}, name=name)
        world.wait = True
        for service in world.services.values():
            service.wait_healthy()
        both = {kind: f"{world.url_of(kind)},{world.url_of(kind + '-b')}" for kind in ("sms", "market")}
        scheduler = {
            "SEALRUN_SCHEDULER_DATABASE_URL": urls["scheduler"],
            "SEALRUN_SCHEDULER_SMS_URL": both["sms"],
            "SEALRUN_SCHEDULER_MARKET_URL": both["market"],
        }
        world.start_scheduler(extra=scheduler)  # first: it wins the election
        world.start_scheduler(extra=scheduler, name="scheduler-b")
        schedulers = f"{world.url_of('scheduler')},{world.url_of('scheduler-b')}"
        world.start_worker(
            0, extra={"SEALRUN_WORKER_SCHEDULER_URL": schedulers, "SEALRUN_WORKER_SMS_URL": both["sms"]}
        )
        yield world, urls


def _publish_to_both_at_once(pool: PoolWorld) -> None:
    """Every app order sent to both markets at the same instant is stored once, and both see it."""
    chain = {"chain_id": pool.deployment.chain_id, "hub": pool.deployment.hub}
    tag = bytes.fromhex(TEE[2:])
    orders = [
        order_wire(sign_order(
            AppOrder(app=pool.app, appprice=100 + n, volume=5, tag=tag, salt=secrets.token_bytes(32)),
            bytes(pool.developer.key), domain(pool),
        ))
        for n in range(PUBLISHED)
    ]  # fmt: skip
    hashes: list[str] = []
    gate = threading.Barrier(2 * PUBLISHED)

    def publish(name: str, order: dict[str, str | int]) -> None:
        with MarketClient(pool.url_of(name)) as market:
            gate.wait(timeout=30)
            hashes.append(market.publish("app", order, **chain).order_hash)

    threads = [
        threading.Thread(target=publish, args=(name, order), daemon=True)
        for order in orders
        for name in ("market", "market-b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(hashes) == 2 * PUBLISHED  # both replicas accepted every publication
    assert len(set(hashes)) == PUBLISHED
    for name in ("market", "market-b"):
        with MarketClient(pool.url_of(name)) as market:
            listed = [
                o.order_hash
                for o in market.orderbook("app", app=pool.app, limit=100)
                if o.order_hash in hashes
            ]
        assert sorted(listed) == sorted(set(hashes))  # each stored once, seen by both


def _role(url: str) -> str | None:
    try:
        text = httpx.get(url + "/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    found = re.search(r'sealrun_scheduler_role\{role="(\w+)"\} 1\.0', text)
    return found.group(1) if found else None


def test_the_pool_survives_kill_9_of_the_active_scheduler_and_one_sms(
    world: tuple[PoolWorld, dict[str, str]],
) -> None:
    pool, urls = world
    assert _role(pool.url_of("scheduler")) == "active"
    assert _role(pool.url_of("scheduler-b")) == "standby"
    domain = RequestDomain(chain_id=pool.deployment.chain_id, hub=pool.deployment.hub)
    sms = SmsClient(f"{pool.url_of('sms')},{pool.url_of('sms-b')}", domain=domain)
    sms.set_result_recipient(bytes(pool.requester.key), str(Identity.generate().recipient))

    _publish_to_both_at_once(pool)
    deal = fill_deal(pool, volume=VOLUME)
    # Wait until the SMS has released a task's secrets (an audit record), then kill.
    deadline = time.monotonic() + 180
    while sms.audit_head() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sms.audit_head() is not None, "no release before the kill: the test would prove nothing"
    pool.services["scheduler"].kill()
    pool.services["sms"].kill()
    killed = time.monotonic()
    while _role(pool.url_of("scheduler-b")) != "active" and time.monotonic() - killed < 30:
        time.sleep(0.2)
    took = time.monotonic() - killed
    assert _role(pool.url_of("scheduler-b")) == "active"
    assert took <= TAKEOVER, f"the standby took {took:.1f} s to take over"

    statuses = pool.wait_tasks(deal.deal_id, VOLUME, timeout=300)
    assert statuses == [HubTaskStatus.COMPLETED] * VOLUME

    # The fill counted once, although both markets follow the chain.
    deadline = time.monotonic() + 30
    remaining: set[int] = set()
    while time.monotonic() < deadline:
        remaining = set()
        for name in ("market-b",):
            with MarketClient(pool.url_of(name)) as market:
                remaining |= {o.remaining for o in market.orderbook("workerpool", workerpool=pool.workerpool)}
        if remaining == {1000 - VOLUME}:
            break
        time.sleep(0.5)
    assert remaining == {1000 - VOLUME}

    # The audit chain the two SMS processes wrote is one line, and it verifies.
    engine = create_database_engine(urls["sms"])
    try:
        records = SmsRepository(session_factory(engine)).audit_records(limit=100_000)
    finally:
        engine.dispose()
    assert [record.seq for record in records] == list(range(1, len(records) + 1))
    assert verify_audit_chain(records) == sms.audit_head().entry_hash  # type: ignore[union-attr]
    released = [record for record in records if record.code == "RELEASED"]
    assert len({record.task_id for record in released}) == VOLUME
    sms.close()
