"""The chain side of ``devnet up``: deploy and fund a fresh devnet, or check a resumed one.

Kept apart from :mod:`sealrun.devnet.launch` because it loads web3 and eth-account (about a
CPU second): ``up`` starts the chain and the service zygote first, then imports this module
while they boot.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.core.attestation import SimulatorKey
from sealrun.devnet.state import ChainKind, DevnetState, write_secret
from sealrun.errors import ChainError, ConfigError

__all__ = ["ETHER", "POOL_DESCRIPTION", "POOL_STAKE", "TOKENS", "deploy_fresh", "node_sender", "resume_chain"]

ETHER = 100 * 10**18
TOKENS = 10**15
POOL_STAKE = 10**13
POOL_DESCRIPTION = "sealrun devnet pool"


def _register_pool(url: str, hub: str, block: int, owner: LocalAccount, index: Path) -> str:
    market = Marketplace.connect(url, hub=hub, account=owner, index=index, start_block=block)
    pool = market.registry.create_workerpool(
        description=POOL_DESCRIPTION, worker_stake_ratio=30, scheduler_reward_ratio=10
    )
    market.deposit(POOL_STAKE)
    return pool.address


def node_sender(url: str) -> TransactionSender:
    rpc = Rpc.connect(url, reverts=revert_table())
    node_accounts = rpc.run("list the node's accounts", lambda: list(rpc.w3.eth.accounts))
    if not node_accounts:
        raise ChainError(f"the node at {url} has no unlocked account", code="CHAIN_NO_SENDER")
    return TransactionSender(rpc, None, node_account=str(node_accounts[0]))


def resume_chain(previous: DevnetState, deployer: TransactionSender, fund: Sequence[str]) -> list[str]:
    """Check the resumed chain still holds the marketplace; fund wallets it has never seen."""
    rpc = deployer.rpc
    code = rpc.run("read the hub's code", lambda: bytes(rpc.w3.eth.get_code(previous.hub)))  # type: ignore[arg-type]
    if not code:
        raise ConfigError(
            f"the devnet's chain came back without its marketplace (no code at the hub {previous.hub}): "
            "its journal or state file is gone; start from nothing with `sealrun devnet reset`",
            code="DEVNET_STATE_LOST",
        )
    fresh = [
        a
        for a in fund
        if rpc.run("read a balance", lambda a=a: int(rpc.w3.eth.get_balance(a))) == 0  # type: ignore[misc]
    ]
    if fresh:
        fund_accounts(deployer, previous.token, fresh, ether=ETHER, tokens=TOKENS)
    return fresh


def deploy_fresh(
    root: Path,
    kind: ChainKind,
    url: str,
    deployer: TransactionSender,
    *,
    worker_count: int,
    fund: Sequence[str],
    begun: float,
) -> DevnetState:
    """Deploy the marketplace, write the devnet's keys, fund its accounts, register its workerpool."""
    deployment = deploy_marketplace(deployer)
    keys = root / "keys"
    pool_owner: LocalAccount = Account.create()
    workers: list[LocalAccount] = [Account.create() for _ in range(worker_count)]
    write_secret(keys / "pool-owner.key", pool_owner.key.hex().encode())
    for number, worker in enumerate(workers, start=1):
        write_secret(keys / f"worker-{number}.key", worker.key.hex().encode())
    simulator = SimulatorKey.generate()
    write_secret(keys / "simulator.pem", simulator.to_pem())
    write_secret(keys / "simulator.pub.pem", simulator.public_key.to_pem())
    write_secret(keys / "upload-token.key", secrets.token_hex(32).encode())
    accounts = [pool_owner.address, *(w.address for w in workers), *fund]
    fund_accounts(deployer, deployment.token, accounts, ether=ETHER, tokens=TOKENS)
    workerpool = _register_pool(url, deployment.hub, deployment.block, pool_owner, root / "pool-index.sqlite")
    return DevnetState(
        root=root,
        chain=kind,
        rpc_url=url,
        chain_id=deployment.chain_id,
        hub=deployment.hub,
        token=deployment.token,
        registry=deployment.registry,
        deploy_block=deployment.block,
        workerpool=workerpool,
        pool_owner=pool_owner.address,
        workers=tuple(w.address for w in workers),
        started_at=begun,
    )
