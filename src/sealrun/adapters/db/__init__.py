"""Relational storage shared by the services: engines, sessions and Alembic migrations.

SQLite is the default (one file, no server); PostgreSQL is the production database. Each
service keeps its own Alembic scripts inside its package and its own version table, so
several services can share one database (or one PostgreSQL schema each).
"""

from sealrun.adapters.db.engine import create_database_engine, drop_schema, session_factory
from sealrun.adapters.db.locks import AdvisoryLease, advisory_key, create_tables, serialize
from sealrun.adapters.db.migrations import run_migration_environment, upgrade_database
from sealrun.adapters.db.nonces import SqlNonceLedger

__all__ = [
    "AdvisoryLease",
    "SqlNonceLedger",
    "advisory_key",
    "create_database_engine",
    "create_tables",
    "drop_schema",
    "run_migration_environment",
    "serialize",
    "session_factory",
    "upgrade_database",
]
