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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS
from web3.types import RPCEndpoint, RPCResponse

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


def _endpoints() -> dict[str, dict[str, Callable[..., Any]]]:
    endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
    endpoints.setdefault("evm", {}).update(
        {"increaseTime": _increase_time, "mine": _mine, "snapshot": _snapshot, "revert": _revert}
    )
    return endpoints


class _LockedProvider(EthereumTesterProvider):
    """web3's eth-tester provider, serialised by the chain's lock."""

    def __init__(self, chain: EmbeddedChain) -> None:
        super().__init__(chain.tester, api_endpoints=_endpoints())
        self._chain = chain

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._chain.locked():
            return super().make_request(method, params)


class EmbeddedChain:
    """An in-process EVM chain with ten funded, unlocked accounts.

    Args:
        lock_timeout: seconds a request may wait for another one to finish.
    """

    def __init__(self, *, lock_timeout: float = 30.0) -> None:
        backend = PyEVMBackend()
        # A class attribute, so chains rebuilt by snapshots and time travel keep it.
        type(backend.chain).gas_estimator = staticmethod(_one_run_gas_estimate)
        backend.chain.gas_estimator = _one_run_gas_estimate
        self.tester = EthereumTester(backend)
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()
        self._provider = _LockedProvider(self)

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
