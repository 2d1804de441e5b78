"""The worker's own logic: settling, giving back, and recovering from its journal after a crash.

The scheduler, the TEE backend and the hub are small stand-ins here (their real versions are
exercised in tests/pool); the journal and the worker are the real ones.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sealrun.adapters.chain.models import Deal, HubTaskStatus
from sealrun.adapters.tee import EnclaveLaunch, FailureReceipt, LogsInfo, ResultInfo, RunReport
from sealrun.api.scheduler import AssignmentOut, RegisterOut, TaskOut
from sealrun.core.tasks import FailureCode
from sealrun.errors import EnclaveError, ServiceError
from sealrun.services.worker.journal import JournalEntry, TaskJournal
from sealrun.services.worker.settlement import SignedResult
from sealrun.services.worker.usecases import Worker

WORKER = "0x" + "ab" * 20
TASK = "0x" + "11" * 32
DEAL = {
    "deal_id": "0x" + "de" * 32, "app": "0x" + "a1" * 20, "app_owner": "0x" + "a2" * 20, "app_price": 1,
    "dataset": "0x" + "00" * 20, "dataset_owner": "0x" + "00" * 20, "dataset_price": 0,
    "workerpool": "0x" + "77" * 20, "workerpool_owner": "0x" + "78" * 20, "workerpool_price": 2,
    "scheduler_reward_ratio": 10, "stake": 0, "requester": "0x" + "b1" * 20, "beneficiary": "0x" + "b1" * 20,
    "callback": "0x" + "00" * 20, "category": 0, "tag": "0x" + "00" * 31 + "01", "trust": 1,
    "start_time": 1, "deadline": 10**10, "bot_first": 0, "volume": 1, "request_hash": "0x" + "05" * 32,
    "params": "{}", "block_number": 3,
}  # fmt: skip
RAW_ASSIGNMENT = {
    "task_id": TASK, "deal_id": DEAL["deal_id"], "index": 0, "enclave_challenge": "0x" + "ec" * 20,
    "authorization": "0x" + "aa" * 65, "max_time": 300, "deadline": 10**10, "attempt": 1, "deal": DEAL,
}  # fmt: skip
ASSIGNMENT = AssignmentOut.model_validate(RAW_ASSIGNMENT)


def assignment_of(task_id: str) -> AssignmentOut:
    return ASSIGNMENT.model_copy(update={"task_id": task_id})


def held(task_id: str) -> TaskOut:
    return TaskOut(task_id=task_id, deal_id=DEAL["deal_id"], index=0, status="running", worker=WORKER,
                   attempts=1, detail="")  # fmt: skip


def report(task: str = TASK, worker: str = WORKER) -> RunReport:
    logs = LogsInfo(sealed_path="logs.age", sealed_checksum="0x" + "00" * 32, sealed_bytes=1, stdout_bytes=0,
                    stderr_bytes=0, truncated=False)  # fmt: skip
    result = ResultInfo(
        digest="0x" + "d1" * 32, result_hash="0x" + "d2" * 32, result_seal="0x" + "d3" * 32,
        signature="0x" + "5e" * 65, sealed_path="result.age", sealed_checksum="0x" + "d4" * 32,
        sealed_bytes=10, upload_url="http://store/v1/blobs/x", receipt_digest="0x" + "d5" * 32,
    )  # fmt: skip
    return RunReport(status="completed", task_id=task, worker=worker, enclave="0x" + "ec" * 20,
                     fingerprint=None, logs=logs, result=result)  # fmt: skip


@dataclass
class Scheduler:
    reports: list[tuple[str, str]] = field(default_factory=list)
    registered: list[list[str]] = field(default_factory=list)
    held: list[TaskOut] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)
    retry: bool = False  # answer a ``retry`` report with a retry (pending), else "settle it"

    def register(self, *, slots: int, tee: str, holding: list[str]) -> RegisterOut:
        self.registered.append(holding)
        return RegisterOut(worker=WORKER, released=[], heartbeat_interval=0.05)

    def heartbeat(self) -> list[TaskOut]:
        return self.held

    def next(self, *, wait: float) -> AssignmentOut | None:
        return None

    def report(self, task_id: str, status: str, detail: str = "", code: str | None = None) -> TaskOut:
        self.reports.append((task_id, status))
        self.codes.append(code)
        if status == "retry" and self.retry:
            return held(task_id).model_copy(update={"status": "pending", "worker": None})
        return held(task_id)


@dataclass
class Tee:
    outcome: RunReport | EnclaveError
    launches: list[EnclaveLaunch] = field(default_factory=list)
    name: str = "simulated"

    def run(self, launch: EnclaveLaunch) -> RunReport:
        self.launches.append(launch)
        if isinstance(self.outcome, EnclaveError):
            raise self.outcome
        launch.work_dir.mkdir(parents=True, exist_ok=True)
        (launch.work_dir / "report.json").write_bytes(self.outcome.to_json())
        return self.outcome


@dataclass
class Hub:
    status_of: HubTaskStatus = HubTaskStatus.ACTIVE
    submitted: list[tuple[bytes, int, str]] = field(default_factory=list)

    def status(self, deal: Deal, index: int) -> HubTaskStatus:
        return self.status_of

    def submit(self, deal: Deal, index: int, run: RunReport, *, authorization: bytes) -> str:
        self.submitted.append((deal.deal_id, index, run.status))
        return "0x" + "77" * 32

    def finalize_many(self, deal: Deal, results: Sequence[SignedResult]) -> str:
        raise AssertionError("these workers settle one task at a time")


def make(tmp_path: Path, tee: Tee, hub: Hub, scheduler: Scheduler) -> Worker:
    bundle = tmp_path / "bundle"
    bundle.mkdir(exist_ok=True)
    return Worker(
        address=WORKER, scheduler=scheduler, tee=tee, settlement=hub, bundle_of=lambda _app: bundle,
        journal=TaskJournal(tmp_path), task_root=tmp_path / "tasks", sms_url="http://sms",
        slots=2, poll_wait=0.1,
    )  # fmt: skip


def test_a_task_runs_and_settles(tmp_path: Path) -> None:
    scheduler, tee, hub = Scheduler(), Tee(report()), Hub()
    worker = make(tmp_path, tee, hub, scheduler)
    worker.execute(ASSIGNMENT)
    assert hub.submitted == [(bytes.fromhex("de" * 32), 0, "completed")]
    assert scheduler.reports == [(TASK, "running"), (TASK, "submitted")]
    assert TaskJournal(tmp_path).entries() == []
    launch = tee.launches[0]
    assert launch.sms_url == "http://sms"
    assert launch.extra_args == (
        "--task-id",
        TASK,
        "--worker",
        WORKER,
        "--authorization",
        ASSIGNMENT.authorization,
    )


def test_a_crashed_enclave_gives_the_task_back(tmp_path: Path) -> None:
    scheduler, hub = Scheduler(), Hub()
    worker = make(tmp_path, Tee(EnclaveError("boom", code="ENCLAVE_CRASHED")), hub, scheduler)
    worker.execute(ASSIGNMENT)
    assert scheduler.reports == [(TASK, "running"), (TASK, "abandoned")]
    assert hub.submitted == []
    assert TaskJournal(tmp_path).entries() == []


def test_a_report_for_another_worker_is_not_submitted(tmp_path: Path) -> None:
    scheduler, hub = Scheduler(), Hub()
    make(tmp_path, Tee(report(worker="0x" + "cd" * 20)), hub, scheduler).execute(ASSIGNMENT)
    assert hub.submitted == []
    assert scheduler.reports[-1] == (TASK, "abandoned")


def test_recovery_drops_what_cannot_be_finished_and_settles_the_rest(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    lost, reported, orphan, done = ("0x" + c * 64 for c in "1234")
    journal.save(JournalEntry(lost, "received", assignment_of(lost)))
    report_file = tmp_path / "tasks" / reported / "report.json"
    report_file.parent.mkdir(parents=True)
    report_file.write_bytes(report(task=reported).to_json())
    journal.save(JournalEntry(reported, "reported", assignment_of(reported), str(report_file)))
    # The enclave outlived the killed worker and wrote its report after the journal's last step.
    orphan_report = tmp_path / "tasks" / orphan / "report.json"
    orphan_report.parent.mkdir(parents=True)
    orphan_report.write_bytes(report(task=orphan).to_json())
    journal.save(JournalEntry(orphan, "received", assignment_of(orphan)))
    # Each task has its own folder (settling one removes it): the resubmitted one's report too.
    done_report = tmp_path / "tasks" / done / "report.json"
    done_report.parent.mkdir(parents=True)
    done_report.write_bytes(report(task=done).to_json())
    journal.save(JournalEntry(done, "submitted", assignment_of(done), str(done_report), "0x01"))
    scheduler, hub = Scheduler(), Hub()
    worker = make(tmp_path, Tee(report()), hub, scheduler)
    worker.start()
    assert sorted(scheduler.registered[0]) == sorted([reported, orphan, done])
    stop = threading.Event()
    stop.set()
    worker.run(stop)  # waits for the recovered settlements
    assert len(hub.submitted) == 3  # reported, orphan, and the resubmitted one (still active on chain)
    assert journal.entries() == []


def test_a_restarted_workers_recovery_leaves_a_clean_journal(tmp_path: Path) -> None:
    """After kill -9: the lost task is forgotten, the orphan's report is adopted, and the
    temporary file of a save the crash cut short is deleted."""
    journal = TaskJournal(tmp_path)
    lost, orphan, done = ("0x" + c * 64 for c in "567")
    journal.save(JournalEntry(lost, "received", assignment_of(lost)))
    journal.save(JournalEntry(orphan, "received", assignment_of(orphan)))
    orphan_report = tmp_path / "tasks" / orphan / "report.json"
    orphan_report.parent.mkdir(parents=True)
    orphan_report.write_bytes(report(task=orphan).to_json())
    journal.save(JournalEntry(done, "submitted", assignment_of(done), str(orphan_report), "0x01"))
    (journal.folder / ".entry.k1ll3d.tmp").write_text('{"task_id": "0x')  # a save cut by the kill
    worker = make(tmp_path, Tee(report()), Hub(), Scheduler())
    resumed = worker.recover()
    assert [(e.task_id, e.state) for e in resumed] == [(orphan, "reported"), (done, "submitted")]
    assert resumed[0].report_path == str(orphan_report)
    assert sorted(p.name for p in journal.folder.iterdir()) == [f"{orphan}.json", f"{done}.json"]
    assert journal.entries() == resumed


def test_recovery_of_a_task_already_settled_on_chain(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    report_file = tmp_path / "r.json"
    report_file.write_bytes(report().to_json())
    journal.save(JournalEntry(TASK, "submitted", ASSIGNMENT, str(report_file), "0x01"))
    scheduler, hub = Scheduler(), Hub(status_of=HubTaskStatus.COMPLETED)
    worker = make(tmp_path, Tee(report()), hub, scheduler)
    worker.start()
    stop = threading.Event()
    stop.set()
    worker.run(stop)
    assert hub.submitted == []
    assert journal.entries() == []


def test_heartbeat_gives_back_tasks_the_worker_never_received(tmp_path: Path) -> None:
    scheduler = Scheduler(held=[held(TASK)])
    worker = make(tmp_path, Tee(report()), Hub(), scheduler)
    worker.start()
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    for _ in range(100):
        if (TASK, "abandoned") in scheduler.reports:
            break
        threading.Event().wait(0.05)
    stop.set()
    runner.join(10)
    assert (TASK, "abandoned") in scheduler.reports


def test_journal_writes_are_whole_files(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    journal.save(JournalEntry(TASK, "received", ASSIGNMENT))
    (journal.folder / ("0x" + "99" * 32 + ".json")).write_text("{half a")
    assert [e.task_id for e in journal.entries()] == [TASK]
    assert json.loads((journal.folder / f"{TASK}.json").read_text())["state"] == "received"
    assert not list(journal.folder.glob(".entry.*"))


def test_the_journal_names_files_only_after_well_formed_task_ids(tmp_path: Path) -> None:
    """A task id comes from the scheduler: one that is not 0x + 64 lowercase hex never becomes a path."""
    journal = TaskJournal(tmp_path / "worker")
    journal.save(JournalEntry(TASK, "received", ASSIGNMENT))
    outside = tmp_path / "escaped.json"
    for bad in (
        "../../escaped",
        "0x" + "11" * 31,
        "0x" + "11" * 33,
        "0x" + "AB" * 32,
        "11" * 33,
        "0x" + "1g" * 32,
    ):
        with pytest.raises(ServiceError) as saved:
            journal.save(JournalEntry(bad, "received", ASSIGNMENT))
        with pytest.raises(ServiceError) as removed:
            journal.remove(bad)
        assert saved.value.code == removed.value.code == "TASK_UNKNOWN"
    assert not outside.exists()
    assert sorted(p.name for p in journal.folder.iterdir()) == [f"{TASK}.json"]  # no leftover temp file
    assert [e.task_id for e in journal.entries()] == [TASK]


def test_an_unexpected_worker_error_gives_the_task_back(tmp_path: Path) -> None:
    scheduler = Scheduler()

    def broken(_app: str) -> Path:
        raise OSError("disk gone")

    worker = Worker(
        address=WORKER, scheduler=scheduler, tee=Tee(report()), settlement=Hub(), bundle_of=broken,
        journal=TaskJournal(tmp_path), task_root=tmp_path / "tasks", sms_url="http://sms",
        slots=1, poll_wait=0.1,
    )  # fmt: skip
    worker._spawn(TASK, lambda: worker.execute(ASSIGNMENT))
    stop = threading.Event()
    stop.set()
    worker.run(stop)
    assert scheduler.reports[-1] == (TASK, "abandoned")
    assert TaskJournal(tmp_path).entries() == []


def test_a_task_in_flight_at_one_heartbeat_is_not_given_back(tmp_path: Path) -> None:
    scheduler = Scheduler(held=[held(TASK)])
    worker = make(tmp_path, Tee(report()), Hub(), scheduler)
    worker.heartbeat_interval = 0.05
    stop = threading.Event()
    beating = threading.Thread(target=worker._heartbeats, args=(stop,))
    beating.start()
    threading.Event().wait(0.07)  # one heartbeat sees the task unknown...
    TaskJournal(tmp_path).save(JournalEntry(TASK, "received", ASSIGNMENT))  # ...then it arrives
    threading.Event().wait(0.3)
    stop.set()
    beating.join(5)
    assert (TASK, "abandoned") not in scheduler.reports


def test_a_task_settled_here_is_not_given_back_while_the_scheduler_still_lists_it(tmp_path: Path) -> None:
    """Found on the multi-host rig: the scheduler lists a "submitted" task as held until it
    reads the settlement on chain; a loaded scheduler lags, and the worker, which forgot the
    task once settled, gave it back as never received (ASSIGNMENT_LOST): it ran again."""
    scheduler, hub = Scheduler(), Hub()
    worker = make(tmp_path, Tee(report()), hub, scheduler)
    worker.execute(ASSIGNMENT)
    assert (TASK, "submitted") in scheduler.reports
    assert TaskJournal(tmp_path).entries() == []  # forgotten by the journal...
    scheduler.held = [held(TASK)]  # ...while the scheduler has not seen the chain yet
    worker.heartbeat_interval = 0.02
    stop = threading.Event()
    beating = threading.Thread(target=worker._heartbeats, args=(stop,))
    beating.start()
    threading.Event().wait(0.3)  # many heartbeats
    stop.set()
    beating.join(5)
    assert (TASK, "abandoned") not in scheduler.reports
    assert len(hub.submitted) == 1


def test_the_same_task_never_runs_twice_at_once(tmp_path: Path) -> None:
    started = threading.Event()
    release = threading.Event()

    class SlowTee(Tee):
        def run(self, launch: EnclaveLaunch) -> RunReport:
            started.set()
            release.wait(5)
            return super().run(launch)

    tee = SlowTee(report())
    worker = make(tmp_path, tee, Hub(), Scheduler())
    worker._spawn(TASK, lambda: worker.execute(ASSIGNMENT))
    assert started.wait(5)
    worker._spawn(TASK, lambda: worker.execute(ASSIGNMENT))
    release.set()
    stop = threading.Event()
    stop.set()
    worker.run(stop)
    assert len(tee.launches) == 1


def failed_report(code: FailureCode, task: str = TASK) -> RunReport:
    receipt = FailureReceipt(code=int(code), name=code.name, log_digest="0x" + "00" * 32,
                             signature="0x" + "5e" * 65, receipt_digest="0x" + "d6" * 32)  # fmt: skip
    return dataclasses.replace(report(task), status="failed", result=None, failure=receipt)


def test_an_infrastructure_failure_receipt_is_dropped_when_the_pool_retries(tmp_path: Path) -> None:
    scheduler, hub = Scheduler(retry=True), Hub()
    worker = make(tmp_path, Tee(failed_report(FailureCode.INPUT_UNAVAILABLE)), hub, scheduler)
    worker.execute(ASSIGNMENT)
    assert scheduler.reports == [(TASK, "running"), (TASK, "retry")]
    assert scheduler.codes[-1] == "INPUT_UNAVAILABLE"
    assert hub.submitted == []  # never settled: the retry's attempt settles the task, once
    assert TaskJournal(tmp_path).entries() == []
    assert not (tmp_path / "tasks" / TASK).exists()


def test_a_failure_receipt_the_pool_does_not_retry_is_settled(tmp_path: Path) -> None:
    scheduler, hub = Scheduler(retry=False), Hub()
    worker = make(tmp_path, Tee(failed_report(FailureCode.APP_EXIT_NONZERO)), hub, scheduler)
    worker.execute(ASSIGNMENT)
    assert scheduler.reports == [(TASK, "running"), (TASK, "retry"), (TASK, "submitted")]
    assert scheduler.codes[1] == "APP_EXIT_NONZERO"
    assert hub.submitted == [(bytes.fromhex("de" * 32), 0, "failed")]


def test_a_failure_receipt_is_settled_when_the_scheduler_cannot_answer(tmp_path: Path) -> None:
    class Unreachable(Scheduler):
        def report(self, task_id: str, status: str, detail: str = "", code: str | None = None) -> TaskOut:
            if status == "retry":
                raise ServiceError("down", code="SCHEDULER_UNREACHABLE")
            return super().report(task_id, status, detail, code)

    scheduler, hub = Unreachable(), Hub()
    make(tmp_path, Tee(failed_report(FailureCode.RESULT_UPLOAD_FAILED)), hub, scheduler).execute(ASSIGNMENT)
    assert hub.submitted == [(bytes.fromhex("de" * 32), 0, "failed")]  # bounded: the receipt stands


def test_a_give_back_names_the_enclaves_own_cause(tmp_path: Path) -> None:
    scheduler = Scheduler()
    crashed = EnclaveError(
        "the enclave exited 1 without a report: error [SMS_UNREACHABLE]: the SMS is down",
        code="ENCLAVE_CRASHED",
    )
    make(tmp_path, Tee(crashed), Hub(), scheduler).execute(ASSIGNMENT)
    assert scheduler.reports[-1] == (TASK, "abandoned")
    assert scheduler.codes[-1] == "SMS_UNREACHABLE"
    killed = Scheduler()
    make(tmp_path, Tee(EnclaveError("killed by signal 9", code="ENCLAVE_CRASHED")), Hub(), killed).execute(
        ASSIGNMENT
    )
    assert killed.codes[-1] == "ENCLAVE_CRASHED"


def test_a_recovered_failure_may_still_be_retried(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    report_file = tmp_path / "tasks" / TASK / "report.json"
    report_file.parent.mkdir(parents=True)
    report_file.write_bytes(failed_report(FailureCode.INPUT_UNAVAILABLE).to_json())
    journal.save(JournalEntry(TASK, "reported", ASSIGNMENT, str(report_file)))
    scheduler, hub = Scheduler(retry=True), Hub()
    worker = make(tmp_path, Tee(report()), hub, scheduler)
    worker.start()
    stop = threading.Event()
    stop.set()
    worker.run(stop)
    assert hub.submitted == []
    assert scheduler.reports == [(TASK, "retry")]
    assert journal.entries() == []
