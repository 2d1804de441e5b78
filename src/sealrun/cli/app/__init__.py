"""``sealrun app``: apps, from the developer's bench to a task bought on the market.

One noun in three modules, each registering its commands on :data:`app_app`
(:mod:`~sealrun.cli.app.group`): ``deploy``, ``show``, ``push-secret``, ``check-secret``
(:mod:`~sealrun.cli.app.registry`); ``init``, ``fingerprint``, ``test`` (the developer's side,
:mod:`~sealrun.cli.app.bench`); ``run`` (the requester's one-liner, :mod:`~sealrun.cli.app.run`).
"""

from sealrun.cli.app import bench, registry, run
from sealrun.cli.app.group import app_app

__all__ = ["app_app", "bench", "registry", "run"]
