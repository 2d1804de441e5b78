"""A worker: takes assignments from its pool's scheduler, runs enclaves, settles on chain.

Start it with ``python -m sealrun.services.worker`` (settings: ``SEALRUN_WORKER_*``, see
:class:`WorkerSettings`); ``docs/pool.md`` describes its recovery rules.
"""

from sealrun.services.worker.app import create_app
from sealrun.services.worker.settings import WorkerSettings

__all__ = ["WorkerSettings", "create_app"]
