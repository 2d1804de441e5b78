"""Alembic environment of the scheduler: migrates the connection handed in by the runner."""

from sealrun.adapters.db import run_migration_environment
from sealrun.services.scheduler.models import Base

run_migration_environment(Base.metadata)
