"""``devnet up`` and ``devnet down``: a whole local marketplace on one machine.

:func:`up` starts, in order: the chain (the embedded py-evm chain served by
``sealrun chain serve``, or anvil), deploys the marketplace from the node's first unlocked
account, funds the project's wallets and the devnet's own accounts, registers a workerpool
owned by a fresh pool-owner key, then starts the store, the SMS, the market, the scheduler
and N workers as ``python -m sealrun.services.<name>`` processes with their settings in the
environment. Each process runs in its own process group and is health-checked before the
next starts; the state file is written last, so a devnet without one never finished
starting. On any failure everything already started is stopped again.

The devnet is durable. The embedded chain journals every state change
(``<state dir>/chain/journal.jsonl``, see :mod:`sealrun.adapters.localchain.journal`) and anvil
keeps its state file (``<state dir>/chain/anvil-state.json``, dumped every second and on exit);
``down`` keeps everything and renames the state file ``stopped.json``. The next :func:`up` on
the same state dir *resumes*: the same chain (replayed), hub, keys, accounts, workerpool and
ports (datasets registered on chain name the store's URL), the services on their data.
:func:`reset` is the one way to start from nothing. A supervisor process
(:mod:`sealrun.devnet.supervisor`) restarts a process that dies.

The devnet's secrets (the simulator key of the simulated TEE, the SMS↔store upload-token key,
the pool owner's and workers' keys) are generated into ``<state dir>/keys`` (mode 0600) and
handed to each service as files of its own 0700 secrets folder
(``<state dir>/secrets/<service>``), never as variables. The state tree is 0700 and every
process runs with umask 077, so its databases and logs are 0600: a task's uid, an app or
another local user reads none of it. The processes inherit only ``PATH``, the locale and how
to find Python of the caller's environment.

Error codes: ``DEVNET_ALREADY_RUNNING``, ``DEVNET_RESUME_CONFLICT`` (``--chain`` or
``--workers`` differ from the devnet being resumed), ``DEVNET_STATE_LOST`` (the resumed chain
has no marketplace: its journal or state file is gone) (:class:`~sealrun.errors.ConfigError`),
``DEVNET_START_FAILED`` (:class:`~sealrun.errors.ServiceError`).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from sealrun.adapters.localchain.anvil import find_anvil, free_port
from sealrun.adapters.profiles import default_config
from sealrun.devnet.processes import group_alive, spawn, stop_all, wait_healthy
from sealrun.devnet.services import SERVICE_MODULES, ServicePlan, plan_services
from sealrun.devnet.state import STATE_FILE, STOPPED_FILE, ChainKind, DevnetState, ProcessRecord, write_secret
from sealrun.devnet.supervisor import SUPERVISOR
from sealrun.devnet.zygote import Zygote
from sealrun.errors import ConfigError

__all__ = ["DevnetOptions", "down", "reset", "up"]

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
    # How the services log (json or text, and the level): see docs/operate.md.
    "SEALRUN_LOG_FORMAT",
    "SEALRUN_LOG_LEVEL",
    # The workers' isolation mode, strict or session (docs/decisions/0080-isolation-modes.md).
    "SEALRUN_WORKER_ISOLATION",
)


@dataclass(frozen=True)
class DevnetOptions:
    """What to start.

    Attributes:
        state_dir: where the state file, keys, data and logs go.
        chain: ``embedded`` (py-evm) or ``anvil``; ``None``: the resumed devnet's, else embedded.
        workers: how many worker processes; ``None``: the resumed devnet's, else 1.
        fund: accounts to fund besides the devnet's own (the CLI passes the project's wallets).
        start_timeout: seconds each process may take to become healthy.
    """

    state_dir: Path
    chain: ChainKind | None = None
    workers: int | None = None
    fund: Sequence[str] = ()
    start_timeout: float = 90.0
    python: str = field(default=sys.executable)


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
        write_secret(folder / name, value.encode())
    return folder


def _spawn_chain(
    options: DevnetOptions, kind: ChainKind, logs: Path, port: int
) -> tuple[ProcessRecord, str, float]:
    """Start the chain process; returns its record, URL and how long it may take to answer."""
    url = f"http://127.0.0.1:{port}"
    chain_dir = options.state_dir / "chain"
    chain_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if kind == "anvil":
        binary = find_anvil(explicit=os.environ.get("SEALRUN_ANVIL"))
        argv = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent"]
        # Loaded at start if present, dumped every second and on exit: a kill -9 loses at most
        # the last second (anvil has no journal).
        argv += ["--state", str(chain_dir / "anvil-state.json"), "--state-interval", "1"]
    else:
        # `sealrun chain serve` on a private config: the devnet's chain is the CLI's embedded chain.
        config = default_config(
            options.state_dir / "chain.toml", embedded_url=url, anvil_url="http://127.0.0.1:8546"
        )
        config.save()
        argv = [options.python, "-m", "sealrun.cli", "chain", "serve", "--config", str(config.path)]
        argv += ["--journal", str(chain_dir / "journal.jsonl")]
    record = spawn("chain", argv, env=_base_env(), log=logs / "chain.log", cwd=options.state_dir, url=None)
    # A resumed embedded chain replays its journal first (~50 ms a record on a loaded 2-core
    # machine, benchmarks/devnet_restart.py): give it that time on top.
    journal = chain_dir / "journal.jsonl"
    replay = 0.2 * journal.read_bytes().count(b"\n") if kind == "embedded" and journal.is_file() else 0.0
    return record, url, options.start_timeout + replay


def _spawn_plan(plan: ServicePlan, options: DevnetOptions, logs: Path, zygote: Zygote) -> ProcessRecord:
    """Fork ``plan`` from the zygote (its modules are loaded there), else start it by exec."""
    env = {**_base_env(), **plan.env}
    if plan.secrets:
        folder = _write_secrets(options.state_dir / "secrets" / plan.name, plan.secrets)
        env[plan.secrets_prefix + "SECRETS_DIR"] = str(folder)
    log = logs / f"{plan.name}.log"
    record = zygote.spawn(
        plan.name, plan.module, plan.args, env=env, log=log, cwd=options.state_dir, url=plan.url
    )
    if record is None:  # the zygote failed to start or refused: an ordinary exec
        argv = [options.python, "-m", plan.module, *plan.args]
        record = spawn(plan.name, argv, env=env, log=log, cwd=options.state_dir, url=plan.url)
    return record


def _start_services(
    plans: Sequence[ServicePlan],
    options: DevnetOptions,
    logs: Path,
    started: list[ProcessRecord],
    zygote: Zygote,
) -> None:
    """Start the plans in waves (store+SMS+market, then the scheduler, then the workers).

    Each process is forked from the ``zygote``, which has already imported every service's
    modules (else started by exec). The processes of one wave start together and are
    health-checked together.
    """
    waves: dict[int, list[ServicePlan]] = {}
    for plan in plans:
        waves.setdefault(plan.wave, []).append(plan)
    for wave in sorted(waves):
        records = []
        for plan in waves[wave]:
            record = _spawn_plan(plan, options, logs, zygote)
            started.append(record)
            records.append(record)
        for record in records:
            wait_healthy(record, timeout=options.start_timeout)


# What a fresh devnet starts without: a failed first start's leftovers (the keys are rewritten).
_STALE = (
    STATE_FILE,
    STOPPED_FILE,
    "chain",
    "chain.toml",
    "store",
    "sms",
    "market.db",
    "scheduler",
    "workers",
    "logs",
    "pool-index.sqlite",
    "index.sqlite",
    "secrets",
)


def _previous(root: Path) -> DevnetState | None:
    """The devnet to resume: a stopped one, or one whose processes all died (a reboot)."""
    for name in (STATE_FILE, STOPPED_FILE):
        if (root / name).is_file():
            previous = DevnetState.load(root, name=name)
            if any(group_alive(p) for p in previous.processes):
                raise ConfigError(
                    f"a devnet already runs from {root}: `sealrun devnet down` first",
                    code="DEVNET_ALREADY_RUNNING",
                )
            return previous
    return None


def _port(url: str | None) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0]) if url else free_port()


def _check_resumable(previous: DevnetState, options: DevnetOptions) -> None:
    workers = len(previous.workers)
    if options.chain not in (None, previous.chain) or options.workers not in (None, workers):
        raise ConfigError(
            f"the devnet in {previous.root} runs a {previous.chain} chain with {workers} worker(s); "
            "resume it as it is (drop --chain/--workers), or start from nothing with `sealrun devnet reset`",
            code="DEVNET_RESUME_CONFLICT",
        )


def up(options: DevnetOptions, *, progress: Callable[[str], None] = lambda _m: None) -> DevnetState:
    """Start a devnet, or resume the one of this state dir, and write its state file.

    Raises:
        ConfigError: ``DEVNET_ALREADY_RUNNING`` if a devnet of this state dir still runs,
            ``DEVNET_RESUME_CONFLICT``, ``DEVNET_STATE_LOST``.
        ServiceError: ``DEVNET_START_FAILED``; ChainError: the deployment failed.
    """
    root = options.state_dir.resolve()
    options = replace(options, state_dir=root)
    previous = _previous(root)
    if previous is not None:
        _check_resumable(previous, options)
    else:
        for stale in _STALE:
            target = root / stale
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    # Keys, databases, logs and the SMS's data live here: the devnet's user's alone.
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    logs = root / "logs"
    kind: ChainKind = previous.chain if previous else options.chain or "embedded"
    started: list[ProcessRecord] = []
    begun = time.time()
    zygote: Zygote | None = None
    try:
        verb = "resuming" if previous else "starting"
        progress(f"{verb} the {kind} chain")
        chain_record, url, chain_timeout = _spawn_chain(
            options, kind, logs, _port(previous.rpc_url if previous else None)
        )
        started.append(chain_record)
        # While the chain boots: the zygote imports the services' modules, and this process
        # the deployment's (web3, eth-account).
        zygote = Zygote(options.python, root, SERVICE_MODULES, env=_base_env(), log=logs / "zygote.log")
        from sealrun.devnet.deployment import deploy_fresh, node_sender, resume_chain

        wait_healthy(chain_record, timeout=chain_timeout, check=_rpc_ready(url))
        deployer = node_sender(url)
        if previous is None:
            progress("deploying the marketplace, funding accounts, registering the devnet workerpool")
            count = options.workers or 1
            state = deploy_fresh(
                root, kind, url, deployer, worker_count=count, fund=options.fund, begun=begun
            )
            ports = None
        else:
            progress("checking the resumed chain")
            resume_chain(previous, deployer, options.fund)
            state = replace(previous, rpc_url=url, services={}, processes=(), started_at=begun)
            ports = {name: _port(service) for name, service in previous.services.items()}
        plans = plan_services(state, workers=len(state.workers), ports=ports)
        progress("starting " + ", ".join(p.name for p in plans))
        _start_services(plans, options, logs, started, zygote)
        argv = [options.python, "-m", "sealrun.devnet.supervisor", str(root)]
        started.append(spawn(SUPERVISOR, argv, env=_base_env(), log=logs / f"{SUPERVISOR}.log", cwd=root))
        state = replace(
            state,
            services={p.name: p.url for p in plans if p.url is not None},
            processes=tuple(started),
        )
        state.save()
        (root / STOPPED_FILE).unlink(missing_ok=True)
        return state
    except BaseException:
        stop_all(started)
        raise
    finally:
        if zygote is not None:
            zygote.close()


def down(state: DevnetState, *, remove: bool = True) -> dict[str, object]:
    """Stop every process group the devnet started; keep its data to resume from.

    The supervisor is stopped first, so it restarts nothing that is being stopped; the state
    file is read again after it (the supervisor may have restarted a process since ``state``
    was read), then renamed ``stopped.json`` (with ``remove``).

    Returns:
        ``{"stopped": [...names], "killed": [...names that needed SIGKILL], "left": [...]}``
        where ``left`` lists groups still alive (always empty unless the kernel refused).
    """
    supervisor = state.record(SUPERVISOR)
    killed = stop_all([supervisor]) if supervisor is not None else []
    if state.path.is_file():
        state = DevnetState.load(state.root)
    others = [p for p in state.processes if p.name != SUPERVISOR]
    killed += stop_all(others)
    left = [p.name for p in state.processes if group_alive(p)]
    if remove and not left:
        state.path.replace(state.root / STOPPED_FILE)
    return {"stopped": [p.name for p in state.processes], "killed": killed, "left": left}


def reset(root: Path) -> dict[str, object]:
    """Stop the devnet of ``root`` if it runs, then delete its whole state dir.

    Everything goes: the chain, the keys, the services' data. The next :func:`up` starts a
    new devnet. Returns ``{"removed": path, "stopped": [...names]}``.
    """
    root = root.resolve()
    stopped: list[str] = []
    if (root / STATE_FILE).is_file():
        try:
            state = DevnetState.load(root)
        except ConfigError:
            state = None
        if state is not None:
            down(state, remove=False)
            stopped = [p.name for p in state.processes]
    if root.exists():
        shutil.rmtree(root)
    return {"removed": str(root), "stopped": stopped}
