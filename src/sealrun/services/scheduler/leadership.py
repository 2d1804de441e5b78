"""Active/standby schedulers of one pool on PostgreSQL: who schedules, decided by an advisory lock.

Several scheduler processes of one workerpool may run on one PostgreSQL database. Each
tries to hold the pool's advisory lock (:class:`~sealrun.adapters.db.locks.AdvisoryLease`,
named ``scheduler:<schema>:<workerpool>``) on a connection of its own; the holder is *active*: it
follows the chain, sweeps lost workers, publishes the pool's offer, delivers webhooks and
answers the workers. The others are *standby*: alive (``/healthz``), not ready (``/readyz``
check ``leader`` fails with ``SERVICE_STANDBY``), and their worker routes answer ``503``
``SERVICE_STANDBY``, which tells a client the request was not processed, so it fails over
to the next scheduler URL. A standby tries the lock every :data:`ELECTION_INTERVAL` seconds;
when the active dies (``kill -9`` included) PostgreSQL frees its lock with its connection and
a standby takes over within about a second.

The active checks its lock's connection at the same pace: if it broke (the database
restarted), it steps down to standby at once and competes again. A step already running when
it steps down finishes (each is one transaction on the shared board; the board's guarded
updates keep a second scheduler from double-assigning a task).

On SQLite there is one scheduler per database file: the role is ``single``, always active.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, text

from sealrun.adapters.db.locks import AdvisoryLease
from sealrun.errors import ServiceError

__all__ = ["ACTIVE", "ELECTION_INTERVAL", "SINGLE", "STANDBY", "Leadership"]

log = logging.getLogger(__name__)

ACTIVE, STANDBY, SINGLE = "active", "standby", "single"
#: Seconds between two tries of the lock (standby) or checks that it is still held (active).
ELECTION_INTERVAL = 1.0


def _schema(engine: Engine) -> str:
    """The schema the scheduler's tables live in: advisory locks are per database, and two
    deployments in two schemas of one database (or two test runs) must not elect each other."""
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT current_schema()")).scalar())


class Leadership:
    """This process's role among the pool's schedulers.

    Args:
        engine: the scheduler's engine (PostgreSQL: elections; SQLite: ``single``).
        workerpool: the pool's address (the lock's name).
        on_active: called each time this process becomes active (e.g. to give workers a
            grace period to find it).
    """

    def __init__(
        self, engine: Engine, workerpool: str, *, on_active: Callable[[], None] = lambda: None
    ) -> None:
        self._lease = (
            AdvisoryLease(engine, f"scheduler:{_schema(engine)}:{workerpool.lower()}")
            if engine.dialect.name == "postgresql"
            else None
        )
        self._on_active = on_active
        self._role = SINGLE if self._lease is None else STANDBY

    @property
    def role(self) -> str:
        """``active``, ``standby`` or ``single``."""
        return self._role

    @property
    def active(self) -> bool:
        """Whether this process schedules now."""
        return self._role != STANDBY

    def elect(self) -> str:
        """Try the lock (standby) or check it (active); return the role after this round."""
        if self._lease is None:
            return self._role
        if self._role == ACTIVE:
            if not self._lease.check():
                self._role = STANDBY
                log.error("scheduler lost its leadership lock (database connection broken): standby")
        elif self._lease.try_acquire():
            self._on_active()
            self._role = ACTIVE
            log.warning("scheduler holds the pool's leadership lock: active")
        return self._role

    def require_active(self) -> None:
        """Raise ``SERVICE_STANDBY`` unless this process schedules (a readiness check, a route guard).

        Raises:
            ServiceError: ``SERVICE_STANDBY``.
        """
        if not self.active:
            raise ServiceError(
                "this scheduler is the standby; another one of the pool is active",
                code="SERVICE_STANDBY",
            )

    def release(self) -> None:
        """Give the lock up (shutdown): a standby takes over at its next round."""
        if self._lease is not None:
            self._lease.release()
            self._role = STANDBY
