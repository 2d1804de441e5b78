"""The pool on the rig: the marketplace deployed on the chain host, the services on the core
host with TLS and their state on the db host, one worker per worker host; deals, faults and
the report.

The world (accounts, app, workerpool, keys) is the pool tests' (:func:`tests.pool.world.build_world`)
on the chain host's anvil; the deal is filled through the market as a requester would
(:func:`tests.pool.deals.fill_deal`), over TLS.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from web3.types import FilterParams, LogReceipt

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.localchain.anvil import find_anvil
from sealrun.adapters.tls import client_verify
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity
from tests.multihost import rig as rigs
from tests.multihost.rig import PORTS, Rig, address, wait_until
from tests.pool.deals import APP_PRICE, POOL_PRICE, fill_deal
from tests.pool.world import PoolWorld, build_world

# What the processes inherit of the driver's environment (never a wallet password or a token).
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH")
WORKER_TIMEOUT = 10.0
FINAL = ("completed", "failed")


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _INHERITED}
    return {**env, "PYTHONUNBUFFERED": "1", "SEALRUN_LOG_FORMAT": "text", **settings}


def url(service: str, host: str = "core") -> str:
    """The https base URL of a service on its host."""
    return f"https://{address(host)}:{PORTS[service]}"


@dataclass
class Pool:
    """The rig, the world on it, and how to reach the services."""

    rig: Rig
    world: PoolWorld
    slots: int
    domain: RequestDomain = field(init=False)

    def __post_init__(self) -> None:
        self.domain = RequestDomain(chain_id=self.world.deployment.chain_id, hub=self.world.deployment.hub)

    def healthy(self, base: str) -> bool:
        answer = httpx.get(base + "/healthz", verify=client_verify(self.rig.ca), timeout=3)
        return answer.status_code == 200

    def wait_healthy(self, names: list[str], *, timeout: float = 180) -> None:
        for name in names:
            base = url("worker", name) if name.startswith("worker-") else url(name)
            proc = self.rig.procs[name]
            wait_until(
                lambda base=base: self.healthy(base), timeout=timeout, what=f"{name} healthy ({proc.log})"
            )

    # -- services ---------------------------------------------------------------------------

    def _tls(self, prefix: str, host: str) -> dict[str, str]:
        tls = self.rig.root / "tls"
        return {
            f"{prefix}TLS_CERT_FILE": str(tls / f"{host}.crt"),
            f"{prefix}TLS_KEY_FILE": str(tls / f"{host}.key"),
            f"{prefix}TLS_CA_FILE": str(self.rig.ca),
        }

    def start_core(self) -> None:
        """Store, SMS, market and scheduler on the core host, TLS on, state on the db host."""
        world, rig, core = self.world, self.rig, address("core")
        chain = world.url
        keys = world.root / "keys"
        deployment = world.deployment
        secrets = rig.root / "secrets"
        secrets.mkdir(mode=0o700, exist_ok=True)
        rig.spawn(
            "store",
            "core",
            [sys.executable, "-m", "sealrun.services.store"],
            _env(
                SEALRUN_STORE_ROOT=str(rig.root / "store"),
                SEALRUN_STORE_HOST=core,
                SEALRUN_STORE_PORT=str(PORTS["store"]),
                SEALRUN_STORE_UPLOAD_TOKEN_KEY=world.upload_key,
                SEALRUN_STORE_CHAIN_ID=str(deployment.chain_id),
                SEALRUN_STORE_HUB=deployment.hub,
                **self._tls("SEALRUN_STORE_", "core"),
            ),
        )
        rig.spawn(
            "sms",
            "core",
            [sys.executable, "-m", "sealrun.services.sms"],
            _env(
                SEALRUN_SMS_MODE="embedded-devnet",
                SEALRUN_SMS_DATA_DIR=str(rig.root / "sms"),
                SEALRUN_SMS_DATABASE_URL=rigs.database_url(rig, "sms"),
                SEALRUN_SMS_HOST=core,
                SEALRUN_SMS_PORT=str(PORTS["sms"]),
                SEALRUN_SMS_CHAIN_RPC_URL=chain,
                SEALRUN_SMS_CHAIN_ID=str(deployment.chain_id),
                SEALRUN_SMS_HUB=deployment.hub,
                SEALRUN_SMS_ALLOW_SIMULATED_EVIDENCE="true",
                SEALRUN_SMS_SIMULATOR_PUBLIC_KEY_FILE=str(keys / "simulator.pub.pem"),
                SEALRUN_SMS_RESULT_UPLOAD_URL=url("store") + "/v1/blobs",
                SEALRUN_SMS_UPLOAD_TOKEN_KEY=world.upload_key,
                **self._tls("SEALRUN_SMS_", "core"),
            ),
        )
        rig.spawn(
            "market",
            "core",
            [sys.executable, "-m", "sealrun.services.market"],
            _env(
                SEALRUN_MARKET_DATABASE_URL=rigs.database_url(rig, "market"),
                SEALRUN_MARKET_RPC_URL=chain,
                SEALRUN_MARKET_HUB=deployment.hub,
                SEALRUN_MARKET_START_BLOCK=str(deployment.block),
                SEALRUN_MARKET_POLL_INTERVAL="0.3",
                SEALRUN_MARKET_HOST=core,
                SEALRUN_MARKET_PORT=str(PORTS["market"]),
                **self._tls("SEALRUN_MARKET_", "core"),
            ),
        )
        self.wait_healthy(["store", "sms", "market"])
        rig.spawn(
            "scheduler",
            "core",
            [sys.executable, "-m", "sealrun.services.scheduler"],
            _env(
                SEALRUN_SCHEDULER_WORKERPOOL=world.workerpool,
                SEALRUN_SCHEDULER_OWNER_KEY="0x" + world.owner.key.hex(),
                SEALRUN_SCHEDULER_DATABASE_URL=rigs.database_url(rig, "scheduler"),
                SEALRUN_SCHEDULER_RPC_URL=chain,
                SEALRUN_SCHEDULER_HUB=deployment.hub,
                SEALRUN_SCHEDULER_START_BLOCK=str(deployment.block),
                SEALRUN_SCHEDULER_SMS_URL=url("sms"),
                SEALRUN_SCHEDULER_MARKET_URL=url("market"),
                SEALRUN_SCHEDULER_ORDER_PRICE=str(POOL_PRICE),
                SEALRUN_SCHEDULER_ORDER_VOLUME="100000",
                SEALRUN_SCHEDULER_ORDER_CATEGORY="0",
                SEALRUN_SCHEDULER_POLL_INTERVAL="0.3",
                SEALRUN_SCHEDULER_SWEEP_INTERVAL="0.5",
                SEALRUN_SCHEDULER_WORKER_TIMEOUT=str(WORKER_TIMEOUT),
                SEALRUN_SCHEDULER_ALLOWED_WORKERS=json.dumps([w.address for w in world.workers]),
                SEALRUN_SCHEDULER_HOST=core,
                SEALRUN_SCHEDULER_PORT=str(PORTS["scheduler"]),
                **self._tls("SEALRUN_SCHEDULER_", "core"),
            ),
        )
        self.wait_healthy(["scheduler"])
        sms = SmsClient(url("sms"), domain=self.domain, ca_file=rig.ca)
        sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
        sms.close()

    def start_worker(self, host: str) -> None:
        """The worker of ``host`` (worker-a is ``world.workers[0]``, worker-b ``[1]``)."""
        number = 0 if host == "worker-a" else 1
        work = self.rig.root / "workers" / host
        work.mkdir(parents=True, exist_ok=True)
        self.rig.spawn(
            host,
            host,
            [sys.executable, "-m", "sealrun.services.worker"],
            _env(
                SEALRUN_WORKER_KEY="0x" + self.world.workers[number].key.hex(),
                SEALRUN_WORKER_WORK_DIR=str(work),
                SEALRUN_WORKER_RPC_URL=self.world.url,
                SEALRUN_WORKER_HUB=self.world.deployment.hub,
                SEALRUN_WORKER_SCHEDULER_URL=url("scheduler"),
                SEALRUN_WORKER_SMS_URL=url("sms"),
                SEALRUN_WORKER_TEE="simulated",
                SEALRUN_WORKER_SIMULATOR_KEY_FILE=str(self.world.root / "keys" / "simulator.pem"),
                SEALRUN_WORKER_SLOTS=str(self.slots),
                SEALRUN_WORKER_POLL_WAIT="5",
                SEALRUN_WORKER_HOST=address(host),
                SEALRUN_WORKER_PORT=str(PORTS["worker"]),
                **self._tls("SEALRUN_WORKER_", host),
            ),
        )

    def scheduler(self) -> SchedulerClient:
        return SchedulerClient(url("scheduler"), key=b"\x01" * 32, domain=self.domain, ca_file=self.rig.ca)


def start(*, slots: int) -> Pool:
    """Build the whole rig and start everything on it; record it for :func:`rigs.down`."""
    rigs.ROOT.mkdir(mode=0o711)
    ca = rigs.make_certificates(rigs.ROOT)
    rig = Rig(root=rigs.ROOT, ca=ca.cert_file)
    rig.save()
    rigs.make_network()
    anvil = [str(find_anvil()), "--host", address("chain"), "--port", str(PORTS["chain"]), "--silent"]
    rig.spawn("chain", "chain", anvil, {"PATH": os.environ.get("PATH", "")})
    chain_url = f"http://{address('chain')}:{PORTS['chain']}"
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    wait_until(
        lambda: httpx.post(chain_url, json=rpc, timeout=2).status_code == 200, timeout=60, what="anvil"
    )
    rigs.init_postgres(rig, ca)
    world = build_world(workers=2, chain="anvil", rpc_url=chain_url)
    rig.extra["world"] = str(world.root)
    rig.save()
    world.urls = {name: url(name) for name in ("store", "sms", "market", "scheduler")}
    world.ca_file = rig.ca
    pool = Pool(rig=rig, world=world, slots=slots)
    pool.start_core()
    for host in ("worker-a", "worker-b"):
        pool.start_worker(host)
    pool.wait_healthy(["worker-a", "worker-b"])
    return pool


# -- a deal, its faults, its report ---------------------------------------------------------


@dataclass
class Faults:
    """Injects the faults in order while a deal runs, each when enough of it is done."""

    pool: Pool
    progress: list[int]
    total: int
    log: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    _settled_at_start: int = 0

    def _after(self, fraction: float, *, timeout: float = 600) -> None:
        """Wait (bounded) until ``fraction`` of the deal is settled; note how much was."""
        deadline = time.monotonic() + timeout
        while self.progress[0] < fraction * self.total and time.monotonic() < deadline:
            time.sleep(0.2)
        self._settled_at_start = self.progress[0]

    def _record(self, fault: str, began: float, **details: Any) -> None:
        done = self._settled_at_start
        self.log.append(
            {
                "fault": fault,
                "seconds": round(time.monotonic() - began, 1),
                "settled_at_start": done,
                **details,
            }
        )
        print(f"multihost: {fault} done ({details})", file=sys.stderr, flush=True)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # reported, never swallowed: the run fails on it
            self.error = error

    def _run(self) -> None:
        rig = self.pool.rig
        self._after(0.05)
        began = time.monotonic()
        print("multihost: link of worker-a down for 30 s", file=sys.stderr, flush=True)
        rigs.set_link("worker-a", up=False)
        time.sleep(30)
        rigs.set_link("worker-a", up=True)
        self._record("link down worker-a 30 s", began)
        self._after(0.3)
        began = time.monotonic()
        print("multihost: kill -9 of every process of worker-b", file=sys.stderr, flush=True)
        killed = rig.kill_host("worker-b")
        time.sleep(WORKER_TIMEOUT + 5)  # powered off long enough to be declared lost
        self.pool.start_worker("worker-b")  # the host comes back with its journal
        self._record("kill host worker-b", began, processes_killed=len(killed))
        self._after(0.45)
        began = time.monotonic()
        print("multihost: restart of PostgreSQL", file=sys.stderr, flush=True)
        down_s = rigs.restart_postgres(rig)
        self._record("restart PostgreSQL", began, down_s=round(down_s, 1))
        self._after(0.6)
        began = time.monotonic()
        print("multihost: restart of the SMS", file=sys.stderr, flush=True)
        rig.kill("sms", timeout=20)
        rig.restart("sms")
        self.pool.wait_healthy(["sms"], timeout=120)
        self._record("restart SMS (kill -9, start)", began)


def _closing_events(pool: Pool, from_block: int) -> Counter[tuple[bytes, int]]:
    """How many closing events (completed, failed, claimed) each (deal, index) has on chain."""
    hub = pool.world.market_of(None).hub
    count: Counter[tuple[bytes, int]] = Counter()
    for name in ("TaskCompleted", "TaskFailed", "TaskClaimed"):
        event = hub.contract.events[name]()
        topic = "0x" + bytes.fromhex(str(event.topic).removeprefix("0x")).hex()
        params = cast(
            FilterParams,
            {"address": hub.address, "fromBlock": from_block, "toBlock": "latest", "topics": [topic]},
        )
        logs: list[LogReceipt] = hub.rpc.run(
            f"read {name}", functools.partial(hub.rpc.w3.eth.get_logs, params)
        )
        for log in logs:
            args = event.process_log(log)["args"]
            count[(bytes(args["dealid"]), int(args["index"]))] += 1
    return count


def run_deal(pool: Pool, tasks: int, *, faults: bool, timeout: float) -> dict[str, Any]:
    """Fill a deal of ``tasks`` tasks, inject the faults (if asked), wait, and report."""
    world = pool.world
    hub = world.market_of(None).hub
    accounts = [world.requester, world.developer, world.owner, *world.workers]
    before = {a.address: hub.balance(a.address) for a in accounts}
    block = world.rpc.w3.eth.block_number
    deal = fill_deal(world, volume=tasks)
    matched = time.monotonic()
    if deal.volume != tasks:  # the app order had less left than asked: the deal is smaller
        raise RuntimeError(f"the deal holds {deal.volume} tasks, not {tasks}")
    progress = [0]
    injector = Faults(pool, progress, tasks)
    thread = threading.Thread(target=injector.run, daemon=True)
    if faults:
        thread.start()
    deadline = matched + timeout
    statuses: list[HubTaskStatus] = []
    while time.monotonic() < deadline:
        statuses = [hub.task_status(deal.deal_id, i) for i in range(tasks)]
        progress[0] = sum(s != HubTaskStatus.ACTIVE for s in statuses)
        if progress[0] == tasks and not thread.is_alive():
            break
        time.sleep(1.0)
    elapsed = time.monotonic() - matched
    if faults:
        thread.join(timeout=max(1.0, deadline - time.monotonic()))
    scheduler = pool.scheduler()
    board = scheduler.tasks("0x" + deal.deal_id.hex())
    durations = []
    attempts = Counter[int]()
    codes = Counter[str]()
    unfinished = []
    for task in board:
        tried = scheduler.attempts(task.task_id).attempts
        attempts[len(tried)] += 1
        codes.update(f"{a.outcome}:{a.code}" for a in tried if a.outcome != "completed")
        if task.status not in FINAL:
            unfinished.append(
                {
                    "task": task.task_id,
                    "status": task.status,
                    "detail": task.detail[:200],
                    "attempts": [f"{a.outcome}:{a.code}:{a.detail[:120]}" for a in tried[-3:]],
                }
            )
        last = tried[-1] if tried else None
        if last is not None and last.ended_at is not None:
            durations.append(last.ended_at - last.started_at)
    scheduler.close()
    closing = _closing_events(pool, block)
    after = {a.address: hub.balance(a.address) for a in accounts}
    completed = statuses.count(HubTaskStatus.COMPLETED)
    failed = statuses.count(HubTaskStatus.FAILED)
    total_before = sum(b.free + b.locked for b in before.values())
    total_after = sum(b.free + b.locked for b in after.values())
    paid = before[world.requester.address].free - after[world.requester.address].free
    durations.sort()
    return {
        "tasks": tasks,
        "completed": completed,
        "attested_failures": failed,
        "claimed": statuses.count(HubTaskStatus.CLAIMED),
        "lost": sum(s in (HubTaskStatus.ACTIVE, HubTaskStatus.UNSET) for s in statuses),
        "settled_twice": sum(n > 1 for n in closing.values()),
        "escrow_conserved": total_before == total_after
        and paid == (APP_PRICE + POOL_PRICE) * completed
        and after[world.requester.address].locked == before[world.requester.address].locked,
        "seconds": round(elapsed, 1),
        "seconds_per_task": round(elapsed / tasks, 3),
        "tasks_per_s": round(tasks / elapsed, 3),
        "task_time_p50_s": round(statistics.median(durations), 2) if durations else None,
        "task_time_p95_s": round(durations[int(0.95 * (len(durations) - 1))], 2) if durations else None,
        "attempts": {str(k): v for k, v in sorted(attempts.items())},
        "attempt_endings": dict(codes.most_common()),
        "unfinished": unfinished,
        "faults": injector.log,
        "fault_error": repr(injector.error) if injector.error else None,
    }


def single_host(pool: Pool) -> None:
    """Stop worker-b for good (the 1-host comparison) and wait until worker-a alone is healthy."""
    pool.rig.kill("worker-b", timeout=20)
    pool.wait_healthy(["worker-a"])
