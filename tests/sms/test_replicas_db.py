"""Two SMS "processes" on one PostgreSQL schema, at the repository level: each has its own
engine (its own connections, as two processes would), and threads of both hammer the same
rows at once. Nothing single-writer may survive: no fork of the audit chain, no release past
the cap, no nonce used twice, no migration race at start. The whole-process version (two real
SMS servers, a client failing over between them) is ``tests/sms/test_replicas.py``."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from sealrun.adapters.db import create_database_engine, session_factory, upgrade_database
from sealrun.errors import SealrunError
from sealrun.services.sms.app import SMS_MIGRATIONS, SMS_VERSION_TABLE
from sealrun.services.sms.audit import AuditFacts, verify_audit_chain
from sealrun.services.sms.models import AppSecret
from sealrun.services.sms.repository import SmsRepository
from tests.sms.conftest import PG_URL

pytestmark = pytest.mark.postgres

THREADS = 4  # per replica
TASK = "0x" + "5a" * 32


def _together(jobs: list[Callable[[], None]]) -> None:
    """Run the jobs in threads released at the same instant; re-raise the first failure."""
    gate, errors = threading.Barrier(len(jobs)), []

    def run(job: Callable[[], None]) -> None:
        gate.wait(timeout=30)
        try:
            job()
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    if errors:
        raise errors[0]


@pytest.fixture
def engines(pg_schema: str) -> Iterator[list[Engine]]:
    pair = [create_database_engine(PG_URL, schema=pg_schema) for _ in range(2)]
    # Both replicas migrate the empty schema at the same moment, as two processes starting.
    _together(
        [
            lambda engine=engine: upgrade_database(
                engine, script_location=SMS_MIGRATIONS, version_table=SMS_VERSION_TABLE
            )
            for engine in pair
        ]
    )
    yield pair
    for engine in pair:
        engine.dispose()


def test_two_replicas_append_one_linear_audit_chain(engines: list[Engine]) -> None:
    replicas = [SmsRepository(session_factory(engine)) for engine in engines]
    each = 15

    def append(repository: SmsRepository, writer: int) -> None:
        for n in range(each):
            repository.append_audit(
                AuditFacts(event="refusal", code="ATTEST_X", detail=f"{writer}/{n}"), at=n
            )

    _together([lambda r=replicas[w % 2], w=w: append(r, w) for w in range(2 * THREADS)])
    records = replicas[0].audit_records(limit=10_000)
    assert [record.seq for record in records] == list(range(1, 2 * THREADS * each + 1))
    assert verify_audit_chain(records) == replicas[1].audit_head().entry_hash  # type: ignore[union-attr]
    assert Counter(record.detail for record in records) == Counter(
        f"{w}/{n}" for w in range(2 * THREADS) for n in range(each)
    )


def test_two_replicas_never_release_past_the_cap(engines: list[Engine]) -> None:
    replicas = [SmsRepository(session_factory(engine)) for engine in engines]
    granted: list[bool] = []

    def reserve(repository: SmsRepository) -> None:
        for _ in range(5):
            granted.append(repository.reserve_release(TASK, cap=7, now=1))

    _together([lambda r=replicas[w % 2]: reserve(r) for w in range(2 * THREADS)])
    assert granted.count(True) == 7
    assert replicas[1].releases(TASK) == 7


def test_two_replicas_accept_each_nonce_once(engines: list[Engine]) -> None:
    replicas = [SmsRepository(session_factory(engine)) for engine in engines]
    nonces = ["0x" + f"{n:064x}" for n in range(12)]
    for nonce in nonces:
        replicas[0].issue_nonce(nonce, TASK, expires_at=100)
    outcomes: list[str] = []

    def consume(repository: SmsRepository) -> None:
        for nonce in nonces:
            try:
                repository.consume_nonce(nonce, TASK, now=1)
                outcomes.append(f"ok {nonce}")
            except SealrunError as error:
                outcomes.append(error.code)
            try:
                repository.consume("0x" + "77" * 20, bytes.fromhex(nonce[2:]), expires_at=100)
                outcomes.append(f"request {nonce}")
            except SealrunError as error:
                outcomes.append(error.code)

    _together([lambda r=replicas[w % 2]: consume(r) for w in range(2 * THREADS)])
    counts = Counter(outcomes)
    for nonce in nonces:
        assert counts[f"ok {nonce}"] == 1
        assert counts[f"request {nonce}"] == 1
    assert counts["RELEASE_NONCE_USED"] == len(nonces) * (2 * THREADS - 1)
    assert counts["REQUEST_REPLAYED"] == len(nonces) * (2 * THREADS - 1)


def test_two_replicas_writing_one_new_secret_at_once_both_succeed(engines: list[Engine]) -> None:
    replicas = [SmsRepository(session_factory(engine)) for engine in engines]
    apps = ["0x" + f"{n:040x}" for n in range(1, 9)]

    def save(repository: SmsRepository, writer: int) -> None:
        for app in apps:
            repository.save(
                AppSecret(app=app, owner="0x" + "ee" * 20, sealed=bytes([writer]), updated_at=writer)
            )

    _together([lambda r=replicas[w % 2], w=w: save(r, w) for w in range(2 * THREADS)])
    for app in apps:
        stored = replicas[1].app_secret(app)
        assert stored is not None
        assert stored.sealed == bytes([stored.updated_at])  # one writer's whole row, never a mix
