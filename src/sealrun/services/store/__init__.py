"""The blob store: content-addressed datasets and sealed results over HTTP.

Start it with ``python -m sealrun.services.store`` (settings: ``SEALRUN_STORE_*``, see
:class:`StoreSettings`); ``docs/pool.md`` describes the API.
"""

from sealrun.services.store.app import create_app
from sealrun.services.store.settings import StoreSettings

__all__ = ["StoreSettings", "create_app"]
