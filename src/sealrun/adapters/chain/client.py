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
                    f"task 0x{task_id.hex()} is not part of any known deal", code="CHAIN_TASK_UNKNOWN"
                )
            found.append(located)
        deals = {deal.deal_id for deal, _ in found}
        if len(deals) != 1:
            raise ChainError(
                "tasks to claim together must belong to one deal", code="CHAIN_TASKS_OF_MANY_DEALS"
            )
        return self.hub.claim(found[0][0], [index for _, index in found])

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
