"""The chain client: typed bindings, transactions, events, the deal index and the reader.

Public entry points (re-exported by the :mod:`sealrun` facade):

- :class:`~.client.Marketplace`: one object per (chain, wallet) for everything on chain;
- :class:`~.reader.HubChainReader`: the :class:`sealrun.core.chainstate.ChainReader` the
  services use;
- :class:`~.events.EventReader` with :class:`~.events.FileCheckpoint` /
  :class:`~.events.SqlCheckpoint`: follow contract events without rescanning;
- :class:`~.hub.HubClient`, :class:`~.registry.RegistryClient`, :class:`~.token.TokenClient`;
- :class:`~.transactions.TransactionSender`, :class:`~.rpc.Rpc`;
- :func:`~.deploy.deploy_marketplace`, :func:`~.deploy.fund_accounts`;
- the local chains: :class:`~sealrun.adapters.localchain.embedded.EmbeddedChain`,
  :class:`~sealrun.adapters.localchain.server.ChainServer`,
  :class:`~sealrun.adapters.localchain.anvil.AnvilNode`.

Error codes (:class:`~sealrun.errors.ChainError`): ``CHAIN_UNREACHABLE``, ``CHAIN_RPC_ERROR``,
``CHAIN_TIMEOUT``, ``CHAIN_REVERTED`` (a reason the table does not know), the codes of the
contracts' revert table (``ORDER_*``, ``TASK_*``, ``ACCOUNT_*``, ...),
``CHAIN_INSUFFICIENT_FUNDS`` (no ether for gas), ``CHAIN_INSUFFICIENT_TOKENS``,
``CHAIN_INVALID_AMOUNT``, ``CHAIN_NO_SENDER``, ``CHAIN_NO_HUB``, ``CHAIN_EVENT_MISSING``,
``CHAIN_ORDER_FIELDS``, ``CHAIN_TASK_UNKNOWN``, ``CHAIN_TASKS_OF_MANY_DEALS``,
``CHAIN_CHECKPOINT``, ``CHAIN_ARTIFACT_INVALID``, ``CHAIN_DEPLOY_FAILED``, ``CHAIN_BUSY``,
``CHAIN_SERVE_FAILED``, ``ANVIL_NOT_FOUND``, ``ANVIL_INSTALL_FAILED``, ``ANVIL_START_FAILED``.

The two in-process chains (``EmbeddedChain``, ``ChainServer``) are resolved lazily (PEP 562):
they load eth-tester and all of py-evm (about half a CPU second), which a process talking to a
node over HTTP — every service — never needs.
"""

import importlib
from typing import TYPE_CHECKING

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.deals import DealIndex
from sealrun.adapters.chain.deploy import Deployment, deploy_marketplace, fund_accounts
from sealrun.adapters.chain.events import ChainEvent, Checkpoint, EventReader, FileCheckpoint, SqlCheckpoint
from sealrun.adapters.chain.hub import HubClient
from sealrun.adapters.chain.models import (
    App,
    Balance,
    Category,
    Dataset,
    Deal,
    HubTaskStatus,
    Task,
    Workerpool,
)
from sealrun.adapters.chain.reader import HubChainReader
from sealrun.adapters.chain.registry import RegistryClient
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.token import TokenClient
from sealrun.adapters.chain.transactions import Receipt, TransactionSender
from sealrun.adapters.localchain.anvil import AnvilNode, find_anvil

if TYPE_CHECKING:
    from sealrun.adapters.localchain.embedded import EmbeddedChain
    from sealrun.adapters.localchain.server import ChainServer

_LAZY = {
    "EmbeddedChain": "sealrun.adapters.localchain.embedded",
    "ChainServer": "sealrun.adapters.localchain.server",
}

__all__ = [
    "AnvilNode",
    "App",
    "Balance",
    "Category",
    "ChainEvent",
    "ChainServer",
    "Checkpoint",
    "Dataset",
    "Deal",
    "DealIndex",
    "Deployment",
    "EmbeddedChain",
    "EventReader",
    "FileCheckpoint",
    "HubChainReader",
    "HubClient",
    "HubTaskStatus",
    "Marketplace",
    "Receipt",
    "RegistryClient",
    "Rpc",
    "SqlCheckpoint",
    "Task",
    "TokenClient",
    "TransactionSender",
    "Workerpool",
    "deploy_marketplace",
    "find_anvil",
    "fund_accounts",
]


def __getattr__(name: str) -> object:
    """Load an in-process chain class on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
