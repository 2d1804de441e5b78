"""sealrun.adapters.db: URLs, schemas, unreachable servers."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sealrun.adapters.db import create_database_engine, drop_schema
from sealrun.errors import StorageError
from tests.sms.conftest import PG_URL


@pytest.mark.parametrize(
    ("url", "schema"),
    [
        ("not a url", None),
        ("mysql://x/y", None),
        ("sqlite://", "s"),
        (PG_URL, "bad-name; drop"),
        (PG_URL, "A"),
    ],
)
def test_bad_urls_and_schemas_are_refused(url: str, schema: str | None) -> None:
    with pytest.raises(StorageError) as caught:
        create_database_engine(url, schema=schema)
    assert caught.value.code == "DB_URL_INVALID"


def test_unreachable_postgres_is_db_unavailable() -> None:
    with pytest.raises(StorageError) as caught:
        create_database_engine("postgresql+psycopg://postgres@127.0.0.1:1/test", schema="sms_x")
    assert caught.value.code == "DB_UNAVAILABLE"


def test_sqlite_pragmas() -> None:
    engine = create_database_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


@pytest.mark.postgres
def test_a_schema_is_created_used_and_dropped(pg_schema: str) -> None:
    engine = create_database_engine(PG_URL, schema=pg_schema)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE probe (x int)"))
        assert connection.execute(text("SELECT current_schema()")).scalar() == pg_schema
    drop_schema(engine, pg_schema)
    engine.dispose()
