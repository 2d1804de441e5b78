"""Engines and session factories for SQLite and PostgreSQL.

Error codes (:class:`~sealrun.errors.StorageError`): ``DB_URL_INVALID`` for a URL that is
neither SQLite nor PostgreSQL, ``DB_UNAVAILABLE`` when the server cannot be reached.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from sealrun.adapters.db.locks import serialize
from sealrun.errors import DatabaseError

__all__ = ["create_database_engine", "drop_schema", "session_factory"]

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _check_schema(schema: str) -> str:
    # The schema name is interpolated into DDL, so only plain identifiers are accepted.
    if not _SCHEMA.match(schema):
        raise DatabaseError(f"invalid schema name {schema!r}", code="DB_URL_INVALID")
    return schema


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout waits out a concurrent writer
    # instead of failing; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_database_engine(url: str, *, schema: str | None = None) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL.

    Args:
        url: ``sqlite:///path.db``, ``sqlite://`` (in memory) or ``postgresql+psycopg://...``.
        schema: PostgreSQL only: a schema to create if missing and put first on the search path.

    Returns:
        The engine (connections are opened lazily; the schema is created eagerly).

    Raises:
        StorageError: ``DB_URL_INVALID`` or ``DB_UNAVAILABLE``.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseError("database URL is not valid", code="DB_URL_INVALID") from error
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise DatabaseError("SQLite has no schemas; use a separate file", code="DB_URL_INVALID")
        memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend != "postgresql":
        raise DatabaseError(f"unsupported database backend {backend!r}", code="DB_URL_INVALID")
    connect_args: dict[str, str] = {}
    if schema is not None:
        connect_args["options"] = f"-csearch_path={_check_schema(schema)}"
    engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    if schema is not None:
        try:
            with engine.begin() as connection:
                # IF NOT EXISTS still races with a concurrent CREATE (a unique violation on
                # the catalog): replicas starting at once take turns.
                serialize(connection, f"schema:{schema}")
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        except OperationalError as error:
            raise DatabaseError("the database server cannot be reached", code="DB_UNAVAILABLE") from error
    return engine


def drop_schema(engine: Engine, schema: str) -> None:
    """Drop a PostgreSQL schema and everything in it (test clean-up, decommissioning)."""
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{_check_schema(schema)}" CASCADE'))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory the repositories use (no expiry on commit)."""
    return sessionmaker(engine, expire_on_commit=False)
