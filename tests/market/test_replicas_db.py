"""Two market "processes" on one PostgreSQL schema, at the repository level: each its own
engine, as two processes would, both following the chain and taking publications at once.
A fill is counted once, a publication stored once, a fill and an unpublish never overwrite
each other. The whole-process version is ``tests/pool/test_failover.py``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from sealrun.adapters.db import create_database_engine, session_factory, upgrade_database
from sealrun.services.market.book import CONSUMED, OPEN, UNPUBLISHED, OrderBook
from sealrun.services.market.models import BookOrder, SeenEvent
from tests.databases import database_url

pytestmark = pytest.mark.postgres

ZERO = "0x" + "00" * 20


def _order(digest: bytes, volume: int = 10) -> BookOrder:
    return BookOrder(
        order_hash="0x" + digest.hex(), kind="workerpool", signer="0x" + "11" * 20, app=ZERO, dataset=ZERO,
        workerpool="0x" + "22" * 20, requester=ZERO, category=0, tag="0x" + "00" * 32, price="1",
        price_key=f"{1:078d}", volume=volume, remaining=volume, status=OPEN, order_json="{}",
        published_at=1, expires_at=None,
    )  # fmt: skip


def _together(jobs: list[Callable[[], object]]) -> list[object]:
    gate, results, errors = threading.Barrier(len(jobs)), [None] * len(jobs), []

    def run(index: int) -> None:
        gate.wait(timeout=30)
        try:
            results[index] = jobs[index]()
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def books(tmp_path: Path) -> Iterator[tuple[list[OrderBook], Engine]]:
    with database_url("postgres", tmp_path, prefix="market") as url:
        engines = [create_database_engine(url) for _ in range(2)]
        _together(
            [
                lambda e=engine: upgrade_database(
                    e,
                    script_location="sealrun.services.market:migrations",
                    version_table="market_alembic_version",
                )
                for engine in engines
            ]
        )
        try:
            yield [OrderBook(session_factory(engine)) for engine in engines], engines[0]
        finally:
            for engine in engines:
                engine.dispose()


def test_both_followers_of_one_event_count_the_fill_once(books: tuple[list[OrderBook], Engine]) -> None:
    (first, second), engine = books
    digests = [bytes([n]) * 32 for n in range(1, 4)]
    for digest in digests:
        first.add(_order(digest))
    for event in range(8):
        tx = bytes([event + 10]) * 32
        applied = _together(
            [
                lambda b=book, tx=tx: b.apply_match(
                    tx, 0, 5, list(reversed(digests)) if b is second else digests, 1
                )
                for book in (first, second, first, second)
            ]
        )
        assert applied.count(True) == 1
    for digest in digests:
        stored = second.get("0x" + digest.hex())
        assert stored is not None
        assert stored.remaining == 2
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SeenEvent)).scalar() == 8


def test_a_publication_raced_by_two_replicas_is_stored_once(books: tuple[list[OrderBook], Engine]) -> None:
    (first, second), engine = books
    digest = b"\x07" * 32
    stored = _together([lambda b=book: b.add(_order(digest)).order_hash for book in (first, second) * 3])
    assert set(stored) == {"0x" + digest.hex()}
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(BookOrder)).scalar() == 1


def test_a_fill_and_an_unpublish_at_once_keep_both_effects(books: tuple[list[OrderBook], Engine]) -> None:
    (first, second), _ = books
    for round_ in range(6):
        digest = bytes([round_ + 100]) * 32
        first.add(_order(digest, volume=3))
        _together(
            [
                lambda r=round_, d=digest: first.apply_match(bytes([r + 50]) * 32, 0, 5, [d], 3),
                lambda d=digest: second.unpublish("0x" + d.hex()),
            ]
        )
        stored = first.get("0x" + digest.hex())
        assert stored is not None
        assert stored.remaining == 0  # the fill is never lost
        assert stored.status in (CONSUMED, UNPUBLISHED)  # whichever came first decided the status
