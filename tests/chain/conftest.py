"""Chain fixtures: one deployed marketplace per backend and module.

Backends (the ``backend`` fixture parameter):

- ``embedded``: py-evm through eth-tester, in this process;
- ``served``: the same chain served by ``sealrun chain serve`` from a second process;
- ``anvil``: anvil from tools/node (marked ``anvil``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import Deployment, deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.anvil import AnvilNode, find_anvil
from sealrun.adapters.localchain.embedded import EmbeddedChain

REPO = Path(__file__).resolve().parents[2]
SEALRUN = REPO / ".venv" / "bin" / "sealrun"
ANVIL = REPO / "tools" / "node" / "node_modules" / ".bin" / "anvil"
BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("served", id="served"),
    pytest.param("anvil", id="anvil", marks=pytest.mark.anvil),
]
ROLES = ("requester", "developer", "owner", "pool")


@dataclass
class World:
    """A deployed marketplace and one Marketplace client per role."""

    backend: str
    rpc: Rpc
    deployment: Deployment
    deployer: TransactionSender
    accounts: dict[str, LocalAccount]
    markets: dict[str, Marketplace]
    url: str | None

    def fresh_account(self, *, ether: int = 10**18, tokens: int = 10**9) -> LocalAccount:
        """A new funded account."""
        account: LocalAccount = Account.create()
        fund_accounts(self.deployer, self.deployment.token, [account.address], ether=ether, tokens=tokens)
        return account

    def market(self, account: LocalAccount | None) -> Marketplace:
        """A Marketplace for ``account`` (read-only for ``None``)."""
        return Marketplace(
            self.rpc, hub=self.deployment.hub, account=account, start_block=self.deployment.block
        )


def serve_subprocess(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `sealrun chain serve` on a free port in a second process; return it and its URL."""
    config = tmp / "sealrun.toml"
    subprocess.run([str(SEALRUN), "init", str(tmp), "--json"], check=True, capture_output=True)
    process = subprocess.Popen(
        [str(SEALRUN), "chain", "serve", "--port", "0", "--json", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError(f"chain serve failed: {process.stderr.read() if process.stderr else ''}")
    return process, json.loads(line)["url"]


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A freshly deployed marketplace on the requested backend, with four funded roles."""
    backend = request.param
    stop: list[object] = []
    url: str | None = None
    if backend == "embedded":
        chain = EmbeddedChain()
        rpc = Rpc(chain.web3(), reverts=revert_table())
    elif backend == "served":
        process, url = serve_subprocess(tmp_path_factory.mktemp("served"))
        stop.append(process)
        rpc = Rpc.connect(url, reverts=revert_table())
    else:
        node = AnvilNode(find_anvil()).start()
        stop.append(node)
        url = node.url
        rpc = Rpc.connect(url, reverts=revert_table())
    try:
        node_account = rpc.w3.eth.accounts[0]
        deployer = TransactionSender(rpc, None, node_account=node_account)
        deployment = deploy_marketplace(deployer)
        accounts = {role: Account.create() for role in ROLES}
        fund_accounts(
            deployer, deployment.token, [a.address for a in accounts.values()], ether=10**19, tokens=10**12
        )
        markets = {
            role: Marketplace(rpc, hub=deployment.hub, account=account, start_block=deployment.block)
            for role, account in accounts.items()
        }
        yield World(backend, rpc, deployment, deployer, accounts, markets, url)
    finally:
        for item in stop:
            if isinstance(item, AnvilNode):
                item.stop()
            elif isinstance(item, subprocess.Popen):
                item.terminate()
                item.wait(timeout=20)
                for stream in (item.stdout, item.stderr):
                    if stream is not None:
                        stream.close()


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    """The anvil binary (tests using it are marked ``anvil``)."""
    assert ANVIL.is_file(), f"anvil missing at {ANVIL}: run scripts/setup.sh"
    return ANVIL
