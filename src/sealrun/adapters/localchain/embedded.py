"""The embedded chain: py-evm through eth-tester, in this process.

eth-tester is not thread-safe, so every request goes through one lock owned by the
:class:`EmbeddedChain`; the in-process provider and the HTTP server share it. A request
that cannot take the lock within ``lock_timeout`` seconds fails with ``CHAIN_BUSY``
instead of waiting forever behind a slow one.

Gas estimation runs the transaction once at the block gas limit and answers the gas it
consumed before refunds, plus 1/63 for the 63/64 rule of nested calls: py-evm's default
binary search executes it a dozen times, which made estimation three quarters of the cost
of every transaction (``benchmarks/chain_tps.py``). Senders add their own margin on top.

Transactions are mined at once (auto-mine), one block per transaction. The chain id is
eth-tester's fixed ``131277322940537``. Besides the standard ``eth_*`` methods, the chain
answers the anvil/hardhat test methods ``evm_snapshot``, ``evm_revert``, ``evm_mine`` and
``evm_increaseTime`` so tests can travel in time on every backend alike.

Durability: given a ``journal`` path, the chain replays it at start and appends (fsynced)
every state-changing request before answering it (see :mod:`.journal`). For replay to be
exact, the chain pins py-evm's free inputs: the genesis timestamp comes from the journal,
each block's timestamp is set when the request that mines it arrives (``max(parent + 1,
now)``, with ``now`` from the injected clock) and recorded, and each block's ``mix_hash``
(post-merge PREVRANDAO) is derived from its parent's hash instead of ``os.urandom``. Setting
the timestamp on arrival also fixes eth-tester's habit of stamping a block with the time its
*predecessor* was mined. After the replay the head block must equal the journal's last
record, or the chain refuses to start (``CHAIN_JOURNAL_MISMATCH``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth.vm.forks.cancun.state import get_total_blob_gas
from eth.vm.forks.prague import PragueVM
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.base import ZERO_ADDRESS
from eth_utils import keccak
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS
from web3.types import RPCEndpoint, RPCResponse

from sealrun.adapters.localchain.journal import MUTATING_METHODS, ChainJournal, decode_value, encode_value
from sealrun.errors import ChainError

__all__ = ["EMBEDDED_CHAIN_ID", "EmbeddedChain"]

EMBEDDED_CHAIN_ID = 131277322940537


def _increase_time(tester: EthereumTester, params: Any) -> int:
    seconds = int(params[0], 16) if isinstance(params[0], str) else int(params[0])
    now = tester.get_block_by_number("pending")["timestamp"]
    tester.time_travel(now + seconds)
    return seconds


def _mine(tester: EthereumTester, _params: Any) -> int:
    tester.mine_blocks(1)
    return 0


def _snapshot(tester: EthereumTester, _params: Any) -> int:
    return int(tester.take_snapshot())


def _revert(tester: EthereumTester, params: Any) -> bool:
    snapshot = int(params[0], 16) if isinstance(params[0], str) else int(params[0])
    tester.revert_to_snapshot(snapshot)
    return True


def _one_run_gas_estimate(state: Any, transaction: Any) -> int:
    """py-evm gas estimator: one execution at the block gas limit (see the module docs)."""
    from eth.vm.spoof import SpoofTransaction

    maximum = SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(maximum)
        if computation.is_error:
            raise computation.error
        used = int(state.gas_limit - computation.get_gas_remaining())
    finally:
        state.revert(snapshot)
    return min(int(state.gas_limit), used + used // 63 + 1)


class _DeterministicBackend(PyEVMBackend):  # type: ignore[misc]  # eth-tester is untyped
    """py-evm with PREVRANDAO derived from the parent block, so a replay mines identical blocks."""

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = ZERO_ADDRESS) -> tuple[bytes, ...]:
        hashes = []
        for _ in range(num_blocks):
            parent = self.chain.get_canonical_head()
            kwargs: dict[str, bytes | int] = {
                "coinbase": coinbase,
                "mix_hash": keccak(b"sealrun-prevrandao" + parent.hash),
            }
            if isinstance(self.chain.get_vm(), PragueVM):
                transactions = self.chain.get_block().transactions
                kwargs["blob_gas_used"] = sum(get_total_blob_gas(tx) for tx in transactions)
            hashes.append(self.chain.mine_block(**kwargs).hash)
        return tuple(hashes)


def _endpoints() -> dict[str, dict[str, Callable[..., Any]]]:
    endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
    endpoints.setdefault("evm", {}).update(
        {"increaseTime": _increase_time, "mine": _mine, "snapshot": _snapshot, "revert": _revert}
    )
    return endpoints


class _LockedProvider(EthereumTesterProvider):
    """web3's eth-tester provider, serialised by the chain's lock; state changes are journaled."""

    def __init__(self, chain: EmbeddedChain) -> None:
        super().__init__(chain.tester, api_endpoints=_endpoints())
        self._chain = chain

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._chain.locked():
            if method not in MUTATING_METHODS:
                return super().make_request(method, params)
            return self._chain._mutate(method, params, super().make_request)


class EmbeddedChain:
    """An in-process EVM chain with ten funded, unlocked accounts.

    Args:
        lock_timeout: seconds a request may wait for another one to finish.
        journal: a journal file: replayed at start, appended to after (see :mod:`.journal`).
        clock: the wall clock blocks are stamped from (injected for tests).

    Raises:
        ChainError: ``CHAIN_JOURNAL_CORRUPT``, ``CHAIN_JOURNAL_LOCKED`` or
            ``CHAIN_JOURNAL_MISMATCH`` (the replay did not reproduce the journaled chain).
    """

    def __init__(
        self,
        *,
        lock_timeout: float = 30.0,
        journal: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._journal: ChainJournal | None = None
        genesis = int(clock())
        if journal is not None:
            self._journal = ChainJournal.open(journal, genesis_timestamp=genesis)
            genesis = self._journal.genesis_timestamp
        backend = _DeterministicBackend(
            genesis_parameters=PyEVMBackend.generate_genesis_params(overrides={"timestamp": genesis})
        )
        # A class attribute, so chains rebuilt by snapshots and time travel keep it.
        type(backend.chain).gas_estimator = staticmethod(_one_run_gas_estimate)
        backend.chain.gas_estimator = _one_run_gas_estimate
        self.tester = EthereumTester(backend)
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()
        self._provider = _LockedProvider(self)
        self._replaying = False
        self.replayed = 0
        if self._journal is not None:
            try:
                self._replay(self._journal)
            except BaseException:
                self._journal.close()
                raise

    def _head(self) -> tuple[int, str]:
        head = self.tester.backend.chain.get_canonical_head()
        return int(head.block_number), "0x" + bytes(head.hash).hex()

    def _stamp(self, timestamp: int | None = None) -> int:
        """Give the pending block its timestamp (now, or a journaled one) before it is mined."""
        chain = self.tester.backend.chain
        parent = chain.get_canonical_head()
        if timestamp is None:
            timestamp = max(int(parent.timestamp) + 1, int(self._clock()))
        chain.header = chain.header.copy(timestamp=timestamp)
        return timestamp

    def _mutate(
        self, method: RPCEndpoint, params: Any, request: Callable[[RPCEndpoint, Any], RPCResponse]
    ) -> RPCResponse:
        """Run a state-changing request and journal it (fsynced) before it is answered."""
        timestamp = self._stamp()
        try:
            response = request(method, params)
        except Exception as error:
            self._record(method, params, timestamp, None, type(error).__name__)
            raise
        self._record(method, params, timestamp, response.get("result"), None)
        return response

    def _record(self, method: str, params: Any, timestamp: int, result: Any, error: str | None) -> None:
        if self._journal is None or self._replaying:
            return
        block, head = self._head()
        self._journal.append(
            method=method,
            params=params,
            timestamp=timestamp,
            result=result,
            error=error,
            block=block,
            head=head,
        )

    def _replay(self, journal: ChainJournal) -> None:
        request = super(_LockedProvider, self._provider).make_request
        self._replaying = True
        try:
            for record in journal.contents.records:
                self._stamp(record.timestamp)
                result: Any = None
                error: str | None = None
                try:
                    result = request(RPCEndpoint(record.method), decode_value(record.params)).get("result")
                except Exception as failure:
                    error = type(failure).__name__
                block, head = self._head()
                if (block, head, error) != (record.block, record.head, record.error) or (
                    error is None and encode_value(result) != record.result
                ):
                    raise ChainError(
                        f"replaying the chain journal {journal.path} diverged at record {record.seq} "
                        f"({record.method}): head {block} {head} where the journal has "
                        f"{record.block} {record.head}; the journal was edited or written by another "
                        "chain: start from nothing with `sealrun devnet reset`",
                        code="CHAIN_JOURNAL_MISMATCH",
                    )
                self.replayed += 1
        finally:
            self._replaying = False

    def close(self) -> None:
        """Close the journal (the chain stays usable in memory, unjournaled)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    @property
    def head(self) -> tuple[int, str]:
        """The head block: ``(number, 0x-hash)``."""
        with self.locked():
            return self._head()

    def locked(self) -> _Held:
        """A context manager holding the chain lock.

        Raises:
            ChainError: ``CHAIN_BUSY`` if the lock is not free within ``lock_timeout``.
        """
        return _Held(self._lock, self.lock_timeout)

    @property
    def provider(self) -> EthereumTesterProvider:
        """The web3 provider (formatting middleware included) for in-process clients."""
        return self._provider

    def web3(self) -> Web3:
        """A fresh ``Web3`` over this chain."""
        return Web3(self._provider)

    def request_function(self) -> Callable[[RPCEndpoint, Any], RPCResponse]:
        """The provider's request function with web3's eth-tester formatting middleware only.

        It takes JSON-RPC params (hex quantities) and returns results in JSON-RPC key names;
        the HTTP server hex-encodes the integers it returns.
        """
        bare = Web3(self._provider, middleware=[])
        return bare.provider.request_func(bare, bare.middleware_onion)

    @property
    def accounts(self) -> list[str]:
        """The funded, unlocked accounts (checksummed)."""
        with self.locked():
            return [Web3.to_checksum_address(a) for a in self.tester.get_accounts()]


class _Held:
    def __init__(self, lock: threading.RLock, timeout: float) -> None:
        self._lock = lock
        self._timeout = timeout

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=self._timeout):
            raise ChainError(
                f"the embedded chain stayed busy for {self._timeout:.0f} s; try again", code="CHAIN_BUSY"
            )

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
