"""The two SQL databases every SQL-backed part is tested on: a SQLite file and PostgreSQL.

``sql_url`` (in ``tests/conftest.py``) is parametrised over both; the PostgreSQL case runs
on the server at 127.0.0.1:5432 (trust auth, database ``test``), in a fresh schema per test
that is dropped afterwards. The schema is put on the search path through the URL itself
(``options=-csearch_path=...``), so code that takes only a URL runs in it unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sealrun.adapters.db import create_database_engine, drop_schema

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@contextmanager
def database_url(kind: str, folder: Path, *, prefix: str = "t") -> Iterator[str]:
    """A URL to an empty database of ``kind`` (``sqlite`` or ``postgres``), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'database.sqlite'}"
        return
    schema = f"{prefix}_{secrets.token_hex(6)}"
    create_database_engine(PG_URL, schema=schema).dispose()  # creates the schema
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        engine = create_database_engine(PG_URL)
        try:
            drop_schema(engine, schema)
        finally:
            engine.dispose()
