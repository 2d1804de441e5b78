"""The requester's side: run an app (on a dataset) in a TEE and get the sealed result back.

:meth:`Requester.run` checks the SMS holds what the task needs (before any money moves),
registers the result key, buys one task from the cheapest matching orders and returns a
:class:`~.handle.TaskHandle` to follow it, download the result and open it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sealrun.requester.buying import fill, find_orders, sign_request_order
from sealrun.requester.connection import Connection
from sealrun.requester.datasets import granted_order
from sealrun.requester.handle import TaskHandle
from sealrun.requester.smssecrets import register_result_key, require_request_secrets

__all__ = ["Requester"]


@dataclass
class Requester:
    """A wallet that buys tasks.

    Args:
        connection: the requester's wallet on the marketplace (:class:`~.connection.Connection`).
    """

    connection: Connection

    def run(
        self,
        app: str,
        *,
        dataset: str | None = None,
        args: str = "",
        inputs: Sequence[str] = (),
        secrets: Mapping[int, str] | None = None,
        workerpool: str | None = None,
        category: int | None = None,
        grant: bytes | None = None,
        callback: str | None = None,
    ) -> TaskHandle:
        """Buy one confidential task of ``app``.

        Args:
            app: the app's address.
            dataset: a dataset to run it on (its owner must have offered it to this wallet).
            args: the app's arguments (``iexec_args``).
            inputs: public input file URLs (``iexec_input_files``).
            secrets: requester secrets by index (``IEXEC_REQUESTER_SECRET_<INDEX>``), by name in the SMS.
            workerpool: only this workerpool; category: only pools of this category.
            grant: run under this dataset grant (its dataset, price and terms; no dataset
                order from the market is needed).
            callback: a contract the hub calls with ``receiveResult(taskid, abi.encode(digest))``
                when the task is settled (200,000 gas cap; its failure never blocks payment).

        Raises:
            SecretError: ``SECRET_MISSING`` (nothing was bought); OrderError: ``ORDER_MISSING``,
                a mismatch; ChainError; ServiceError.
        """
        connection = self.connection
        granted = None if grant is None else granted_order(connection, grant)
        if granted is not None:
            dataset = granted.dataset
        named = dict(secrets or {})
        require_request_secrets(
            connection.services.get("sms"),
            requester=connection.address,
            secrets_by_index=named,
            dataset=dataset,
        )
        register_result_key(connection)
        if granted is None:
            orders = find_orders(connection, app, dataset, workerpool, category)
        else:
            app_order, _, pool_order = find_orders(connection, app, None, workerpool, category)
            orders = (app_order, granted, pool_order)
        request = sign_request_order(
            connection,
            orders,
            args=args,
            input_files=tuple(inputs),
            secrets_by_index=named,
            callback=callback,
        )
        deal, task_id, price = fill(connection, orders, request)
        return TaskHandle(connection, task_id, deal.deal_id, price)

    def task(self, task_id: bytes) -> TaskHandle:
        """A handle on a task this wallet bought earlier."""
        return TaskHandle(self.connection, task_id)
