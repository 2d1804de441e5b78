"""The shared replay ledger: one use per (signer, nonce), old pairs forgotten."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sealrun.adapters.db import SqlNonceLedger, create_database_engine, session_factory
from sealrun.errors import RequestError


class _Base(DeclarativeBase):
    pass


class _Nonce(_Base):
    __tablename__ = "test_request_nonces"
    signer: Mapped[str] = mapped_column(String(42), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(66), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)


def test_a_nonce_is_accepted_once_per_signer_and_old_ones_are_forgotten(sql_url: str) -> None:
    engine = create_database_engine(sql_url)
    _Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    ledger = SqlNonceLedger(sessions, _Nonce)
    alice, bob = "0x" + "a" * 40, "0x" + "b" * 40
    ledger.consume(alice, b"\1" * 32, expires_at=1_000)
    ledger.consume(bob, b"\1" * 32, expires_at=1_000)  # another signer may use the same nonce
    with pytest.raises(RequestError) as replayed:
        ledger.consume(alice, b"\1" * 32, expires_at=1_000)
    assert replayed.value.code == "REQUEST_REPLAYED"
    ledger.consume(alice, b"\2" * 32, expires_at=10_000)  # an hour past 1_000: the first pairs go
    with sessions() as session:
        kept = session.scalars(select(_Nonce.nonce)).all()
    assert kept == ["0x" + "02" * 32]
    engine.dispose()


def test_concurrent_uses_of_one_nonce_accept_exactly_one(sql_url: str) -> None:
    """Eight replicas presenting the same request at once: the primary key lets one through."""
    engine = create_database_engine(sql_url)
    _Base.metadata.create_all(engine)
    ledger = SqlNonceLedger(session_factory(engine), _Nonce)
    barrier = threading.Barrier(8)

    def use(_: int) -> str:
        barrier.wait()
        try:
            ledger.consume("0x" + "c" * 40, b"\3" * 32, expires_at=5_000)
        except RequestError as error:
            return error.code
        return "accepted"

    with ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(use, range(8)))
    assert answers == ["REQUEST_REPLAYED"] * 7 + ["accepted"]
    engine.dispose()
