"""A whole worker pool on loopback for tests and benchmarks.

One chain (the embedded py-evm chain served over HTTP from this process, or anvil), the
marketplace deployed on it, an app (``examples/iexec-python``) and a workerpool registered,
funded actors, and every service as a real ``python -m`` process: store, SMS, market,
scheduler and workers. Processes can be killed (``kill -9``) and restarted one by one.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import Deployment, deploy_marketplace, fund_accounts
from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.anvil import AnvilNode, find_anvil
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.adapters.localchain.server import ChainServer
from sealrun.core.attestation import SimulatorKey
from tests.pool.servers import ServiceProcess, free_port

REPO = Path(__file__).resolve().parents[2]
APP_BUNDLE = REPO / "examples" / "iexec-python"
TEE = "0x" + "00" * 31 + "01"


@dataclass
class PoolWorld:
    """Everything a pool test needs; :meth:`close` stops it all."""

    root: Path
    url: str
    rpc: Rpc
    deployment: Deployment
    deployer: TransactionSender
    developer: LocalAccount
    requester: LocalAccount
    owner: LocalAccount
    workers: list[LocalAccount]
    app: str
    workerpool: str
    ports: dict[str, int]
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    #: Base URLs of services that do not run on loopback (the multi-host rig's), and the CA
    #: bundle their TLS certificates verify against.
    urls: dict[str, str] = field(default_factory=dict)
    ca_file: Path | None = None

    def market_of(self, account: LocalAccount | None) -> Marketplace:
        """A chain client for ``account`` (read-only for ``None``)."""
        return Marketplace(
            self.rpc, hub=self.deployment.hub, account=account, start_block=self.deployment.block
        )

    def url_of(self, name: str) -> str:
        """The base URL of a service."""
        return self.urls.get(name) or f"http://127.0.0.1:{self.ports[name]}"

    # -- services -------------------------------------------------------------------------

    wait: bool = True

    def _service(self, name: str, module: str, env: dict[str, str], health: str | None) -> ServiceProcess:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        service = ServiceProcess(module, env, health_url=health, log=log)
        self.services[name] = service
        return service.start(wait=self.wait)

    def start_store(self) -> ServiceProcess:
        """The blob store."""
        env = {
            "SEALRUN_STORE_ROOT": str(self.root / "store"),
            "SEALRUN_STORE_PORT": str(self.ports["store"]),
            "SEALRUN_STORE_UPLOAD_TOKEN_KEY": self.upload_key,
            "SEALRUN_STORE_CHAIN_ID": str(self.deployment.chain_id),
            "SEALRUN_STORE_HUB": self.deployment.hub,
        }
        return self._service("store", "sealrun.services.store", env, self.url_of("store") + "/v1/status")

    def start_sms(self, *, extra: dict[str, str] | None = None, name: str = "sms") -> ServiceProcess:
        """The SMS (devnet mode, simulated evidence accepted); ``extra`` settings on top.

        ``name`` tells replicas apart (each its own port and log; they share the data folder).
        """
        port = self.ports.setdefault(name, free_port())
        env = {
            "SEALRUN_SMS_MODE": "embedded-devnet",
            "SEALRUN_SMS_DATA_DIR": str(self.root / "sms"),
            "SEALRUN_SMS_PORT": str(port),
            "SEALRUN_SMS_CHAIN_RPC_URL": self.url,
            "SEALRUN_SMS_CHAIN_ID": str(self.deployment.chain_id),
            "SEALRUN_SMS_HUB": self.deployment.hub,
            "SEALRUN_SMS_ALLOW_SIMULATED_EVIDENCE": "true",
            "SEALRUN_SMS_SIMULATOR_PUBLIC_KEY_FILE": str(self.root / "keys" / "simulator.pub.pem"),
            "SEALRUN_SMS_RESULT_UPLOAD_URL": self.url_of("store") + "/v1/blobs",
            "SEALRUN_SMS_UPLOAD_TOKEN_KEY": self.upload_key,
            **(extra or {}),
        }
        return self._service(name, "sealrun.services.sms", env, self.url_of(name) + "/openapi.json")

    def start_market(self, *, extra: dict[str, str] | None = None, name: str = "market") -> ServiceProcess:
        """The order book; ``extra`` settings on top, ``name`` tells replicas apart."""
        port = self.ports.setdefault(name, free_port())
        env = {
            "SEALRUN_MARKET_DATABASE_URL": f"sqlite:///{self.root / 'market.db'}",
            "SEALRUN_MARKET_RPC_URL": self.url,
            "SEALRUN_MARKET_HUB": self.deployment.hub,
            "SEALRUN_MARKET_START_BLOCK": str(self.deployment.block),
            "SEALRUN_MARKET_POLL_INTERVAL": "0.3",
            "SEALRUN_MARKET_PORT": str(port),
            **(extra or {}),
        }
        return self._service(name, "sealrun.services.market", env, self.url_of(name) + "/v1/status")

    def start_scheduler(
        self,
        *,
        price: int = 20,
        worker_timeout: float = 4.0,
        extra: dict[str, str] | None = None,
        name: str = "scheduler",
    ) -> ServiceProcess:
        """The pool's scheduler (publishes the pool's order on the market); ``extra`` settings on top.

        ``name`` tells replicas apart (each its own port and log).
        """
        port = self.ports.setdefault(name, free_port())
        env = {
            "SEALRUN_SCHEDULER_WORKERPOOL": self.workerpool,
            "SEALRUN_SCHEDULER_OWNER_KEY": "0x" + self.owner.key.hex(),
            "SEALRUN_SCHEDULER_DATABASE_URL": f"sqlite:///{self.root / 'scheduler.db'}",
            "SEALRUN_SCHEDULER_RPC_URL": self.url,
            "SEALRUN_SCHEDULER_HUB": self.deployment.hub,
            "SEALRUN_SCHEDULER_START_BLOCK": str(self.deployment.block),
            "SEALRUN_SCHEDULER_SMS_URL": self.url_of("sms"),
            "SEALRUN_SCHEDULER_MARKET_URL": self.url_of("market"),
            "SEALRUN_SCHEDULER_ORDER_PRICE": str(price),
            "SEALRUN_SCHEDULER_ORDER_VOLUME": "1000",
            "SEALRUN_SCHEDULER_ORDER_CATEGORY": "0",
            "SEALRUN_SCHEDULER_POLL_INTERVAL": "0.3",
            "SEALRUN_SCHEDULER_SWEEP_INTERVAL": "0.5",
            "SEALRUN_SCHEDULER_WORKER_TIMEOUT": str(worker_timeout),
            # A closed pool: the scheduler starts only with the list of its workers.
            "SEALRUN_SCHEDULER_ALLOWED_WORKERS": json.dumps([worker.address for worker in self.workers]),
            "SEALRUN_SCHEDULER_PORT": str(port),
            **(extra or {}),
        }
        # /healthz: a standby is alive but refuses the worker routes (/v1/status among them).
        return self._service(name, "sealrun.services.scheduler", env, self.url_of(name) + "/healthz")

    def start_worker(
        self, number: int, *, slots: int = 1, isolation: str = "strict", extra: dict[str, str] | None = None
    ) -> ServiceProcess:
        """Worker ``number`` (its key is ``workers[number]``; its status API on a free port)."""
        work = self.root / "workers" / f"worker-{number}"
        work.mkdir(parents=True, exist_ok=True)
        port = self.ports.setdefault(f"worker-{number}", free_port())
        env = {
            "SEALRUN_WORKER_KEY": "0x" + self.workers[number].key.hex(),
            "SEALRUN_WORKER_WORK_DIR": str(work),
            "SEALRUN_WORKER_RPC_URL": self.url,
            "SEALRUN_WORKER_HUB": self.deployment.hub,
            "SEALRUN_WORKER_SCHEDULER_URL": self.url_of("scheduler"),
            "SEALRUN_WORKER_SMS_URL": self.url_of("sms"),
            "SEALRUN_WORKER_TEE": "simulated",
            "SEALRUN_WORKER_SIMULATOR_KEY_FILE": str(self.root / "keys" / "simulator.pem"),
            "SEALRUN_WORKER_SLOTS": str(slots),
            "SEALRUN_WORKER_ISOLATION": isolation,
            "SEALRUN_WORKER_POLL_WAIT": "5",
            "SEALRUN_WORKER_PORT": str(port),
            **(extra or {}),
        }
        return self._service(
            f"worker-{number}", "sealrun.services.worker", env, f"http://127.0.0.1:{port}/v1/status"
        )

    @property
    def upload_key(self) -> str:
        """The SMS↔store upload-token key."""
        return (self.root / "keys" / "upload-token.key").read_text().strip()

    # -- chain helpers --------------------------------------------------------------------

    def wait_tasks(self, deal_id: bytes, volume: int, *, timeout: float) -> list[HubTaskStatus]:
        """Wait until every task of a deal is settled on chain (or ``timeout``); returns statuses."""
        hub = self.market_of(None).hub
        deadline = time.monotonic() + timeout
        while True:
            statuses = [hub.task_status(deal_id, index) for index in range(volume)]
            if all(s != HubTaskStatus.ACTIVE for s in statuses) or time.monotonic() > deadline:
                return statuses
            time.sleep(0.5)

    def close(self) -> None:
        """Stop every service, then the chain, and remove the folder."""
        for service in reversed(list(self.services.values())):
            service.stop()
        for stop in reversed(self.stoppers):
            stop()
        shutil.rmtree(self.root, ignore_errors=True)


def build_world(
    *, workers: int, chain: str = "embedded", stake_ratio: int = 0, rpc_url: str | None = None
) -> PoolWorld:
    """Start a chain, deploy, register the app and the pool, fund everyone (no services yet).

    Args:
        workers: how many worker accounts to create.
        chain: ``embedded`` (py-evm served from this process) or ``anvil``.
        stake_ratio: the pool's worker-stake ratio (percent of the price locked per task).
        rpc_url: a node already running (its first account unlocked) instead of a new chain.
    """
    # Under /tmp and traversable: the sandbox user must reach the task folders.
    root = Path(tempfile.mkdtemp(prefix="sealrun-pool-", dir="/tmp"))
    root.chmod(0o711)
    stoppers: list[Callable[[], None]] = []
    if rpc_url is not None:
        url = rpc_url
    elif chain == "embedded":
        server = ChainServer(EmbeddedChain(), port=0).start()
        url = server.url
        stoppers.append(server.stop)
    else:
        node = AnvilNode(find_anvil()).start()
        url = node.url
        stoppers.append(node.stop)
    rpc = Rpc.connect(url, reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=rpc.w3.eth.accounts[0])
    deployment = deploy_marketplace(deployer)
    developer, requester, owner = Account.create(), Account.create(), Account.create()
    worker_accounts = [Account.create() for _ in range(workers)]
    everyone = [developer, requester, owner, *worker_accounts]
    fund_accounts(deployer, deployment.token, [a.address for a in everyone], ether=10**19, tokens=10**12)
    keys = root / "keys"
    keys.mkdir()
    simulator = SimulatorKey.generate()
    (keys / "simulator.pem").write_bytes(simulator.to_pem())
    (keys / "simulator.pub.pem").write_bytes(simulator.public_key.to_pem())
    (keys / "upload-token.key").write_text(secrets.token_hex(32))
    for path in keys.iterdir():
        path.chmod(0o600)
    # A private copy: an edit of the example while a pool runs must not change its measurement.
    app_folder = root / "app"
    shutil.copytree(APP_BUNDLE, app_folder)
    app_folder.chmod(0o755)
    bundle = load_bundle(app_folder)
    dev = Marketplace(rpc, hub=deployment.hub, account=developer, start_block=deployment.block)
    app = dev.registry.create_app(
        name="iexec-python", bundle_uri=app_folder.resolve().as_uri(), checksum=bundle.fingerprint,
        fingerprint=bundle.fingerprint, tee_technology=(1 << 1).to_bytes(32, "big"),
    )  # fmt: skip
    pool_owner = Marketplace(rpc, hub=deployment.hub, account=owner, start_block=deployment.block)
    pool = pool_owner.registry.create_workerpool(
        description="test pool", worker_stake_ratio=stake_ratio, scheduler_reward_ratio=10
    )
    pool_owner.deposit(10**9)
    Marketplace(rpc, hub=deployment.hub, account=requester, start_block=deployment.block).deposit(10**9)
    ports = {name: free_port() for name in ("store", "sms", "market", "scheduler")}
    return PoolWorld(
        root=root, url=url, rpc=rpc, deployment=deployment, deployer=deployer, developer=developer,
        requester=requester, owner=owner, workers=worker_accounts, app=app.address, workerpool=pool.address,
        ports=ports, stoppers=stoppers,
    )  # fmt: skip


def start_services(world: PoolWorld, *, workers: int, slots: int = 1, market: bool = True) -> None:
    """Start the store, SMS, market, scheduler and ``workers`` workers, all at once, then wait."""
    world.wait = False
    try:
        world.start_store()
        world.start_sms()
        if market:
            world.start_market()
        world.start_scheduler()
        for number in range(workers):
            world.start_worker(number, slots=slots)
    finally:
        world.wait = True
    for service in world.services.values():
        service.wait_healthy()


def describe(world: PoolWorld) -> dict[str, Any]:
    """A short description (for failure messages)."""
    return {"root": str(world.root), "url": world.url, "hub": world.deployment.hub, "ports": world.ports}
