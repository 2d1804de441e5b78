"""A workerpool's scheduler: follows deals on chain, assigns tasks to workers, reassigns lost work.

Start it with ``python -m sealrun.services.scheduler`` (settings: ``SEALRUN_SCHEDULER_*``,
see :class:`SchedulerSettings`); ``docs/pool.md`` describes the protocol.
"""

from sealrun.services.scheduler.app import create_app
from sealrun.services.scheduler.settings import SchedulerSettings

__all__ = ["SchedulerSettings", "create_app"]
