"""``devnet up`` and ``devnet down``: a whole local marketplace on one machine.

:func:`up` starts, in order: the chain (the embedded py-evm chain served by
``sealrun chain serve``, or anvil), deploys the marketplace from the node's first unlocked
account, funds the project's wallets and the devnet's own accounts, registers a workerpool
owned by a fresh pool-owner key, then starts the store, the SMS, the market, the scheduler
and N workers as ``python -m sealrun.services.<name>`` processes with their settings in the
environment. Each process runs in its own process group and is health-checked before the
next starts; the state file is written last, so a devnet without one never finished
starting. On any failure everything already started is stopped again.

The devnet's secrets (the simulator key of the simulated TEE, the SMS↔store upload-token key,
the pool owner's and workers' keys) are generated into ``<state dir>/keys`` (mode 0600) and
handed to each service as files of its own 0700 secrets folder
(``<state dir>/secrets/<service>``), never as variables. The state tree is 0700 and every
process runs with umask 077, so its databases and logs are 0600: a task's uid, an app or
another local user reads none of it. The processes inherit only ``PATH``, the locale and how
to find Python of the caller's environment.

Error codes: ``DEVNET_ALREADY_RUNNING`` (:class:`~sealrun.errors.ConfigError`),
``DEVNET_START_FAILED`` (:class:`~sealrun.errors.ServiceError`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.anvil import find_anvil, free_port
from sealrun.adapters.profiles import default_config
from sealrun.core.attestation import SimulatorKey
from sealrun.devnet.processes import group_alive, spawn, stop_all, wait_healthy
from sealrun.devnet.services import ServicePlan, plan_services
from sealrun.devnet.state import ChainKind, DevnetState, ProcessRecord
from sealrun.errors import ChainError, ConfigError

__all__ = ["DevnetOptions", "down", "up"]

ETHER = 100 * 10**18
TOKENS = 10**15
POOL_STAKE = 10**13
POOL_DESCRIPTION = "sealrun devnet pool"
# What a devnet process inherits of the caller's environment: where to find programs, Python
# and its packages, and the locale. Nothing else: the caller's shell may hold a wallet
# password, tokens or keys, and the services (and, through them, the tasks) have no use for them.
_INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@dataclass(frozen=True)
class DevnetOptions:
    """What to start.

    Attributes:
        state_dir: where the state file, keys, data and logs go.
        chain: ``embedded`` (py-evm, default) or ``anvil``.
        workers: how many worker processes.
        fund: accounts to fund besides the devnet's own (the CLI passes the project's wallets).
        start_timeout: seconds each process may take to become healthy.
    """

    state_dir: Path
    chain: ChainKind = "embedded"
    workers: int = 1
    fund: Sequence[str] = ()
    start_timeout: float = 90.0
    python: str = field(default=sys.executable)


def _write_secret(path: Path, data: bytes) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.with_suffix(".tmp").replace(path)
    return path


def _rpc_ready(url: str) -> Callable[[ProcessRecord], bool]:
    def check(_record: ProcessRecord) -> bool:
        try:
            answer = httpx.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2
            )
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and "result" in answer.json()

    return check


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _INHERITED}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _write_secrets(folder: Path, secrets_of: Mapping[str, str]) -> Path:
    """One 0600 file per secret setting in the 0700 ``folder`` (see :mod:`sealrun.adapters.secretfiles`)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for name, value in secrets_of.items():
        _write_secret(folder / name, value.encode())
    return folder


def _start_chain(options: DevnetOptions, logs: Path) -> tuple[ProcessRecord, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if options.chain == "anvil":
        binary = find_anvil(explicit=os.environ.get("SEALRUN_ANVIL"))
        argv = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent"]
    else:
        # `sealrun chain serve` on a private config: the devnet's chain is the CLI's embedded chain.
        config = default_config(
            options.state_dir / "chain.toml", embedded_url=url, anvil_url="http://127.0.0.1:8546"
        )
        config.save()
        argv = [options.python, "-m", "sealrun.cli", "chain", "serve", "--config", str(config.path)]
    record = spawn("chain", argv, env=_base_env(), log=logs / "chain.log", cwd=options.state_dir, url=None)
    wait_healthy(record, timeout=options.start_timeout, check=_rpc_ready(url))
    return record, url


def _register_pool(url: str, hub: str, block: int, owner: LocalAccount, index: Path) -> str:
    market = Marketplace.connect(url, hub=hub, account=owner, index=index, start_block=block)
    pool = market.registry.create_workerpool(
        description=POOL_DESCRIPTION, worker_stake_ratio=30, scheduler_reward_ratio=10
    )
    market.deposit(POOL_STAKE)
    return pool.address


def _start_services(
    plans: Sequence[ServicePlan], options: DevnetOptions, logs: Path, started: list[ProcessRecord]
) -> None:
    """Start the plans in waves (store+SMS+market, then the scheduler, then the workers).

    The processes of one wave start together and are health-checked together: Python start-up
    dominates on a loaded machine, so this is several times faster than one after the other.
    """
    waves: dict[int, list[ServicePlan]] = {}
    for plan in plans:
        waves.setdefault(plan.wave, []).append(plan)
    for wave in sorted(waves):
        records = []
        for plan in waves[wave]:
            env = {**_base_env(), **plan.env}
            if plan.secrets:
                folder = _write_secrets(options.state_dir / "secrets" / plan.name, plan.secrets)
                env[plan.secrets_prefix + "SECRETS_DIR"] = str(folder)
            argv = [options.python, "-m", plan.module, *plan.args]
            log = logs / f"{plan.name}.log"
            record = spawn(plan.name, argv, env=env, log=log, cwd=options.state_dir, url=plan.url)
            started.append(record)
            records.append(record)
        for record in records:
            wait_healthy(record, timeout=options.start_timeout)


def up(options: DevnetOptions, *, progress: Callable[[str], None] = lambda _m: None) -> DevnetState:
    """Start a devnet and write its state file.

    Raises:
        ConfigError: ``DEVNET_ALREADY_RUNNING`` if a devnet of this state dir still runs.
        ServiceError: ``DEVNET_START_FAILED``; ChainError: the deployment failed.
    """
    root = options.state_dir.resolve()
    options = replace(options, state_dir=root)
    if (root / "state.json").is_file():
        previous = DevnetState.load(root)
        if any(group_alive(p) for p in previous.processes):
            raise ConfigError(
                f"a devnet already runs from {root}: `sealrun devnet down` first",
                code="DEVNET_ALREADY_RUNNING",
            )
    for stale in (
        "state.json",
        "store",
        "sms",
        "market.db",
        "scheduler",
        "workers",
        "logs",
        "pool-index.sqlite",
        "index.sqlite",
        "secrets",
    ):
        target = root / stale
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    # Keys, databases, logs and the SMS's data live here: the devnet's user's alone.
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    logs = root / "logs"
    started: list[ProcessRecord] = []
    begun = time.time()
    try:
        progress(f"starting the {options.chain} chain")
        chain_record, url = _start_chain(options, logs)
        started.append(chain_record)
        rpc = Rpc.connect(url, reverts=revert_table())
        node_accounts = rpc.run("list the node's accounts", lambda: list(rpc.w3.eth.accounts))
        if not node_accounts:
            raise ChainError(f"the node at {url} has no unlocked account", code="CHAIN_NO_SENDER")
        deployer = TransactionSender(rpc, None, node_account=str(node_accounts[0]))
        progress("deploying the marketplace contracts")
        deployment = deploy_marketplace(deployer)
        keys = root / "keys"
        pool_owner: LocalAccount = Account.create()
        workers: list[LocalAccount] = [Account.create() for _ in range(options.workers)]
        _write_secret(keys / "pool-owner.key", pool_owner.key.hex().encode())
        for number, worker in enumerate(workers, start=1):
            _write_secret(keys / f"worker-{number}.key", worker.key.hex().encode())
        simulator = SimulatorKey.generate()
        _write_secret(keys / "simulator.pem", simulator.to_pem())
        _write_secret(keys / "simulator.pub.pem", simulator.public_key.to_pem())
        _write_secret(keys / "upload-token.key", secrets.token_hex(32).encode())
        accounts = [pool_owner.address, *(w.address for w in workers), *options.fund]
        progress(f"funding {len(accounts)} accounts")
        fund_accounts(deployer, deployment.token, accounts, ether=ETHER, tokens=TOKENS)
        progress("registering the devnet workerpool")
        workerpool = _register_pool(
            url, deployment.hub, deployment.block, pool_owner, root / "pool-index.sqlite"
        )
        state = DevnetState(
            root=root,
            chain=options.chain,
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
        plans = plan_services(state, workers=options.workers)
        progress("starting " + ", ".join(p.name for p in plans))
        _start_services(plans, options, logs, started)
        state = replace(
            state,
            services={p.name: p.url for p in plans if p.url is not None},
            processes=tuple(started),
        )
        state.save()
        return state
    except BaseException:
        stop_all(started)
        raise


def down(state: DevnetState, *, remove: bool = True) -> dict[str, object]:
    """Stop every process group the devnet started and remove its state file.

    Returns:
        ``{"stopped": [...names], "killed": [...names that needed SIGKILL], "left": [...]}``
        where ``left`` lists groups still alive (always empty unless the kernel refused).
    """
    killed = stop_all(state.processes)
    left = [p.name for p in state.processes if group_alive(p)]
    if remove and not left:
        state.path.unlink(missing_ok=True)
    return {"stopped": [p.name for p in state.processes], "killed": killed, "left": left}
