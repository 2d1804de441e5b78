"""Batched settlement on the embedded chain: ``finalizeMany`` per deal, bounded delay, crash recovery.

The hub, its deals and every signature are real (an embedded chain, the pool owner's
authorization, an enclave key signing each result); the scheduler and the TEE are the small
stand-ins of ``test_worker``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import Deployment, deploy_marketplace, fund_accounts
from sealrun.adapters.chain.models import Deal, HubTaskStatus
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.adapters.tee import EnclaveLaunch, LogsInfo, ResultInfo, RunReport
from sealrun.api.scheduler import AssignmentOut, DealOut, RegisterOut, TaskOut
from sealrun.core.orders import ZERO_ADDRESS, AppOrder, RequestOrder, TagBit, WorkerpoolOrder, make_tag
from sealrun.core.tasks import (
    authorization_digest,
    result_hash,
    result_seal,
    result_signature_digest,
    sign_digest,
    task_id,
)
from sealrun.services.worker.journal import TaskJournal
from sealrun.services.worker.settlement import HubSettlement
from sealrun.services.worker.usecases import Worker

TEE = make_tag(TagBit.TEE)
SGX = make_tag(TagBit.SGX)
TEE_SGX = make_tag(TagBit.TEE, TagBit.SGX)


@dataclass
class Chain:
    rpc: Rpc
    deployment: Deployment
    app: str
    pool: str
    markets: dict[str, Marketplace]
    accounts: dict[str, LocalAccount]

    def deal(self, volume: int, *, callback: str = ZERO_ADDRESS) -> Deal:
        """Match a fresh deal of ``volume`` tasks (no dataset), naming ``callback`` if given."""
        m, salt = self.markets, secrets.token_bytes(32)
        a = m["developer"].sign(AppOrder(app=self.app, appprice=5, volume=volume, tag=TEE, salt=salt))
        w = m["pool"].sign(
            WorkerpoolOrder(
                workerpool=self.pool, workerpoolprice=7, volume=volume, tag=TEE_SGX, category=1, salt=salt
            )
        )
        requester = self.accounts["requester"].address
        r = m["requester"].sign(
            RequestOrder(
                app=self.app, appmaxprice=5, dataset=ZERO_ADDRESS, datasetmaxprice=0, workerpool=ZERO_ADDRESS,
                workerpoolmaxprice=7, requester=requester, volume=volume, tag=TEE, category=1,
                beneficiary=requester, callback=callback, params="{}", salt=salt,
            )
        )  # fmt: skip
        assert isinstance(a, AppOrder)
        assert isinstance(w, WorkerpoolOrder)
        assert isinstance(r, RequestOrder)
        return m["requester"].match(a, None, w, r)

    def status(self, deal: Deal, index: int) -> HubTaskStatus:
        return self.markets["requester"].hub.task_status(deal.deal_id, index)

    def gas_of(self, tx_hash: str) -> int:
        return int(self.rpc.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chain() -> Chain:
    rpc = Rpc(EmbeddedChain().web3(), reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=rpc.w3.eth.accounts[0])
    deployment = deploy_marketplace(deployer)
    accounts = {role: Account.create() for role in ("requester", "developer", "pool", "worker")}
    fund_accounts(
        deployer, deployment.token, [a.address for a in accounts.values()], ether=10**19, tokens=10**12
    )
    markets = {
        role: Marketplace(rpc, hub=deployment.hub, account=account, start_block=deployment.block)
        for role, account in accounts.items()
    }
    markets["requester"].deposit(10**9)
    markets["pool"].deposit(10**9)
    app = markets["developer"].registry.create_app(
        name="app", bundle_uri="file:///app", checksum=b"\1" * 32, fingerprint=b"\2" * 32, tee_technology=SGX
    )
    pool = markets["pool"].registry.create_workerpool(
        description="pool", worker_stake_ratio=30, scheduler_reward_ratio=10
    )
    return Chain(rpc, deployment, app.address, pool.address, markets, accounts)


def scheduler_of(scheduler: Scheduler, address: str) -> str:
    """Tell the stand-in scheduler whose tasks it answers for; return the address."""
    scheduler.worker = address
    return address


@dataclass
class Scheduler:
    reports: list[tuple[str, str, str]] = field(default_factory=list)
    worker: str | None = None

    def register(self, *, slots: int, tee: str, holding: list[str]) -> RegisterOut:
        return RegisterOut(worker="0x" + "00" * 20, released=[], heartbeat_interval=60.0)

    def heartbeat(self) -> list[TaskOut]:
        return []

    def next(self, *, wait: float) -> AssignmentOut | None:
        return None

    def report(self, task: str, status: str, detail: str = "", code: str | None = None) -> TaskOut:
        self.reports.append((task, status, detail))
        if status == "retry":  # an app failure, or no time left: the worker settles the receipt
            return TaskOut(task_id=task, deal_id="0x", index=0, status="running", worker=self.worker,
                           attempts=1, detail="")  # fmt: skip
        return TaskOut(task_id=task, deal_id="0x", index=0, status=status, worker=None, attempts=1, detail="")

    def statuses(self, status: str) -> dict[str, str]:
        """Task id → detail of the reports with ``status`` (the tx hash for ``submitted``)."""
        return {task: detail for task, s, detail in self.reports if s == status}


class Enclave:
    """Signs each task's result with a real enclave key, as the enclave would (or a wrong key)."""

    name = "simulated"

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.key = Account.create()
        self.forged: set[str] = set()  # task ids whose result is signed by another key

    def run(self, launch: EnclaveLaunch) -> RunReport:
        task = launch.extra_args[launch.extra_args.index("--task-id") + 1]
        digest = secrets.token_bytes(32)
        tid = bytes.fromhex(task[2:])
        signer = Account.create() if task in self.forged else self.key
        receipt = secrets.token_bytes(32)
        signed = result_signature_digest(
            result_hash(tid, digest), result_seal(self.worker, tid, digest), receipt
        )
        result = ResultInfo(
            digest="0x" + digest.hex(), result_hash="0x" + result_hash(tid, digest).hex(),
            result_seal="0x" + result_seal(self.worker, tid, digest).hex(),
            signature="0x" + sign_digest(bytes(signer.key), signed).hex(), sealed_path="result.age",
            sealed_checksum="0x" + "d4" * 32, sealed_bytes=10, upload_url=f"http://store/v1/blobs/{task}",
            receipt_digest="0x" + receipt.hex(),
        )  # fmt: skip
        logs = LogsInfo(sealed_path="logs.age", sealed_checksum="0x" + "00" * 32, sealed_bytes=1,
                        stdout_bytes=0, stderr_bytes=0, truncated=False)  # fmt: skip
        report = RunReport(status="completed", task_id=task, worker=self.worker, enclave=self.key.address,
                           fingerprint=None, logs=logs, result=result)  # fmt: skip
        launch.work_dir.mkdir(parents=True, exist_ok=True)
        (launch.work_dir / "report.json").write_bytes(report.to_json())
        return report


@dataclass
class Rig:
    chain: Chain
    scheduler: Scheduler
    enclave: Enclave
    tmp: Path
    make: Callable[..., Worker]

    def assignment(self, deal: Deal, index: int) -> AssignmentOut:
        worker = self.chain.accounts["worker"].address
        tid = task_id(deal.deal_id, index)
        pool_key = bytes(self.chain.accounts["pool"].key)
        authorization = sign_digest(pool_key, authorization_digest(worker, tid, self.enclave.key.address))
        return AssignmentOut(
            task_id="0x" + tid.hex(), deal_id="0x" + deal.deal_id.hex(), index=index,
            enclave_challenge=self.enclave.key.address, authorization="0x" + authorization.hex(),
            max_time=300, deadline=deal.deadline, attempt=1, deal=DealOut.model_validate(deal.to_json()),
        )  # fmt: skip


@pytest.fixture
def rig(chain: Chain, tmp_path: Path) -> Rig:
    scheduler = Scheduler()
    enclave = Enclave(chain.accounts["worker"].address)
    bundle = tmp_path / "bundle"
    bundle.mkdir()

    def make(*, size: int, delay: float, idle: bool = False) -> Worker:
        return Worker(
            address=scheduler_of(scheduler, chain.accounts["worker"].address),
            scheduler=scheduler, tee=enclave,
            settlement=HubSettlement(chain.markets["worker"].hub), bundle_of=lambda _app: bundle,
            journal=TaskJournal(tmp_path), task_root=tmp_path / "tasks", sms_url="http://sms", slots=2,
            poll_wait=0.1, batch_size=size, batch_delay=delay, settle_when_idle=idle,
        )  # fmt: skip

    return Rig(chain, scheduler, enclave, tmp_path, make)


@pytest.fixture
def flusher() -> Iterator[Callable[[Worker], None]]:
    """Runs a worker's settlement queue in a thread (as ``Worker.run`` does) until the test ends."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(worker: Worker) -> None:
        thread = threading.Thread(target=worker.settlements.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(5)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_full_batch_settles_in_one_transaction_and_every_task_completes(
    rig: Rig, flusher: Callable[[Worker], None]
) -> None:
    deal = rig.chain.deal(5)
    worker = rig.make(size=5, delay=60.0)  # only the size bound can flush within the test
    flusher(worker)
    for index in range(5):
        worker.execute(rig.assignment(deal, index))
    wait_for(lambda: worker.settled == 5)
    submitted = rig.scheduler.statuses("submitted")
    assert len(submitted) == 5
    assert len(set(submitted.values())) == 1  # one transaction
    assert [rig.chain.status(deal, i) for i in range(5)] == [HubTaskStatus.COMPLETED] * 5
    assert TaskJournal(rig.tmp).entries() == []


def test_the_delay_bound_flushes_a_partial_batch(rig: Rig, flusher: Callable[[Worker], None]) -> None:
    deal = rig.chain.deal(2)
    worker = rig.make(size=50, delay=0.3)
    flusher(worker)
    queued = time.monotonic()
    worker.execute(rig.assignment(deal, 0))
    worker.execute(rig.assignment(deal, 1))
    assert worker.settlements.pending() == 2
    assert len(TaskJournal(rig.tmp).entries()) == 2  # journaled until the batch is mined
    wait_for(lambda: worker.settled == 2)
    assert time.monotonic() - queued >= 0.3
    assert len(set(rig.scheduler.statuses("submitted").values())) == 1
    assert [rig.chain.status(deal, i) for i in range(2)] == [HubTaskStatus.COMPLETED] * 2


def test_an_idle_worker_settles_a_partial_batch_at_once(rig: Rig, flusher: Callable[[Worker], None]) -> None:
    # No running task could join the batch: waiting out the delay would only add latency.
    deal = rig.chain.deal(1)
    worker = rig.make(size=50, delay=60.0, idle=True)
    flusher(worker)
    queued = time.monotonic()
    worker.execute(rig.assignment(deal, 0))
    wait_for(lambda: worker.settled == 1)
    assert time.monotonic() - queued < 30.0  # far below the 60 s delay
    assert [rig.chain.status(deal, 0)] == [HubTaskStatus.COMPLETED]
    assert TaskJournal(rig.tmp).entries() == []


def test_a_running_task_that_has_not_queued_keeps_the_batch_open(
    rig: Rig, flusher: Callable[[Worker], None]
) -> None:
    # Idle means every running task already queued its result: another task still running
    # could join the batch, so the queued one waits (here, until that task ends).
    deal = rig.chain.deal(1)
    worker = rig.make(size=50, delay=60.0, idle=True)
    flusher(worker)
    other_running = threading.Event()
    worker._spawn("0x" + "ab" * 32, other_running.wait)
    worker.execute(rig.assignment(deal, 0))
    time.sleep(0.6)  # three looks of the flusher
    assert worker.settled == 0
    assert worker.settlements.pending() == 1
    other_running.set()
    wait_for(lambda: worker.settled == 1)
    assert [rig.chain.status(deal, 0)] == [HubTaskStatus.COMPLETED]


def test_a_task_already_finalized_is_skipped_and_the_rest_settle_together(rig: Rig) -> None:
    deal = rig.chain.deal(4)
    worker = rig.make(size=50, delay=60.0)
    for index in range(4):
        worker.execute(rig.assignment(deal, index))
    # Task 1 gets settled elsewhere meanwhile (another worker process on the same journal's copy).
    first = rig.assignment(deal, 1)
    report = RunReport.from_json((rig.tmp / "tasks" / first.task_id / "report.json").read_bytes())
    HubSettlement(rig.chain.markets["worker"].hub).submit(
        deal, 1, report, authorization=bytes.fromhex(first.authorization[2:])
    )
    assert worker.settlements.flush() == 4
    submitted = rig.scheduler.statuses("submitted")
    assert set(submitted) == {rig.assignment(deal, i).task_id for i in (0, 2, 3)}
    assert len(set(submitted.values())) == 1
    assert rig.scheduler.statuses("abandoned") == {}
    assert [rig.chain.status(deal, i) for i in range(4)] == [HubTaskStatus.COMPLETED] * 4
    assert TaskJournal(rig.tmp).entries() == []


def test_a_batch_the_hub_refuses_falls_back_to_one_task_at_a_time(rig: Rig) -> None:
    deal = rig.chain.deal(3)
    worker = rig.make(size=50, delay=60.0)
    bad = rig.assignment(deal, 1).task_id
    rig.enclave.forged.add(bad)
    for index in range(3):
        worker.execute(rig.assignment(deal, index))
    worker.settlements.flush()
    submitted = rig.scheduler.statuses("submitted")
    assert set(submitted) == {rig.assignment(deal, i).task_id for i in (0, 2)}
    assert len(set(submitted.values())) == 2  # one finalize each, after finalizeMany reverted
    assert set(rig.scheduler.statuses("abandoned")) == {bad}
    assert [rig.chain.status(deal, i) for i in range(3)] == [
        HubTaskStatus.COMPLETED,
        HubTaskStatus.ACTIVE,
        HubTaskStatus.COMPLETED,
    ]
    assert TaskJournal(rig.tmp).entries() == []


def test_a_restarted_worker_settles_its_pending_results_once(rig: Rig) -> None:
    deal = rig.chain.deal(3)
    crashed = rig.make(size=50, delay=60.0)
    for index in range(3):
        crashed.execute(rig.assignment(deal, index))
    assert len(TaskJournal(rig.tmp).entries()) == 3  # the crash: queued in memory, kept on disk
    # Task 0's batch was mined just before the crash (the journal was not yet cleared).
    zero = rig.assignment(deal, 0)
    report = RunReport.from_json((rig.tmp / "tasks" / zero.task_id / "report.json").read_bytes())
    HubSettlement(rig.chain.markets["worker"].hub).submit(
        deal, 0, report, authorization=bytes.fromhex(zero.authorization[2:])
    )
    restarted = rig.make(size=50, delay=60.0)
    restarted.start()
    wait_for(lambda: restarted.busy() == 0 and restarted.settlements.pending() == 3)
    assert restarted.settlements.flush() == 3  # task 0 is read on chain first, and skipped
    submitted = rig.scheduler.statuses("submitted")
    assert set(submitted) == {rig.assignment(deal, i).task_id for i in (1, 2)}
    assert len(set(submitted.values())) == 1
    assert rig.scheduler.statuses("abandoned") == {}
    assert [rig.chain.status(deal, i) for i in range(3)] == [HubTaskStatus.COMPLETED] * 3
    assert TaskJournal(rig.tmp).entries() == []
    assert restarted.settlements.flush() == 0  # nothing left to settle twice


def test_gas_per_task_of_a_full_batch_beside_single_finalize(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    batched, single = rig.chain.deal(50), rig.chain.deal(50)
    worker = rig.make(size=50, delay=60.0)
    for index in range(50):
        worker.execute(rig.assignment(batched, index))
    worker.settlements.flush()
    batch_tx = set(rig.scheduler.statuses("submitted").values())
    assert len(batch_tx) == 1
    per_task_batched = rig.chain.gas_of(batch_tx.pop()) / 50
    one_by_one = rig.make(size=1, delay=0.0)
    one_by_one.execute(rig.assignment(single, 0))
    tx = rig.scheduler.statuses("submitted")[rig.assignment(single, 0).task_id]
    per_task_single = rig.chain.gas_of(tx)
    with capsys.disabled():
        print(f"\ngas per task: finalizeMany of 50 {per_task_batched:,.0f}, finalize {per_task_single:,}")
    assert per_task_batched < per_task_single * 0.7


def test_a_deal_with_a_result_callback_settles_and_the_callee_receives_each_task(
    rig: Rig, flusher: Callable[[Worker], None]
) -> None:
    """The hub calls a callback only with 200,000 x 64/63 gas left (EIP-150, ``callback-gas``);
    an estimate of the gas *used* (py-evm's) leaves less, so the worker adds
    ``CALLBACK_GAS_RESERVE`` for such a deal, in a batch and alone."""
    import vyper

    from sealrun.adapters.chain.models import CALLBACK_GAS_RESERVE

    source = (
        Path(__file__).resolve().parents[2] / "contracts" / "testing" / "CallbackReceiver.vy"
    ).read_text()
    compiled = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    w3 = rig.chain.rpc.w3
    tx = (
        w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
        .constructor()
        .transact({"from": w3.eth.accounts[0]})
    )
    receiver = w3.eth.contract(
        address=w3.eth.get_transaction_receipt(tx)["contractAddress"], abi=compiled["abi"]
    )
    deal = rig.chain.deal(4, callback=receiver.address)
    batched = rig.make(size=3, delay=60.0)
    flusher(batched)
    for index in range(3):
        batched.execute(rig.assignment(deal, index))
    wait_for(lambda: batched.settled == 3)
    assert len(set(rig.scheduler.statuses("submitted").values())) == 1  # one finalizeMany
    alone = rig.make(size=1, delay=0.0)
    alone.execute(rig.assignment(deal, 3))
    assert [rig.chain.status(deal, i) for i in range(4)] == [HubTaskStatus.COMPLETED] * 4
    assert receiver.functions.calls().call() == 4
    assert bytes(receiver.functions.taskid().call()) == task_id(deal.deal_id, 3)
    assert CALLBACK_GAS_RESERVE > 200_000 * 64 // 63 + 5_000
