"""The base of our typed contract bindings: a compiled contract at an address.

:class:`BoundContract` gives each binding (hub, registry, token) the same three tools:
``call`` a view with translated errors, ``send`` a transaction through the wallet's
:class:`~sealrun.adapters.chain.transactions.TransactionSender`, and pull a decoded
``event`` out of a receipt. Subclasses turn results into our dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract

from sealrun.adapters.chain.compiled import compiled
from sealrun.adapters.chain.reverts import RevertContext
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import Receipt, TransactionSender
from sealrun.errors import ChainError

__all__ = ["ZERO_ADDRESS", "BoundContract", "is_zero"]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def is_zero(address: str) -> bool:
    """Whether ``address`` is the zero address."""
    return int(address, 16) == 0


class BoundContract:
    """The compiled contract ``name`` at ``address``.

    Args:
        rpc: the connection.
        address: the contract's address.
        name: the artifact name (``"Hub"``, ``"Registry"``, ``"Token"``).
        sender: signs the writes (``None`` for a read-only client).
    """

    def __init__(self, rpc: Rpc, address: str, name: str, sender: TransactionSender | None = None) -> None:
        self.rpc = rpc
        self.address = to_checksum_address(address)
        self.sender = sender
        self.abi = compiled(name).abi
        self.contract: Contract = rpc.w3.eth.contract(address=self.address, abi=self.abi)

    def call(self, what: str, name: str, *args: Any) -> Any:
        """Call the view ``name(*args)``.

        Raises:
            ChainError: translated (unreachable node, revert, ...).
        """
        fn = self.contract.functions[name](*args)
        return self.rpc.run(what, fn.call)

    def send(
        self,
        name: str,
        args: list[Any],
        what: str,
        *,
        context: RevertContext | None = None,
        extra_gas: int = 0,
    ) -> Receipt:
        """Send a transaction calling ``name(*args)``; ``what`` words errors ("deposit 5 tokens");
        ``extra_gas`` is added to the estimated gas limit.

        Raises:
            ChainError: ``CHAIN_NO_SENDER`` without a wallet, or a translated failure.
        """
        if self.sender is None:
            raise ChainError(f"cannot {what}: no wallet is unlocked for this client", code="CHAIN_NO_SENDER")
        data = bytes.fromhex(self.contract.encode_abi(name, args=args).removeprefix("0x"))
        return self.sender.send(to=self.address, data=data, what=what, context=context, extra_gas=extra_gas)

    def event(self, receipt: Receipt, name: str) -> Mapping[str, Any]:
        """The arguments of the first ``name`` event this contract emitted in ``receipt``.

        Raises:
            ChainError: ``CHAIN_EVENT_MISSING``.
        """
        event = self.contract.events[name]()
        topic = bytes.fromhex(str(event.topic).removeprefix("0x"))
        for log in receipt.logs:
            topics = log.get("topics") or []
            if to_checksum_address(log["address"]) == self.address and topics and bytes(topics[0]) == topic:
                return dict(event.process_log(log)["args"])
        raise ChainError(f"the transaction emitted no {name} event", code="CHAIN_EVENT_MISSING")
