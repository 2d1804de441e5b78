"""One JSON-RPC connection: retries on transient failures, every failure translated.

:class:`Rpc` wraps a ``Web3`` and runs each call through :meth:`Rpc.run`, which

- retries connection resets, timeouts and HTTP 429/5xx answers a few times with backoff
  (``sleep`` is injected so tests need not wait);
- reports a node that stays unreachable as ``CHAIN_UNREACHABLE`` (with the URL), never as
  a stack of ``requests`` exceptions;
- turns a revert into a :class:`~sealrun.errors.ChainError` worded by the contracts'
  revert table (see :mod:`.reverts`);
- turns any other node error into ``CHAIN_RPC_ERROR`` with the node's message.

web3's own retry layer is disabled so that there is exactly one, with a known budget.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from eth_utils import ValidationError as EvmValidationError
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError

import requests
from sealrun.adapters.chain.reverts import RevertContext, RevertTable
from sealrun.errors import ChainError

__all__ = ["Rpc", "http_web3"]

T = TypeVar("T")

_TRANSIENT_STATUS = {429, 502, 503, 504}


def _with_tester(base: type[Exception], name: str) -> tuple[type[Exception], ...]:
    """``base``, and eth-tester's exception ``name`` if eth-tester is loaded.

    Only the in-process embedded chain raises eth-tester's exceptions, and it has loaded
    eth-tester (with all of py-evm: about half a CPU second) long before; a process that talks
    to a node over HTTP — every service — never pays for that import.
    """
    module = sys.modules.get("eth_tester.exceptions")
    found = getattr(module, name, None) if module is not None else None
    return (base, found) if isinstance(found, type) and issubclass(found, Exception) else (base,)


def http_web3(url: str, *, timeout: float = 30.0) -> Web3:
    """A ``Web3`` over HTTP with web3's retries off (ours are in :class:`Rpc`)."""
    provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    return Web3(provider)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, requests.ConnectionError | requests.Timeout):
        return True
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code in _TRANSIENT_STATUS
    return False


_NO_FUNDS = ("insufficient funds", "cannot afford", "sender balance", "lack of funds")


def _refusal(what: str, message: str) -> ChainError:
    """Word a node's refusal; running out of ether for gas gets its own code."""
    if any(marker in message.lower() for marker in _NO_FUNDS):
        return ChainError(
            f"cannot {what}: the sending account has not enough ether to pay for gas",
            code="CHAIN_INSUFFICIENT_FUNDS",
        )
    return ChainError(f"cannot {what}: the node refused it ({message})", code="CHAIN_RPC_ERROR")


class Rpc:
    """A web3 connection whose every call is retried and translated.

    Args:
        w3: the connection (HTTP or in-process provider).
        reverts: the revert-reason table used to word reverts.
        url: the URL shown in errors (``"embedded"`` for in-process).
        attempts: tries for a transient failure (>= 1).
        backoff: seconds before the first retry, doubled each time.
        sleep: injected for tests.
    """

    def __init__(
        self,
        w3: Web3,
        *,
        reverts: RevertTable | None = None,
        url: str = "embedded",
        attempts: int = 4,
        backoff: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.w3 = w3
        self.reverts = reverts or RevertTable.empty()
        self.url = url
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._chain_id: int | None = None

    @classmethod
    def connect(cls, url: str, *, reverts: RevertTable | None = None, timeout: float = 30.0) -> Rpc:
        """An :class:`Rpc` over an HTTP JSON-RPC URL (no request is made yet)."""
        return cls(http_web3(url, timeout=timeout), reverts=reverts, url=url)

    @property
    def node_key(self) -> str:
        """Names the node for per-node state (nonces): its URL, or the provider object in process."""
        if self.url == "embedded":
            return f"in-process:{id(self.w3.provider)}"
        return self.url

    @property
    def chain_id(self) -> int:
        """The node's chain id (asked once, then cached)."""
        if self._chain_id is None:
            self._chain_id = self.run("read the chain id", lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def run(self, what: str, call: Callable[[], T], *, context: RevertContext | None = None) -> T:
        """Run ``call``, retrying transient failures and translating the rest.

        Args:
            what: a verb phrase for error messages ("read deal 0x..").
            call: the web3 call.
            context: values that revert sentences may quote (e.g. the orders' categories).

        Raises:
            ChainError: ``CHAIN_UNREACHABLE``, a revert code from the table, ``CHAIN_REVERTED``,
                ``CHAIN_TIMEOUT`` or ``CHAIN_RPC_ERROR``.
        """
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except ChainError:
                raise
            except _with_tester(ContractLogicError, "TransactionFailed") as revert:
                raise self.reverts.translate(revert, what=what, context=context or {}) from None
            except TimeExhausted as late:
                raise ChainError(
                    f"cannot {what}: no receipt in time ({late})", code="CHAIN_TIMEOUT"
                ) from None
            except Web3RPCError as refused:
                raise _refusal(what, str(refused.message)) from None
            except _with_tester(EvmValidationError, "ValidationError") as invalid:
                raise _refusal(what, str(invalid)) from None
            except (requests.RequestException, OSError) as failure:
                if _is_transient(failure) and attempt < self.attempts:
                    self._sleep(delay)
                    delay *= 2
                    continue
                if isinstance(failure, requests.HTTPError):
                    raise ChainError(
                        f"cannot {what}: {self.url} answered {failure}", code="CHAIN_RPC_ERROR"
                    ) from None
                raise ChainError(
                    f"cannot {what}: the chain node at {self.url} is unreachable ({type(failure).__name__})",
                    code="CHAIN_UNREACHABLE",
                ) from None
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
