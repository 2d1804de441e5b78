"""Alembic scripts of the market (run by ``sealrun.adapters.db.upgrade_database``)."""
