"""``sealrun order``: order templates, EIP-712 signing, publish, show, cancel and fill.

One noun in three modules, each registering its commands on :data:`order_app`
(:mod:`~sealrun.cli.order.group`): ``init``, ``sign`` (:mod:`~sealrun.cli.order.templates`);
``publish``, ``unpublish``, ``show``, ``cancel`` (:mod:`~sealrun.cli.order.market`); ``fill``
(:mod:`~sealrun.cli.order.fill`). The files and checks are the SDK's
(:mod:`sealrun.requester.orderfiles`, :mod:`sealrun.requester.params`).
"""

from sealrun.cli.order import fill, market, templates
from sealrun.cli.order.group import order_app

__all__ = ["fill", "market", "order_app", "templates"]
