"""Typed binding of the hub: escrow accounts, registries, categories, orders, deals, tasks.

Every read returns one of our dataclasses (:mod:`.models`); every write goes through a
:class:`~sealrun.adapters.chain.transactions.TransactionSender` and returns what it created
(an asset address, a :class:`~sealrun.adapters.chain.models.Deal`) or its receipt. Reverts
arrive as :class:`~sealrun.errors.ChainError` worded by the contracts' revert table; for
``matchOrders`` the sentence may quote the orders' fields (``request_category``,
``workerpool_category``, ...), which are passed as revert context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address

from sealrun.adapters.chain.binding import ZERO_ADDRESS, BoundContract
from sealrun.adapters.chain.models import Balance, Category, Deal, HubTaskStatus
from sealrun.adapters.chain.reverts import RevertContext
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import Receipt, TransactionSender
from sealrun.errors import ChainError

__all__ = ["ORDER_KINDS", "ZERO_ADDRESS", "HubClient"]

#: Order kinds, in the argument order of ``matchOrders``.
ORDER_KINDS = ("app", "dataset", "workerpool", "request")
_HASH_FUNCTIONS = {
    "app": "appOrderHash",
    "dataset": "datasetOrderHash",
    "workerpool": "workerpoolOrderHash",
    "request": "requestOrderHash",
}
_MANAGE_FUNCTIONS = {
    "app": "manageAppOrder",
    "dataset": "manageDatasetOrder",
    "workerpool": "manageWorkerpoolOrder",
    "request": "manageRequestOrder",
}


class HubClient(BoundContract):
    """The hub at ``address``.

    Args:
        rpc: the connection.
        address: the hub contract.
        sender: signs the writes (``None`` for a read-only client).
    """

    def __init__(self, rpc: Rpc, address: str, sender: TransactionSender | None = None) -> None:
        super().__init__(rpc, address, "Hub", sender)
        self._components = {
            item["name"]: item["inputs"]
            for item in self.abi
            if item["type"] == "function" and item.get("inputs")
        }

    # -- reads -----------------------------------------------------------------------------------
    def registry_address(self) -> str:
        """The registry of apps, datasets and workerpools the hub reads owners from."""
        return to_checksum_address(self.call("read the hub's registry", "registry"))

    def token_address(self) -> str:
        """The escrow token the hub holds."""
        return to_checksum_address(self.call("read the hub's token", "token"))

    def balance(self, account: str) -> Balance:
        """The escrow balance (free and locked) of ``account``."""
        account = to_checksum_address(account)
        free = int(self.call(f"read the balance of {account}", "balanceOf", account))
        locked = int(self.call(f"read the locked balance of {account}", "lockedOf", account))
        return Balance(account=account, free=free, locked=locked)

    def category(self, category_id: int) -> Category | None:
        """The category with this id (``None`` if it does not exist)."""
        if category_id < 0 or category_id >= self.category_count():
            return None
        name, description, max_time = self.call(f"read category {category_id}", "categories", category_id)
        return Category(category_id, name, description, int(max_time))

    def category_count(self) -> int:
        """How many categories exist (ids are 0..count-1)."""
        return int(self.call("read the category count", "categoryCount"))

    def categories(self) -> list[Category]:
        """Every category, by id."""
        return [c for i in range(self.category_count()) if (c := self.category(i)) is not None]

    def owner(self) -> str:
        """The hub owner (who may create categories)."""
        return to_checksum_address(self.call("read the hub owner", "owner"))

    def domain_separator(self) -> bytes:
        """The EIP-712 domain separator the hub checks signatures against."""
        return bytes(self.call("read the domain separator", "domainSeparator"))

    def order_hash(self, kind: str, order: Any) -> bytes:
        """The EIP-712 digest of an order, as computed by the hub."""
        name = _HASH_FUNCTIONS[kind]
        return bytes(self.call(f"hash a {kind} order", name, self.order_struct(name, order)))

    def consumed(self, order_hash: bytes) -> int:
        """Volume consumed of an order (2**256-1 once closed)."""
        return int(self.call("read an order's consumed volume", "consumed", order_hash))

    def presigned_by(self, order_hash: bytes) -> str | None:
        """Who pre-signed the order on chain, if anyone."""
        signer = self.call("read an order's presignature", "presigned", order_hash)
        return None if int(signer, 16) == 0 else to_checksum_address(signer)

    def deal_exists(self, deal_id: bytes) -> bool:
        """Whether ``matchOrders`` created this deal."""
        return bool(self.call("check a deal", "dealExists", deal_id))

    def task_status(self, deal_id: bytes, index: int) -> HubTaskStatus:
        """The status of task ``index`` of a deal."""
        return HubTaskStatus(int(self.call("read a task status", "taskStatus", deal_id, index)))

    def result_digest(self, task_id: bytes) -> bytes | None:
        """The result digest of a completed task."""
        digest = bytes(self.call("read a task result", "results", task_id))
        return None if digest == bytes(32) else digest

    # -- writes ----------------------------------------------------------------------------------
    def deposit(self, amount: int, token: Any) -> Receipt:
        """Move ``amount`` tokens from the sender's wallet into its escrow account (approve + deposit).

        Args:
            amount: tokens (smallest unit), > 0.
            token: the :class:`~sealrun.adapters.chain.token.TokenClient` of the hub's token.
        """
        if self.sender is None:
            raise ChainError("cannot deposit: no wallet is unlocked for this client", code="CHAIN_NO_SENDER")
        sender = self.sender
        if amount <= 0:
            raise ChainError("cannot deposit: the amount must be positive", code="CHAIN_INVALID_AMOUNT")
        held = token.balance_of(sender.address)
        if held < amount:
            raise ChainError(
                f"cannot deposit {amount}: wallet {sender.address} holds only {held} tokens",
                code="CHAIN_INSUFFICIENT_TOKENS",
            )
        if token.allowance(sender.address, self.address) < amount:
            token.approve(self.address, amount)
        return self.send("deposit", [amount], f"deposit {amount} tokens")

    def withdraw(self, amount: int) -> Receipt:
        """Send ``amount`` of the sender's free escrow balance back to its wallet."""
        return self.send("withdraw", [amount], f"withdraw {amount} tokens")

    def create_category(self, *, name: str, description: str, max_time: int) -> Category:
        """Create a category (hub owner only); returns it."""
        receipt = self.send("createCategory", [name, description, max_time], f"create category {name!r}")
        created = self.event(receipt, "CategoryCreated")
        return Category(int(created["id"]), name, description, max_time)

    def manage_order(self, kind: str, order: Any, *, close: bool) -> Receipt:
        """Pre-sign (``close=False``) or close for good (``close=True``) an order of the sender."""
        name = _MANAGE_FUNCTIONS[kind]
        verb = "close" if close else "pre-sign"
        return self.send(name, [self.order_struct(name, order), close], f"{verb} the {kind} order")

    def match_orders(self, orders: Mapping[str, object], *, context: RevertContext | None = None) -> Deal:
        """Match an app, dataset (or empty), workerpool and request order into a deal.

        Args:
            orders: ``{"app": ..., "dataset": ..., "workerpool": ..., "request": ...}`` signed orders.
            context: values the revert sentences may quote (default: every order field as
                ``<kind>_<field>``).

        Returns:
            The deal, as emitted in ``OrdersMatched``.
        """
        args = [
            self.order_struct("matchOrders", orders[kind], position=i) for i, kind in enumerate(ORDER_KINDS)
        ]
        receipt = self.send("matchOrders", args, "match the orders", context=context or order_context(orders))
        matched = self.event(receipt, "OrdersMatched")
        return Deal.from_event(
            bytes(matched["dealid"]),
            matched["deal"],
            params=str(matched["params"]),
            block_number=receipt.block_number,
        )

    def claim(self, deal: Deal, indices: Sequence[int]) -> Receipt:
        """Claim refunds for unfinished tasks after the deal's final deadline (one or many)."""
        if len(indices) == 1:
            return self.send("claim", [deal.as_struct(), indices[0]], f"claim task {indices[0]}")
        return self.send("claimMany", [deal.as_struct(), list(indices)], f"claim {len(indices)} tasks")

    # -- helpers ---------------------------------------------------------------------------------
    def order_struct(self, function: str, order: Any, *, position: int = 0) -> tuple[Any, ...]:
        """The ABI tuple of an order, taking each struct field from the order by name.

        ``order`` may be a mapping or an object with attributes named like the struct's
        fields (``app``, ``appprice``, ..., ``sign``).
        """
        components = self._components[function][position]["components"]
        values = []
        for component in components:
            name = component["name"]
            value = order.get(name) if isinstance(order, Mapping) else getattr(order, name, None)
            if value is None:
                raise ChainError(f"the order has no field {name!r}", code="CHAIN_ORDER_FIELDS")
            values.append(value)
        return tuple(values)


def order_context(orders: Mapping[str, object]) -> dict[str, object]:
    """Every order field as ``<kind>_<field>`` (``request_category``, ``workerpool_category``, ...)."""
    context: dict[str, object] = {}
    for kind, order in orders.items():
        if isinstance(order, Mapping):
            items = list(order.items())
        elif dataclasses.is_dataclass(order):
            items = [(f.name, getattr(order, f.name)) for f in dataclasses.fields(order)]
        else:
            items = list(vars(order).items())
        for name, value in items:
            if name != "sign":
                context[f"{kind}_{name}"] = value
    return context
