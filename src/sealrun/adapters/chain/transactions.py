"""Sending transactions: nonces, gas, fees, receipts, and reverts in words.

:class:`TransactionSender` signs locally with an unlocked wallet (or, for devnet deployment,
asks the node to sign for one of its own unlocked accounts). For each transaction it

1. estimates gas (a revert here is the cheapest place to learn why, so it is translated
   through the revert table with the caller's ``context``) and adds a 20 % margin;
2. takes the next nonce from a per-(node, account) :class:`NonceTracker` under its lock,
   signs and sends the raw transaction, so concurrent sends from one account in one process
   never reuse or skip a nonce; a send that fails before reaching the pool gives its nonce
   back by resynchronising with the node;
3. waits for the receipt outside the lock (so concurrent sends overlap) and, if the
   transaction reverted after all, replays it as a call to recover and word the reason.

Error codes: see :mod:`.rpc`; plus ``CHAIN_INSUFFICIENT_FUNDS`` when the account cannot pay
for gas or value.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import ClassVar, cast

from eth_account.signers.local import LocalAccount
from eth_account.types import TransactionDictType
from hexbytes import HexBytes
from web3.types import LogReceipt, Nonce, TxParams, TxReceipt, Wei

from sealrun.adapters.chain.reverts import RevertContext
from sealrun.adapters.chain.rpc import Rpc
from sealrun.errors import ChainError

__all__ = ["NonceTracker", "Receipt", "TransactionSender"]

_GAS_MARGIN_NUM, _GAS_MARGIN_DEN = 12, 10
_DEFAULT_TIP = 10**9
# How geth/anvil and py-evm say a nonce was already used.
_STALE_NONCE = ("nonce too low", "invalid transaction nonce")


@dataclass(frozen=True)
class Receipt:
    """A mined, successful transaction."""

    tx_hash: bytes
    block_number: int
    gas_used: int
    logs: tuple[LogReceipt, ...] = field(repr=False, default=())
    contract_address: str | None = None


class NonceTracker:
    """The next nonce of one account, shared by every sender of it in this process."""

    _registry: ClassVar[dict[tuple[str, int, str], NonceTracker]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next: int | None = None

    @classmethod
    def of(cls, url: str, chain_id: int, address: str) -> NonceTracker:
        """The tracker for ``address`` on the node at ``url``."""
        key = (url, chain_id, address.lower())
        with cls._registry_lock:
            tracker = cls._registry.get(key)
            if tracker is None:
                tracker = cls._registry[key] = NonceTracker()
            return tracker


class TransactionSender:
    """Sends transactions from one account.

    Args:
        rpc: the connection.
        account: the unlocked wallet's account; ``None`` with ``node_account`` set means the
            node signs (its own unlocked devnet account).
        node_account: the node account's address when ``account`` is ``None``.
        receipt_timeout: seconds to wait for a receipt.
    """

    def __init__(
        self,
        rpc: Rpc,
        account: LocalAccount | None,
        *,
        node_account: str | None = None,
        receipt_timeout: float = 120.0,
    ) -> None:
        if account is None and node_account is None:
            raise ChainError("a sender needs a wallet or a node account", code="CHAIN_NO_SENDER")
        self.rpc = rpc
        self.account = account
        self.address: str = account.address if account is not None else cast(str, node_account)
        self.receipt_timeout = receipt_timeout

    def send(
        self,
        *,
        to: str | None,
        data: bytes,
        what: str,
        value: int = 0,
        context: RevertContext | None = None,
        gas: int | None = None,
        extra_gas: int = 0,
    ) -> Receipt:
        """Send one transaction and wait until it is mined.

        Args:
            to: the recipient contract (``None`` deploys ``data`` as init code).
            data: the call data.
            what: a verb phrase for errors ("deposit 10 RLC").
            value: wei to send along.
            context: values revert sentences may quote.
            gas: a gas limit to use instead of estimating.
            extra_gas: gas added to the estimate, for a call that needs gas *available* beyond
                what it uses (a hub settlement with a result callback: EIP-150, see
                :data:`~sealrun.adapters.chain.models.CALLBACK_GAS_RESERVE`).

        Returns:
            The receipt of the mined transaction.

        Raises:
            ChainError: a revert (worded), ``CHAIN_INSUFFICIENT_FUNDS``, ``CHAIN_UNREACHABLE``, ...
        """
        w3 = self.rpc.w3
        request: TxParams = {"from": self.address, "data": HexBytes(data), "value": Wei(value)}
        if to is not None:
            request["to"] = to
        if gas is None:
            estimate = self.rpc.run(what, lambda: w3.eth.estimate_gas(request), context=context)
            gas = estimate * _GAS_MARGIN_NUM // _GAS_MARGIN_DEN + 10_000 + extra_gas
        request["gas"] = gas
        request.update(self._fees())
        request["chainId"] = self.rpc.chain_id
        tx_hash = self._submit(request, what)
        receipt: TxReceipt = self.rpc.run(
            what,
            lambda: w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=self.receipt_timeout, poll_latency=0.05
            ),
        )
        if receipt["status"] != 1:
            self._explain_failure(request, receipt, what, context)
        address = receipt.get("contractAddress")
        return Receipt(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            logs=tuple(receipt["logs"]),
            contract_address=str(address) if address else None,
        )

    def _fees(self) -> TxParams:
        w3 = self.rpc.w3
        block = self.rpc.run("read the latest block", lambda: w3.eth.get_block("latest"))
        base = int(block.get("baseFeePerGas") or 0)
        if base == 0:
            return {"gasPrice": self.rpc.run("read the gas price", lambda: w3.eth.gas_price)}
        return {"maxFeePerGas": Wei(2 * base + _DEFAULT_TIP), "maxPriorityFeePerGas": Wei(_DEFAULT_TIP)}

    def _submit(self, request: TxParams, what: str) -> bytes:
        w3 = self.rpc.w3
        tracker = NonceTracker.of(self.rpc.node_key, self.rpc.chain_id, self.address)
        with tracker.lock:
            for attempt in (1, 2):
                if tracker.next is None:
                    tracker.next = self.rpc.run(
                        "read the account nonce",
                        lambda: w3.eth.get_transaction_count(w3.to_checksum_address(self.address), "pending"),
                    )
                request["nonce"] = Nonce(tracker.next)
                try:
                    if self.account is None:
                        tx_hash = self.rpc.run(what, lambda: w3.eth.send_transaction(request))
                    else:
                        signed = bytes(
                            self.account.sign_transaction(cast(TransactionDictType, request)).raw_transaction
                        )
                        tx_hash = self.rpc.run(what, functools.partial(w3.eth.send_raw_transaction, signed))
                except ChainError as error:
                    tracker.next = None  # resynchronise: this nonce may not have been used
                    # Another process sent from this account meanwhile: take the next nonce, once.
                    if attempt == 1 and any(m in error.message.lower() for m in _STALE_NONCE):
                        continue
                    raise
                tracker.next += 1
                return bytes(tx_hash)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _explain_failure(
        self, request: TxParams, receipt: TxReceipt, what: str, context: RevertContext | None
    ) -> None:
        w3 = self.rpc.w3
        replay: TxParams = {"from": request["from"], "data": request["data"], "value": request["value"]}
        if "to" in request:
            replay["to"] = request["to"]
        block = int(receipt["blockNumber"])
        self.rpc.run(what, lambda: w3.eth.call(replay, block - 1), context=context)
        raise ChainError(
            f"cannot {what}: the transaction {receipt['transactionHash'].hex()} reverted "
            f"(gas used {receipt['gasUsed']} of {request.get('gas')})",
            code="CHAIN_REVERTED",
        )
