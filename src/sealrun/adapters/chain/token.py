"""Typed binding of the escrow token (an ERC-20; on devnets the owner can mint)."""

from __future__ import annotations

from web3.contract import Contract

from sealrun.adapters.chain.compiled import compiled
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import Receipt, TransactionSender

__all__ = ["TokenClient"]


class TokenClient:
    """The escrow token at ``address``.

    Args:
        rpc: the connection.
        address: the token contract.
        sender: signs the writes (``None`` for a read-only client).
    """

    def __init__(self, rpc: Rpc, address: str, sender: TransactionSender | None = None) -> None:
        self.rpc = rpc
        self.address = rpc.w3.to_checksum_address(address)
        self.sender = sender
        self.contract: Contract = rpc.w3.eth.contract(address=self.address, abi=compiled("Token").abi)

    def balance_of(self, account: str) -> int:
        """The token balance of ``account`` (outside the hub)."""
        fn = self.contract.functions.balanceOf(account)
        return int(self.rpc.run(f"read the token balance of {account}", fn.call))

    def allowance(self, owner: str, spender: str) -> int:
        """How much ``spender`` may move from ``owner``."""
        fn = self.contract.functions.allowance(owner, spender)
        return int(self.rpc.run("read a token allowance", fn.call))

    def symbol(self) -> str:
        """The token's symbol."""
        return str(self.rpc.run("read the token symbol", self.contract.functions.symbol().call))

    def approve(self, spender: str, amount: int) -> Receipt:
        """Allow ``spender`` (the hub) to take ``amount`` from the sender."""
        return self._send("approve", [spender, amount], f"approve {amount} tokens for {spender}")

    def transfer(self, receiver: str, amount: int) -> Receipt:
        """Send ``amount`` tokens to ``receiver``."""
        return self._send("transfer", [receiver, amount], f"transfer {amount} tokens to {receiver}")

    def mint(self, receiver: str, amount: int) -> Receipt:
        """Mint ``amount`` tokens to ``receiver`` (token owner only)."""
        return self._send("mint", [receiver, amount], f"mint {amount} tokens to {receiver}")

    def _send(self, name: str, args: list[object], what: str) -> Receipt:
        from sealrun.errors import ChainError

        if self.sender is None:
            raise ChainError(f"cannot {what}: this client has no wallet", code="CHAIN_NO_SENDER")
        data = bytes.fromhex(self.contract.encode_abi(name, args=args).removeprefix("0x"))
        return self.sender.send(to=self.address, data=data, what=what)
