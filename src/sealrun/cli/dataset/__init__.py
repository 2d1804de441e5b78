"""``sealrun dataset``: one noun, split by concept.

- :mod:`.assets`: ``deploy``, ``show``, ``encrypt``, ``push-secret``, ``check-secret``;
- :mod:`.grants`: ``grant``, ``grants``, ``revoke`` (dataset grants, decision 0070);
- :mod:`.policy`: ``policy show``, ``policy set`` (the owner's release policy, decision 0090).
"""

from sealrun.cli.dataset import grants as _grants  # noqa: F401 (registers its commands)
from sealrun.cli.dataset import policy as _policy  # noqa: F401 (registers its commands)
from sealrun.cli.dataset.assets import dataset_app

__all__ = ["dataset_app"]
