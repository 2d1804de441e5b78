"""PostgreSQL advisory locks: one writer at a time where a row lock has no row to hold.

Two uses, both no-ops on SQLite (whose one writer at a time is the file's own lock, and
whose deployments run one process per database):

- :func:`serialize` takes a transaction-scoped lock (``pg_advisory_xact_lock``), released at
  commit or rollback: replicas appending to a hash chain, or migrating one schema at start,
  queue behind each other instead of racing on a primary key.
- :class:`AdvisoryLease` holds a session-scoped lock (``pg_try_advisory_lock``) on a
  dedicated connection for as long as the process lives: the scheduler's active/standby
  election. PostgreSQL frees it when that connection ends, a ``kill -9`` included, so a
  standby that keeps trying acquires it as soon as the server notices the active is gone.

Lock keys are derived from names (:func:`advisory_key`), so each service picks its own
namespace (``"sms:audit"``, ``"scheduler:<pool>"``) and two names never share a key by accident
unless their 64-bit hashes collide.

Error codes: ``DB_UNAVAILABLE`` (:class:`~sealrun.errors.DatabaseError`) when the lease's
connection cannot be opened.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, MetaData, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sealrun.errors import DatabaseError

__all__ = ["AdvisoryLease", "advisory_key", "create_tables", "serialize"]


def advisory_key(name: str) -> int:
    """The signed 64-bit advisory lock key of ``name`` (the first 8 bytes of its sha256)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def serialize(executor: Session | Connection, name: str) -> None:
    """Wait for and take the transaction-scoped lock ``name`` (PostgreSQL; no-op on SQLite).

    Call it first in the transaction whose read-then-write must not interleave with another
    process's; the lock goes with the transaction.
    """
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    if bind.dialect.name == "postgresql":
        executor.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


def create_tables(engine: Engine, metadata: MetaData, tables: Sequence[Table] | None = None) -> None:
    """``metadata.create_all`` that replicas starting at once may all call.

    ``CREATE TABLE`` after a "does it exist?" check races between two processes (the loser
    fails with ``DuplicateTable``): on PostgreSQL they take turns under one advisory lock.
    """
    with engine.begin() as connection:
        serialize(connection, "create-tables")
        metadata.create_all(connection, tables=tables)


#: Session settings of a lease's connection (server side TCP keepalives; plain integers).
_KEEPALIVE = (
    ("tcp_keepalives_idle", 5),
    ("tcp_keepalives_interval", 2),
    ("tcp_keepalives_count", 3),
    ("tcp_user_timeout", 15000),
)


class AdvisoryLease:
    """A session-scoped advisory lock held on a connection of its own.

    Args:
        engine: a PostgreSQL engine (the lease opens one connection outside its pool).
        name: what the lock guards (see :func:`advisory_key`).

    :meth:`try_acquire` is cheap to call again and again (a standby's loop); :meth:`check`
    tells the holder whether it still holds the lock (its connection alive); :meth:`release`
    gives it up and closes the connection.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        if engine.dialect.name != "postgresql":
            raise DatabaseError("advisory leases need PostgreSQL", code="DB_URL_INVALID")
        self._engine = engine
        self._key = advisory_key(name)
        self._connection: Connection | None = None
        self._held = False
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether the lock was held at the last :meth:`try_acquire` or :meth:`check`."""
        return self._held

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this lease holds it now.

        A database outage counts as not holding it (the connection is dropped and reopened
        at the next call), never as an exception.
        """
        with self._lock:
            if self._held:
                return self._alive()
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                    # The server frees the lock when it sees this connection die. A killed
                    # process closes its socket at once; a crashed or cut-off host says
                    # nothing, so the server probes it: dead after about 5 + 3 x 2 s (or
                    # 15 s of unacknowledged data) instead of the system's two hours.
                    for setting, value in _KEEPALIVE:
                        self._connection.execute(text(f"SET {setting} = {value}"))
                # Autocommit: the session-level lock must not sit inside a transaction
                # that a later error would abort.
                got = self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                ).scalar()
                self._connection.commit()
            except DBAPIError:
                self._drop()
                return False
            self._held = bool(got)
            return self._held

    def check(self) -> bool:
        """Whether the lock is still held: its connection still answers."""
        with self._lock:
            return self._alive() if self._held else False

    def release(self) -> None:
        """Give the lock up (closing the connection also frees it server-side)."""
        with self._lock:
            if self._connection is not None and self._held:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                    self._connection.commit()
                except DBAPIError:
                    pass  # the connection is gone: the server freed the lock with it
            self._drop()

    def _alive(self) -> bool:
        assert self._connection is not None
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except DBAPIError:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                pass
        self._connection = None
        self._held = False
