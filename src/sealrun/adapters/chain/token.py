"""Typed binding of the escrow token (an ERC-20; on devnets the owner can mint)."""

from __future__ import annotations

from sealrun.adapters.chain.binding import BoundContract
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import Receipt, TransactionSender

__all__ = ["TokenClient"]


class TokenClient(BoundContract):
    """The escrow token at ``address``.

    Args:
        rpc: the connection.
        address: the token contract.
        sender: signs the writes (``None`` for a read-only client).
    """

    def __init__(self, rpc: Rpc, address: str, sender: TransactionSender | None = None) -> None:
        super().__init__(rpc, address, "Token", sender)

    def balance_of(self, account: str) -> int:
        """The token balance of ``account`` (in its wallet, outside the hub)."""
        return int(self.call(f"read the token balance of {account}", "balanceOf", account))

    def allowance(self, owner: str, spender: str) -> int:
        """How much ``spender`` may move from ``owner``."""
        return int(self.call("read a token allowance", "allowance", owner, spender))

    def symbol(self) -> str:
        """The token's symbol."""
        return str(self.call("read the token symbol", "symbol"))

    def decimals(self) -> int:
        """The token's decimals."""
        return int(self.call("read the token decimals", "decimals"))

    def approve(self, spender: str, amount: int) -> Receipt:
        """Allow ``spender`` (the hub) to take ``amount`` from the sender."""
        return self.send("approve", [spender, amount], f"approve {amount} tokens for {spender}")

    def transfer(self, receiver: str, amount: int) -> Receipt:
        """Send ``amount`` tokens to ``receiver``."""
        return self.send("transfer", [receiver, amount], f"transfer {amount} tokens to {receiver}")

    def mint(self, receiver: str, amount: int) -> Receipt:
        """Mint ``amount`` tokens to ``receiver`` (token owner only)."""
        return self.send("mint", [receiver, amount], f"mint {amount} tokens to {receiver}")
