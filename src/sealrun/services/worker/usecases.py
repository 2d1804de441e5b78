"""What a worker does: take assignments, run enclaves, settle on chain, and recover after a crash.

For each assignment (up to ``slots`` at once) the worker

1. journals it and reports ``running`` to the scheduler;
2. fetches the app bundle named on chain and starts an enclave with the configured TEE
   backend, giving it the SMS URL, the task, its own address and the scheduler's
   authorization; the enclave attests to the SMS, runs the app and writes a run report;
3. submits ``finalize`` (result) or ``reportFailure`` (attested failure receipt) on chain,
   paying the gas, and reports ``submitted``. With ``batch_size`` > 1, results are queued
   (:mod:`sealrun.services.worker.batching`) and settled per deal with one ``finalizeMany``
   when ``batch_size`` results wait, the oldest has waited ``batch_delay`` seconds, or no
   other running task could join the batch (an idle worker settles at once). Before sending,
   each task's state is read on chain and a task no longer active (finalized, failed,
   claimed) is dropped, not sent; if the batch still reverts (a bad signature, the deadline
   passed meanwhile), its tasks are settled one by one, so one bad task costs only itself.
   Failure receipts are sent at once (the hub has no batched ``reportFailure``).

Self-healing: an enclave's failure receipt is not settled blindly. The worker first reports
the attempt's failure code to the scheduler (``retry``); when the scheduler retries the task
(an infrastructure failure with time left before the deadline) the answer is ``pending``
and the worker forgets the task without settling anything, so a retried task is settled at
most once, by the attempt that ends it. Otherwise (an app failure, no time left, or the
scheduler unreachable) the receipt is settled as before. A task given back without a report
names its stable code too (``abandoned``; an enclave that exited without a report is named by
its own last error line, :func:`~sealrun.core.tasks.underlying_code`), so the scheduler can
tell an SMS outage from a refused attestation.

On restart, :meth:`Worker.recover` finishes what can be finished (a run report exists:
submit it, or confirm it was settled) and drops what cannot (the enclave died before
reporting: its keys died with it); registering without those tasks tells the scheduler to
reassign them. The heartbeat also gives back any task the scheduler thinks this worker holds
but the worker does not know (an answer lost in transit).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from sealrun.adapters.chain.models import HubTaskStatus
from sealrun.adapters.logs import log_context
from sealrun.adapters.tee import EnclaveLaunch, RunReport, TeeBackend
from sealrun.api.scheduler import AssignmentOut, RegisterOut, TaskOut
from sealrun.core.tasks import underlying_code
from sealrun.errors import SealrunError, ServiceError
from sealrun.services.worker.batching import SettlementQueue
from sealrun.services.worker.journal import JournalEntry, TaskJournal
from sealrun.services.worker.settlement import Settlement, SignedResult, deal_from_assignment

__all__ = ["SchedulerPort", "Worker", "enclave_arguments"]

log = logging.getLogger(__name__)

_REGISTER_ATTEMPTS = 300
# How many settled tasks the heartbeat still counts as known (a few minutes of a busy worker).
_RECENTLY_SETTLED = 4096


class SchedulerPort(Protocol):
    """The scheduler as the worker sees it (:class:`sealrun.adapters.http.scheduler.SchedulerClient`)."""

    def register(self, *, slots: int, tee: str, holding: list[str]) -> RegisterOut:
        """Register; returns the worker, the tasks taken back and the heartbeat interval."""

    def heartbeat(self) -> list[TaskOut]:
        """The tasks the scheduler believes this worker holds."""

    def next(self, *, wait: float) -> AssignmentOut | None:
        """The next assignment, or ``None`` after ``wait`` seconds."""

    def report(
        self,
        task_id: str,
        status: Literal["running", "submitted", "abandoned", "retry"],
        detail: str = "",
        code: str | None = None,
    ) -> TaskOut:
        """Report ``running``, ``submitted``, or a failed attempt (``abandoned``, ``retry``) and its code."""


def enclave_arguments(task_id: str, worker: str, authorization: str) -> tuple[str, ...]:
    """The enclave's task arguments: what it presents to the SMS besides its evidence."""
    return ("--task-id", task_id, "--worker", worker, "--authorization", authorization)


class Worker:
    """One worker process.

    Args:
        address: the worker's account.
        scheduler: the pool's scheduler.
        tee: the TEE backend that starts enclaves.
        settlement: the hub, with the worker's wallet.
        bundle_of: resolves an app address to its bundle folder.
        journal: the local journal.
        task_root: where each task's work folder is made.
        sms_url: the SMS the enclaves attest to.
        slots: how many tasks run at once.
        poll_wait: seconds of each long poll.
        enclave_options: arguments every enclave gets (the fetch policy: allowed http
            origins, input cap).
        batch_size: the most results settled in one ``finalizeMany`` (1: one ``finalize`` per
            task, sent as soon as the enclave reports).
        batch_delay: the longest a result waits for its batch (seconds).
        settle_when_idle: settle a partial batch at once when no running task could join it.
    """

    def __init__(
        self,
        *,
        address: str,
        scheduler: SchedulerPort,
        tee: TeeBackend,
        settlement: Settlement,
        bundle_of: Callable[[str], Path],
        journal: TaskJournal,
        task_root: Path,
        sms_url: str,
        slots: int,
        poll_wait: float,
        enclave_options: tuple[str, ...] = (),
        batch_size: int = 1,
        batch_delay: float = 0.0,
        settle_when_idle: bool = True,
    ) -> None:
        self.address = address
        self._scheduler = scheduler
        self._tee = tee
        self._settlement = settlement
        self._bundle_of = bundle_of
        self._journal = journal
        self._tasks = task_root
        self._sms_url = sms_url
        self.slots = slots
        self._poll_wait = poll_wait
        self._enclave_options = enclave_options
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=slots + 1, thread_name_prefix="task")
        self.heartbeat_interval = 5.0
        self.settled = 0
        # Tasks settled here lately, newest last: the scheduler lists a task it was told is
        # "submitted" as held until its follower reads the settlement on chain, which lags
        # under load; such a task is known here, not "never received" (it would be given back
        # and run again). Bounded: the scheduler catches up within seconds.
        self._recently_settled: OrderedDict[str, None] = OrderedDict()
        self.settlements = SettlementQueue[tuple[JournalEntry, RunReport]](
            self._settle_batch,
            size=batch_size,
            delay=batch_delay,
            idle=self._every_running_task_queued if settle_when_idle else None,
        )

    # -- recovery -------------------------------------------------------------------------

    def recover(self) -> list[JournalEntry]:
        """Sort the journal after a restart: keep what can be finished, drop the rest.

        Returns:
            The entries that still need settling (to be held and finished).
        """
        resumable = []
        self._journal.clean()
        for found in self._journal.entries():
            entry = found
            report_file = self._task_dir(entry.task_id) / "report.json"
            if entry.state == "received" and report_file.is_file():
                # The enclave outlived the worker and reported: that result can still be settled.
                entry = JournalEntry(entry.task_id, "reported", entry.assignment, str(report_file))
                self._journal.save(entry)
            if entry.state == "received":
                log.warning("task %s: its enclave died with the worker; giving it back", entry.task_id)
                self._journal.remove(entry.task_id)
                continue
            resumable.append(entry)
        return resumable

    def start(self) -> list[str]:
        """Recover, register with the scheduler, and resume the recoverable tasks.

        Returns:
            The tasks the scheduler took back (this worker restarted without them).
        """
        resumable = self.recover()
        holding = [entry.task_id for entry in resumable]
        for attempt in range(_REGISTER_ATTEMPTS):
            try:
                answer = self._scheduler.register(slots=self.slots, tee=self._tee.name, holding=holding)
                break
            except ServiceError as error:
                # The scheduler may still be starting (or restarting): wait for it a while.
                if error.code != "SCHEDULER_UNREACHABLE" or attempt == _REGISTER_ATTEMPTS - 1:
                    raise
                log.info("the scheduler is not reachable yet; retrying")
                time.sleep(1.0)
        self.heartbeat_interval = answer.heartbeat_interval
        for entry in resumable:
            self._spawn(entry.task_id, partial(self._resume, entry), deal_id=entry.assignment.deal_id)
        return list(answer.released)

    # -- the loops ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Take assignments until ``stop`` is set (heartbeats run beside)."""
        beating = threading.Thread(target=self._heartbeats, args=(stop,), name="heartbeat", daemon=True)
        beating.start()
        settling = threading.Thread(target=self.settlements.run, args=(stop,), name="settle", daemon=True)
        settling.start()
        while not stop.is_set():
            if self.busy() >= self.slots:
                stop.wait(0.2)
                continue
            try:
                assignment = self._scheduler.next(wait=self._poll_wait)
            except SealrunError as error:
                log.warning("cannot get an assignment: %s (%s)", error.message, error.code)
                stop.wait(1.0)
                continue
            if assignment is not None:
                self._spawn(assignment.task_id, partial(self.execute, assignment), deal_id=assignment.deal_id)
        self._pool.shutdown(wait=True)
        settling.join()
        self.settlements.flush()  # what the running tasks queued after the flusher stopped

    def _heartbeats(self, stop: threading.Event) -> None:
        suspects: set[str] = set()
        while not stop.wait(self.heartbeat_interval):
            try:
                held = self._scheduler.heartbeat()
            except SealrunError as error:
                log.warning("heartbeat failed: %s (%s)", error.message, error.code)
                continue
            known = {entry.task_id for entry in self._journal.entries()}
            with self._lock:
                known |= set(self._running) | set(self._recently_settled)
            unknown = {task.task_id for task in held} - known
            # An assignment can be in flight (handed out, not yet started) when a heartbeat
            # answers: only a task unknown at two heartbeats in a row was really never received.
            for task_id in unknown & suspects:
                self._give_back(task_id, "the worker never received this assignment", code="ASSIGNMENT_LOST")
            suspects = unknown - suspects

    def _every_running_task_queued(self, queued: list[tuple[JournalEntry, RunReport]]) -> bool:
        """Idle for settlement: every running task already queued its result (a task stays
        running until its ``_settle`` returns), so no result could join the batch by waiting.
        Called with the queue's lock held; takes the worker's lock (never the other way round)."""
        ids = {entry.task_id for entry, _report in queued}
        with self._lock:
            return set(self._running) <= ids

    def busy(self) -> int:
        """How many tasks this worker is running or settling."""
        with self._lock:
            return len(self._running)

    def _spawn(self, task_id: str, job: Callable[[], None], *, deal_id: str | None = None) -> None:
        def wrapped() -> None:
            try:
                with log_context(task_id=task_id, deal_id=deal_id):  # every line of this task
                    try:
                        job()
                    except Exception:
                        # A bug or an I/O error of the worker itself: never sit on the task.
                        log.exception("task %s failed in the worker", task_id)
                        self._give_back(task_id, "the worker failed unexpectedly", code="WORKER_INTERNAL")
            finally:
                with self._lock:
                    self._running.pop(task_id, None)

        with self._lock:
            if task_id in self._running:
                log.warning("task %s is already running here; not starting it twice", task_id)
                return
            self._running[task_id] = self._pool.submit(wrapped)

    # -- one task -------------------------------------------------------------------------

    def _task_dir(self, task_id: str) -> Path:
        return self._tasks / task_id

    def execute(self, assignment: AssignmentOut) -> None:
        """Run one assignment to its on-chain settlement (or give it back)."""
        task_id = assignment.task_id
        entry = JournalEntry(task_id=task_id, state="received", assignment=assignment)
        self._journal.save(entry)
        try:
            self._scheduler.report(task_id, "running")
            deal = deal_from_assignment(assignment.deal)
            bundle = self._bundle_of(deal.app)
            work = self._task_dir(task_id)
            launch = EnclaveLaunch(
                bundle_dir=bundle, work_dir=work, sms_url=self._sms_url,
                extra_args=(
                    *enclave_arguments(task_id, self.address, assignment.authorization),
                    *self._enclave_options,
                ),
            )  # fmt: skip
            report = self._tee.run(launch)
        except SealrunError as error:
            self._give_back(
                task_id, f"{error.code}: {error.message}", code=underlying_code(error.code, error.message)
            )
            return
        if report.task_id.lower() != task_id or report.worker.lower() != self.address.lower():
            self._give_back(task_id, "the enclave reported on another task or worker", code="WORKER_INTERNAL")
            return
        entry = JournalEntry(task_id, "reported", assignment, str(work / "report.json"))
        self._journal.save(entry)
        if report.failure is not None and self._retried(entry, report):
            return
        self._settle(entry)

    def _retried(self, entry: JournalEntry, report: RunReport) -> bool:
        """Ask the scheduler whether a failed attempt is retried instead of settled.

        True when it is (the task is pending again, or no longer this worker's): the receipt
        is dropped unsettled, with the journal entry and the work folder. False when the
        receipt must be settled: an app failure, no retry before the deadline, or no answer.
        """
        failure = report.failure
        assert failure is not None
        try:
            answer = self._scheduler.report(
                entry.task_id, "retry", f"failure receipt {failure.name}", code=failure.name
            )
        except SealrunError as error:
            if error.code != "ASSIGNMENT_NOT_YOURS":
                log.warning(
                    "task %s: cannot ask for a retry (%s); settling the receipt", entry.task_id, error.code
                )
                return False
            answer = None  # taken from this worker meanwhile: its new holder settles it
        if (
            answer is not None
            and answer.status in ("assigned", "running", "submitted")
            and ((answer.worker or "").lower() == self.address.lower())
        ):
            return False
        status = "reassigned" if answer is None else answer.status
        log.info(
            "task %s: %s is retried by the pool (%s); receipt dropped", entry.task_id, failure.name, status
        )
        self._journal.remove(entry.task_id)
        shutil.rmtree(self._task_dir(entry.task_id), ignore_errors=True)
        return True

    def _resume(self, entry: JournalEntry) -> None:
        """Finish a recovered task: a failure not yet sent may still be retried; else settle it."""
        if entry.state == "reported":
            try:
                report = RunReport.from_json(Path(entry.report_path or "").read_bytes())
            except (SealrunError, OSError):
                report = None  # _settle names the problem and gives the task back
            if report is not None and report.failure is not None and self._retried(entry, report):
                return
        self._settle(entry)

    def _settle(self, entry: JournalEntry) -> None:
        """Settle a reported task: queue its result for a batch, or send it now."""
        if self.settlements.size > 1:
            try:
                report = RunReport.from_json(Path(entry.report_path or "").read_bytes())
            except (SealrunError, OSError) as error:
                message = error.message if isinstance(error, SealrunError) else str(error)
                self._give_back(entry.task_id, f"settlement failed: {message}", code=_code_of(error))
                return
            if report.result is not None:
                self.settlements.add((entry, report))
                return
        self._settle_now(entry)

    def _settle_batch(self, batch: list[tuple[JournalEntry, RunReport]]) -> None:
        """Settle queued results: one ``finalizeMany`` per deal (see the module docstring)."""
        by_deal: dict[str, list[tuple[JournalEntry, RunReport]]] = {}
        for entry, report in batch:
            by_deal.setdefault(entry.assignment.deal_id, []).append((entry, report))
        for items in by_deal.values():
            try:
                self._finalize_many(items)
            except Exception:
                log.exception("a batch of %d tasks failed in the worker", len(items))
                for entry, _report in items:
                    self._give_back(entry.task_id, "the worker failed unexpectedly", code="WORKER_INTERNAL")

    def _finalize_many(self, items: list[tuple[JournalEntry, RunReport]]) -> None:
        deal = deal_from_assignment(items[0][0].assignment.deal)
        open_items = []
        for entry, report in items:
            try:
                status = self._settlement.status(deal, entry.assignment.index)
            except SealrunError as error:
                log.warning("task %s: cannot read its state: %s", entry.task_id, error.message)
                open_items.append((entry, report))  # the batch (or its fallback) will tell
                continue
            if status != HubTaskStatus.ACTIVE:
                log.info("task %s is already settled on chain (%s)", entry.task_id, status.name)
                self._journal.remove(entry.task_id)
                continue
            open_items.append((entry, report))
        if not open_items:
            return
        results = [
            SignedResult(entry.assignment.index, report, bytes.fromhex(entry.assignment.authorization[2:]))
            for entry, report in open_items
        ]
        try:
            tx_hash = self._settlement.finalize_many(deal, results)
        except SealrunError as error:
            log.warning(
                "a batch of %d tasks was refused (%s: %s); settling them one by one",
                len(open_items), error.code, error.message,
            )  # fmt: skip
            for entry, _report in open_items:
                self._settle_now(entry)
            return
        for entry, _report in open_items:
            self._settled(entry, tx_hash)

    def _settle_now(self, entry: JournalEntry) -> None:
        deal = deal_from_assignment(entry.assignment.deal)
        index = entry.assignment.index
        try:
            status = self._settlement.status(deal, index)
            if status != HubTaskStatus.ACTIVE:
                log.info("task %s is already settled on chain (%s)", entry.task_id, status.name)
                self._journal.remove(entry.task_id)
                return
            report = RunReport.from_json(Path(entry.report_path or "").read_bytes())
            authorization = bytes.fromhex(entry.assignment.authorization[2:])
            tx_hash = self._settlement.submit(deal, index, report, authorization=authorization)
        except (SealrunError, OSError) as error:
            message = error.message if isinstance(error, SealrunError) else str(error)
            log.warning("task %s: cannot settle: %s", entry.task_id, message)
            self._give_back(entry.task_id, f"settlement failed: {message}", code=_code_of(error))
            return
        self._settled(entry, tx_hash)

    def _settled(self, entry: JournalEntry, tx_hash: str) -> None:
        """Record a mined settlement: tell the scheduler, forget the task."""
        self._journal.save(
            JournalEntry(entry.task_id, "submitted", entry.assignment, entry.report_path, tx_hash)
        )
        try:
            self._scheduler.report(entry.task_id, "submitted", tx_hash)
        except SealrunError as error:
            log.info(
                "task %s settled (%s); the scheduler will see it on chain: %s",
                entry.task_id,
                tx_hash,
                error.code,
            )
        with self._lock:
            self._recently_settled[entry.task_id] = None
            while len(self._recently_settled) > _RECENTLY_SETTLED:
                self._recently_settled.popitem(last=False)
        self._journal.remove(entry.task_id)
        # Settled: the sealed files are uploaded and nothing else of the task is worth keeping.
        shutil.rmtree(self._task_dir(entry.task_id), ignore_errors=True)
        self.settled += 1
        # Also from the batch flusher's thread, which has no task bound: name it here.
        about = {"task_id": entry.task_id, "deal_id": entry.assignment.deal_id}
        log.info("task %s settled in %s", entry.task_id, tx_hash, extra=about)

    def _give_back(self, task_id: str, reason: str, *, code: str = "WORKER_INTERNAL") -> None:
        log.warning("task %s: giving it back (%s)", task_id, reason)
        self._journal.remove(task_id)
        try:
            self._scheduler.report(task_id, "abandoned", reason, code=code)
        except SealrunError as error:
            log.info("task %s: the scheduler did not take it back: %s", task_id, error.code)


def _code_of(error: SealrunError | OSError) -> str:
    """The stable code of a settlement failure (an ``OSError`` is the worker's own)."""
    return error.code if isinstance(error, SealrunError) else "WORKER_INTERNAL"
