"""Alembic scripts of the scheduler (run by ``sealrun.adapters.db.upgrade_database``)."""
