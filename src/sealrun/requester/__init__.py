"""The SDK of the marketplace's three roles, which the ``sealrun`` command line is built on.

- :class:`Requester`: ``run(app, dataset=..., args=..., inputs=..., secrets=...)`` buys one
  confidential task and returns a :class:`TaskHandle` (``wait``, ``events``, ``download``,
  ``decrypt``, ``logs``);
- :class:`DataOwner`: ``protect(path, app=...)`` seals, uploads, registers a dataset, gives its
  key to the SMS and publishes an order (a :class:`ProtectedDataset`);
- :class:`AppDeveloper`: ``deploy(bundle)`` registers a bundle and publishes an app order.

Each stands on a :class:`Connection` (a wallet on one marketplace and its services' URLs).
Every call the CLI makes to the service clients, and the requester's chain and sealing work,
goes through this package (docs/sdk.md). Names resolve lazily (PEP 562): importing the package
does no work, so ``sealrun --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sealrun.requester.apps import AppDeveloper, DeployedApp
    from sealrun.requester.connection import Connection
    from sealrun.requester.datasets import DataOwner, ProtectedDataset
    from sealrun.requester.handle import TaskHandle
    from sealrun.requester.requester import Requester
    from sealrun.requester.tasks import FollowedTask

_ORIGIN = {
    "AppDeveloper": "sealrun.requester.apps",
    "Connection": "sealrun.requester.connection",
    "DataOwner": "sealrun.requester.datasets",
    "DeployedApp": "sealrun.requester.apps",
    "FollowedTask": "sealrun.requester.tasks",
    "ProtectedDataset": "sealrun.requester.datasets",
    "Requester": "sealrun.requester.requester",
    "TaskHandle": "sealrun.requester.handle",
}

__all__ = [
    "AppDeveloper",
    "Connection",
    "DataOwner",
    "DeployedApp",
    "FollowedTask",
    "ProtectedDataset",
    "Requester",
    "TaskHandle",
]


def __getattr__(name: str) -> Any:
    module = _ORIGIN.get(name)
    if module is None:
        raise AttributeError(f"module 'sealrun.requester' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
