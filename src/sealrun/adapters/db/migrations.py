"""Run a service's Alembic migrations programmatically (at startup or from a command).

Each service ships its scripts as a package resource (``sealrun.services.sms:migrations``)
whose ``env.py`` calls :func:`run_migration_environment`; no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData
from sqlalchemy.exc import OperationalError

from sealrun.adapters.db.locks import serialize
from sealrun.errors import DatabaseError

__all__ = ["run_migration_environment", "upgrade_database"]


def upgrade_database(engine: Engine, *, script_location: str, version_table: str) -> None:
    """Bring the database up to the newest revision of a service's scripts.

    Args:
        engine: the service's engine.
        script_location: the Alembic scripts, e.g. ``"sealrun.services.sms:migrations"``.
        version_table: the service's own version table (services may share a database).

    Replicas of a service starting at once on one PostgreSQL database migrate one after the
    other (an advisory lock named after the version table): the second finds the schema at
    head and does nothing.

    Raises:
        StorageError: ``DB_UNAVAILABLE`` if the database cannot be reached.
    """
    config = Config()
    config.set_main_option("script_location", script_location)
    try:
        with engine.begin() as connection:
            serialize(connection, f"migrate:{version_table}")
            config.attributes["connection"] = connection
            config.attributes["version_table"] = version_table
            command.upgrade(config, "head")
    except OperationalError as error:
        raise DatabaseError("the database cannot be migrated: unreachable", code="DB_UNAVAILABLE") from error


def run_migration_environment(target_metadata: MetaData) -> None:
    """The body of every service's ``env.py``: migrate on the connection handed in."""
    from alembic import context

    attributes = context.config.attributes
    context.configure(
        connection=attributes["connection"],
        target_metadata=target_metadata,
        version_table=attributes["version_table"],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
