"""The SDK's entry point to the marketplace on chain: :class:`Marketplace`.

One object per (chain, wallet): it holds the connection, the transaction sender of the
wallet (if any), typed clients for the hub, the registry and the token, the durable deal
index, and the :class:`~sealrun.adapters.chain.reader.HubChainReader` services use::

    market = Marketplace.connect("http://127.0.0.1:8545", hub=HUB, account=wallet.account,
                                 index=Path(".sealrun/embedded.sqlite"))
    market.deposit(10 * 10**9)
    app = market.registry.create_app(name="hello", ...)
    deal = market.hub.match_orders({"app": ..., "dataset": ..., "workerpool": ..., "request": ...})
    market.tasks(deal)

``index`` is a SQLite file (or a SQLAlchemy engine, e.g. the service's PostgreSQL) that keeps
the deal index and its checkpoint between runs; without it the index lives in memory and a
new process re-reads the hub's events from ``start_block``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from sqlalchemy.pool import StaticPool

from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deals import DealIndex
from sealrun.adapters.chain.hub import HubClient
from sealrun.adapters.chain.models import Balance, Deal, HubTaskStatus, Task
from sealrun.adapters.chain.reader import HubChainReader
from sealrun.adapters.chain.registry import RegistryClient
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.token import TokenClient
from sealrun.adapters.chain.transactions import Receipt, TransactionSender
from sealrun.api.ids import task_id_hex
from sealrun.core.orders import (
    CLOSED,
    AppOrder,
    DatasetOrder,
    Domain,
    MatchContext,
    MatchPlan,
    Order,
    RequestOrder,
    WorkerpoolOrder,
    check_match,
    is_grant_id,
    order_hash,
    sign_order,
)
from sealrun.core.tasks import task_id as compute_task_id
from sealrun.errors import ChainError

__all__ = ["Marketplace", "index_engine"]


def index_engine(index: Path | sa.Engine | None) -> sa.Engine:
    """The engine of a deal index: a SQLite file, a given engine, or an in-memory database."""
    if isinstance(index, sa.Engine):
        return index
    if index is None:
        return sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    index.parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(f"sqlite:///{index}", connect_args={"check_same_thread": False})


class Marketplace:
    """The marketplace on one chain, seen by one wallet (or read-only).

    Args:
        rpc: the connection (see :meth:`connect` for a URL).
        hub: the hub's address.
        account: the unlocked wallet's account; ``None`` for read-only use.
        index: where the deal index lives (see the module docs).
        start_block: the hub's deployment block.
    """

    def __init__(
        self,
        rpc: Rpc,
        *,
        hub: str,
        account: LocalAccount | None = None,
        index: Path | sa.Engine | None = None,
        start_block: int = 0,
    ) -> None:
        self.rpc = rpc
        self.sender = TransactionSender(rpc, account) if account is not None else None
        self.hub = HubClient(rpc, hub, self.sender)
        self.registry = RegistryClient(rpc, self.hub.registry_address(), self.sender)
        self.token = TokenClient(rpc, self.hub.token_address(), self.sender)
        self.deals = DealIndex(self.hub, index_engine(index), start_block=start_block)
        self.reader = HubChainReader(self.hub, self.registry, self.deals)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        hub: str,
        account: LocalAccount | None = None,
        index: Path | sa.Engine | None = None,
        start_block: int = 0,
        timeout: float = 30.0,
    ) -> Marketplace:
        """Connect to a JSON-RPC node at ``url``.

        Raises:
            ChainError: ``CHAIN_UNREACHABLE`` if the node does not answer, ``CHAIN_NO_HUB``
                if no hub is deployed at ``hub``.
        """
        rpc = Rpc.connect(url, reverts=revert_table(), timeout=timeout)
        return cls.checked(rpc, hub=hub, account=account, index=index, start_block=start_block)

    @classmethod
    def checked(
        cls,
        rpc: Rpc,
        *,
        hub: str,
        account: LocalAccount | None = None,
        index: Path | sa.Engine | None = None,
        start_block: int = 0,
    ) -> Marketplace:
        """Like the constructor, but first checks that a contract exists at ``hub``."""
        code = rpc.run("read the hub's code", lambda: rpc.w3.eth.get_code(rpc.w3.to_checksum_address(hub)))
        if len(code) == 0:
            raise ChainError(
                f"no hub contract at {hub} on the chain at {rpc.url}: deploy it with `sealrun chain deploy`",
                code="CHAIN_NO_HUB",
            )
        return cls(rpc, hub=hub, account=account, index=index, start_block=start_block)

    @property
    def address(self) -> str:
        """The wallet's address.

        Raises:
            ChainError: ``CHAIN_NO_SENDER`` for a read-only client.
        """
        if self.sender is None:
            raise ChainError("no wallet is unlocked for this client", code="CHAIN_NO_SENDER")
        return self.sender.address

    def balance(self, account: str | None = None) -> Balance:
        """The escrow balance of ``account`` (default: the wallet's)."""
        return self.hub.balance(account or self.address)

    def deposit(self, amount: int) -> Receipt:
        """Move ``amount`` tokens from the wallet into its escrow account."""
        return self.hub.deposit(amount, self.token)

    def withdraw(self, amount: int) -> Receipt:
        """Move ``amount`` tokens of free escrow balance back to the wallet."""
        return self.hub.withdraw(amount)

    def deal(self, deal_id: bytes) -> Deal | None:
        """The deal with this id (from the index, caught up on a miss)."""
        return self.deals.deal(deal_id)

    def task(self, task_id: bytes) -> Task | None:
        """The task with this id, with its current status."""
        found = self.deals.task(task_id)
        if found is None:
            return None
        deal, index = found
        return self._task(deal, index, task_id)

    def tasks(self, deal: Deal) -> list[Task]:
        """Every task of ``deal``, with its current status."""
        return [self._task(deal, i, compute_task_id(deal.deal_id, i)) for i in range(deal.volume)]

    def claim(self, task_ids: list[bytes]) -> Receipt:
        """Claim refunds for unfinished tasks of one deal past its final deadline.

        Raises:
            ChainError: ``CHAIN_TASK_UNKNOWN``, ``CHAIN_TASKS_OF_MANY_DEALS``, or a worded revert.
        """
        found = []
        for task_id in task_ids:
            located = self.deals.task(task_id)
            if located is None:
                raise ChainError(
                    f"task {task_id_hex(task_id)} is not part of any known deal", code="CHAIN_TASK_UNKNOWN"
                )
            found.append(located)
        deals = {deal.deal_id for deal, _ in found}
        if len(deals) != 1:
            raise ChainError(
                "tasks to claim together must belong to one deal", code="CHAIN_TASKS_OF_MANY_DEALS"
            )
        return self.hub.claim(found[0][0], [index for _, index in found])

    # -- orders --------------------------------------------------------------------------------------
    def domain(self) -> Domain:
        """The EIP-712 domain of this hub on this chain."""
        return Domain(chain_id=self.rpc.chain_id, verifying_contract=self.hub.address)

    def sign(self, order: Order) -> Order:
        """Sign ``order`` with the wallet (EIP-712, as ``eth_signTypedData_v4``).

        Raises:
            ChainError: ``CHAIN_NO_SENDER`` without a wallet.
        """
        if self.sender is None or self.sender.account is None:
            raise ChainError("cannot sign an order: no wallet is unlocked", code="CHAIN_NO_SENDER")
        # sign_order is generic over the four order types; the union needs a cast for mypy.
        return cast(Order, sign_order(cast(Any, order), bytes(self.sender.account.key), self.domain()))

    def order_hash(self, order: Order) -> bytes:
        """The order's EIP-712 digest (the key of its consumed volume on chain)."""
        return order_hash(order, self.domain())

    def remaining(self, order: Order) -> int:
        """Volume still available on chain (0 once closed or used up)."""
        consumed = self.hub.consumed(self.order_hash(order))
        return 0 if consumed == CLOSED else max(0, order.volume - consumed)

    def plan(
        self, app: AppOrder, dataset: DatasetOrder | None, workerpool: WorkerpoolOrder, request: RequestOrder
    ) -> MatchPlan:
        """Check the orders against the chain's state as ``matchOrders`` would, without spending gas.

        Raises:
            OrderError: with the contract's code and the values that do not match.
        """
        domain = self.domain()
        orders: list[Order] = [app, workerpool, request]
        if dataset is not None:
            orders.append(dataset)
        hashes = [order_hash(o, domain) for o in orders]
        app_record = self.registry.app(app.app)
        pool = self.registry.workerpool(workerpool.workerpool)
        dataset_record = self.registry.dataset(dataset.dataset) if dataset is not None else None
        zero = "0x" + "00" * 20
        context = MatchContext(
            domain=domain,
            category_count=self.hub.category_count(),
            app_owner=app_record.owner if app_record else zero,
            dataset_owner=dataset_record.owner if dataset_record else zero,
            workerpool_owner=pool.owner if pool else zero,
            scheduler_reward_ratio=pool.scheduler_reward_ratio if pool else 0,
            consumed={h: self.hub.consumed(h) for h in hashes},
            presigned={h: signer for h in hashes if (signer := self.hub.presigned_by(h)) is not None},
            requester_free=self.hub.balance(request.requester).free,
            workerpool_owner_free=self.hub.balance(pool.owner).free if pool else None,
            grant=(
                self.registry.get_grant(dataset.salt, hub=self.hub.address)
                if dataset is not None and is_grant_id(dataset.salt)
                else None
            ),
            now=self.chain_time() if dataset is not None else 0,
        )
        return check_match(app, dataset, workerpool, request, context)

    def chain_time(self) -> int:
        """The latest block's timestamp (unix seconds): the time the contracts see."""
        return int(
            self.rpc.run("read the latest block", lambda: self.rpc.w3.eth.get_block("latest")["timestamp"])
        )

    def match(
        self, app: AppOrder, dataset: DatasetOrder | None, workerpool: WorkerpoolOrder, request: RequestOrder
    ) -> Deal:
        """Send ``matchOrders`` (the caller pays gas; the requester pays the tasks) and return the deal."""
        orders = {
            "app": app,
            "dataset": dataset or DatasetOrder.none(),
            "workerpool": workerpool,
            "request": request,
        }
        return self.hub.match_orders(orders)

    def _task(self, deal: Deal, index: int, task_id: bytes) -> Task:
        status = self.hub.task_status(deal.deal_id, index)
        digest = self.hub.result_digest(task_id) if status == HubTaskStatus.COMPLETED else None
        return Task(
            task_id=task_id,
            deal_id=deal.deal_id,
            index=index,
            status=status,
            result_digest=digest,
            deadline=deal.deadline,
        )
