"""What a workerpool's scheduler does.

- follows the hub: each ``OrdersMatched`` on this pool becomes a deal and ``volume``
  pending tasks; ``TaskCompleted``/``TaskFailed``/``TaskClaimed`` settle them;
- serves workers: registration, heartbeats, the next assignment (with the task's enclave
  challenge from the SMS and the pool owner's signed authorization), status reports;
- sweeps: a task held by a worker without heartbeat for ``worker_timeout`` seconds, or held
  longer than its hold limit whatever the heartbeats (``max_hold_time``, by default twice
  the category's time plus a minute), goes back to ``pending`` if the deal's deadline still
  leaves a category's time to run it, and to ``expired`` otherwise (the requester then
  claims the refund on chain); a task handed out ``max_claims`` times is never handed out
  again (``expired``);
- heals: an attempt that failed (the worker says why with a stable code, ``retry`` when its
  enclave signed a failure receipt, ``abandoned`` when it could not) is retried after an
  exponential backoff with full jitter if the failure is the infrastructure's and a retry
  still fits before the deal's deadline minus the pool's margin
  (:mod:`sealrun.core.tasks.retries`), preferably on another worker; otherwise the receipt
  is settled by its worker (or, without one, the task expires). A grant the SMS could not
  make backs off the same way, so an SMS outage is not hammered.

The pool is closed: the allow-list of worker addresses is required (``CONFIG_WORKERS_MISSING``
at construction when empty) and every worker call (register, heartbeat, next, report) from
any other signer is refused.

Errors: ``WORKER_NOT_ALLOWED`` (:class:`~sealrun.errors.ServiceError`, a signer not in the
pool's allow-list), ``WORKER_UNKNOWN`` (heartbeat or poll before registering), plus the
board's codes.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from eth_utils import to_checksum_address

from sealrun.adapters.chain.events import ChainEvent
from sealrun.adapters.chain.models import Category, Deal
from sealrun.api.ids import deal_id_hex, parse_task_id, task_id_hex
from sealrun.api.scheduler import DealOut
from sealrun.core.chainstate import TaskRecord, TaskStatus
from sealrun.core.tasks import (
    RetryDecision,
    RetryPolicy,
    authorization_digest,
    decide_retry,
    sign_digest,
    task_id,
)
from sealrun.core.tasks.retries import is_code
from sealrun.errors import ServiceError
from sealrun.services.scheduler.board import COMPLETED, FAILED, TaskBoard
from sealrun.services.scheduler.models import AttemptRow, DealRow, TaskRow
from sealrun.services.scheduler.settings import check_allowed_workers

__all__ = ["Assignment", "CategorySource", "ChallengeSource", "SchedulerService"]

log = logging.getLogger(__name__)

FOLLOWED_EVENTS = ("OrdersMatched", "TaskCompleted", "TaskFailed", "TaskClaimed")
REPORTABLE = ("running", "submitted", "abandoned", "retry")
# Beyond twice the category's time: fetching, attestation and settlement take time too.
HOLD_MARGIN = 60.0
DEFAULT_MAX_CLAIMS = 5


class ChallengeSource(Protocol):
    """The SMS: creates (once) and returns the enclave challenge address of a task."""

    def enclave_challenge(self, task: bytes) -> str:
        """The checksummed address of the task's enclave challenge key."""


class CategorySource(Protocol):
    """What the scheduler reads from the hub: categories (their maximum time) and task status."""

    def category(self, category_id: int) -> Category | None:
        """The category, or ``None`` if it does not exist."""

    def task(self, task_id: bytes) -> TaskRecord | None:
        """The task's on-chain record (``None`` if unknown)."""


@dataclass(frozen=True)
class Assignment:
    """What a worker needs to run a task: the deal, the enclave challenge, the authorization."""

    task_id: str
    deal_id: str
    index: int
    enclave_challenge: str
    authorization: str
    max_time: int
    deadline: int
    attempt: int
    deal: DealOut


class SchedulerService:
    """The scheduler's use cases.

    Args:
        board: the SQL task board.
        workerpool: the pool served.
        owner_key: the pool owner's private key (signs authorizations).
        challenges: the SMS.
        categories: the hub's categories.
        clock: unix time source.
        worker_timeout: seconds without heartbeat after which a worker is lost.
        allowed_workers: the addresses allowed to work for the pool (required, non-empty).
        max_claims: how many times one task may be handed out.
        max_hold_time: seconds an assignment may last whatever the heartbeats (``None``:
            ``2 × category time + HOLD_MARGIN`` per deal).
        retry_policy: how infrastructure failures are retried (backoff, deadline margin).
        rng: the backoff's jitter (seeded in tests).

    Raises:
        ConfigError: ``CONFIG_WORKERS_MISSING`` / ``CONFIG_WORKERS_INVALID``.
    """

    def __init__(
        self,
        board: TaskBoard,
        *,
        workerpool: str,
        owner_key: bytes,
        challenges: ChallengeSource,
        categories: CategorySource,
        clock: Callable[[], float],
        worker_timeout: float,
        allowed_workers: Iterable[str],
        max_claims: int = DEFAULT_MAX_CLAIMS,
        max_hold_time: float | None = None,
        retry_policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.board = board
        self.workerpool = to_checksum_address(workerpool)
        self._key = owner_key
        self._challenges = challenges
        self._categories = categories
        self._clock = clock
        self.worker_timeout = worker_timeout
        workers = list(allowed_workers)
        check_allowed_workers(workers)
        self._allowed = frozenset(to_checksum_address(a) for a in workers)
        self.max_claims = max_claims
        self.max_hold_time = max_hold_time
        self.retry_policy = retry_policy or RetryPolicy()
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not a secret
        self._started = clock()

    def became_active(self) -> None:
        """Start the lost-worker grace period again: this process just took the pool over.

        Workers were talking to the previous active scheduler (or retrying against nobody):
        each gets ``worker_timeout`` to reach this one before its tasks count as lost.
        """
        self._started = self._clock()

    # -- the chain ------------------------------------------------------------------------

    def apply_events(self, events: Iterable[ChainEvent]) -> int:
        """Apply the hub's events (idempotent); returns how many changed the board."""
        changed = 0
        for event in events:
            key = (event.tx_hash, event.log_index)
            now = self._clock()
            if (
                event.name == "OrdersMatched"
                and to_checksum_address(event.args["workerpool"]) == self.workerpool
            ):
                changed += self._add_deal(event, now)
            elif event.name == "TaskCompleted":
                changed += self.board.finish(
                    task_id_hex(event.args["taskid"]), COMPLETED, "", event=key, now=now
                )
            elif event.name == "TaskFailed":
                detail = f"attested failure, code {int(event.args['code'])}"
                changed += self.board.finish(
                    task_id_hex(event.args["taskid"]), FAILED, detail, event=key, now=now
                )
            elif event.name == "TaskClaimed":
                detail = "refunded after the deadline"
                changed += self.board.finish(
                    task_id_hex(event.args["taskid"]), FAILED, detail, event=key, now=now
                )
        return changed

    def _add_deal(self, event: ChainEvent, now: float) -> bool:
        deal = Deal.from_event(
            bytes(event.args["dealid"]), event.args["deal"], params=str(event.args["params"]),
            block_number=event.block_number,
        )  # fmt: skip
        category = self._categories.category(deal.category)
        max_time = category.max_time if category is not None else 0
        tasks = [
            (task_id_hex(task_id(deal.deal_id, index)), index)
            for index in range(deal.bot_first, deal.bot_first + deal.volume)
        ]
        row = DealRow(
            deal_id=deal_id_hex(deal.deal_id), max_time=max_time, deadline=deal.deadline, volume=deal.volume,
            block_number=deal.block_number, deal_json=json.dumps(deal.to_json(), sort_keys=True),
        )  # fmt: skip
        added = self.board.add_deal(row, tasks, event=(event.tx_hash, event.log_index), now=now)
        if added:
            log.info("deal %s: %d task(s) for pool %s", row.deal_id, deal.volume, self.workerpool)
        return added

    # -- workers --------------------------------------------------------------------------

    def _check_allowed(self, worker: str) -> None:
        # Every worker call, not only registration: a worker taken off the list stops at once.
        if to_checksum_address(worker) not in self._allowed:
            raise ServiceError(f"{worker} is not a worker of this pool", code="WORKER_NOT_ALLOWED")

    def register(self, worker: str, *, slots: int, tee: str, holding: Iterable[str]) -> list[str]:
        """Register (or re-register after a restart) a worker; returns the tasks released from it."""
        self._check_allowed(worker)
        released = self.board.register(worker, slots=slots, tee=tee, holding=holding, now=self._clock())
        if released:
            log.info("worker %s restarted without %d task(s): back to pending", worker, len(released))
        return released

    def heartbeat(self, worker: str) -> list[TaskRow]:
        """Record a heartbeat; returns the tasks the worker holds.

        Raises:
            ServiceError: ``WORKER_NOT_ALLOWED``; ``WORKER_UNKNOWN`` if it must register first.
        """
        self._check_allowed(worker)
        if self.board.heartbeat(worker, now=self._clock()) is None:
            raise ServiceError(f"{worker} is not registered", code="WORKER_UNKNOWN")
        return self.board.held_by(worker)

    def next_assignment(self, worker: str) -> Assignment | None:
        """Hand ``worker`` a task if it has a free slot and one is pending.

        Raises:
            ServiceError: ``WORKER_NOT_ALLOWED``, ``WORKER_UNKNOWN``; ``SMS_*``/``SERVICE_*`` if
                the SMS fails (the task goes back to pending first).
        """
        self._check_allowed(worker)
        record = self.board.heartbeat(worker, now=self._clock())
        if record is None:
            raise ServiceError(f"{worker} is not registered", code="WORKER_UNKNOWN")
        # A worker that lost an answer sees the task in its heartbeat and abandons it.
        held = self.board.held_by(worker)
        if len(held) >= record.slots:
            return None
        now = self._clock()
        claimed = self.board.claim(
            worker, now=now, max_claims=self.max_claims,
            live_since=now - self.worker_timeout, reroute_grace=self.worker_timeout,
        )  # fmt: skip
        if claimed is None:
            return None
        try:
            enclave = self._challenges.enclave_challenge(parse_task_id(claimed.task_id))
            digest = authorization_digest(worker, parse_task_id(claimed.task_id), enclave)
            signature = "0x" + sign_digest(self._key, digest).hex()
        except ServiceError as error:
            if error.code == "RELEASE_TASK_FINALIZED" and self._settle_from_chain(claimed.task_id):
                return None  # the chain had settled it already (an event this scheduler missed)
            self._unclaim(claimed.task_id, worker, error.code)
            raise
        except BaseException:
            self._unclaim(claimed.task_id, worker, "GRANT_FAILED")
            raise
        granted = self.board.grant(
            claimed.task_id, worker, enclave=to_checksum_address(enclave), authorization=signature
        )
        log.info("task %s -> worker %s (attempt %d)", granted.task_id, worker, granted.attempts)
        return self._assignment(granted)

    def _unclaim(self, task: str, worker: str, code: str) -> None:
        self.board.unclaim(
            task, worker, now=self._clock(), code=code, detail="could not get the enclave challenge",
            decide=self._decide,
        )  # fmt: skip

    def _decide(self, code: str, failures: int, deal: DealRow) -> RetryDecision:
        """The pool's retry decision for a failed attempt of a task of ``deal``."""
        return decide_retry(
            code, failures=failures, now=self._clock(), deadline=float(deal.deadline),
            max_time=float(deal.max_time), policy=self.retry_policy, rng=self._rng,
        )  # fmt: skip

    def _settle_from_chain(self, task: str) -> bool:
        """Record a task's final on-chain status when the SMS says it is settled; False if it is not."""
        record = self._categories.task(parse_task_id(task))
        if record is None or not record.status.finalized:
            return False
        status = COMPLETED if record.status == TaskStatus.COMPLETED else FAILED
        self.board.settle(task, status, "settled on chain", now=self._clock())
        log.warning("task %s was already %s on chain; recorded", task, status)
        return True

    def _assignment(self, task: TaskRow) -> Assignment:
        deal = self.board.deal(task.deal_id)
        if deal is None or task.enclave is None or task.authorization is None:
            raise ServiceError(f"task {task.task_id} has no grant yet", code="TASK_UNKNOWN")
        return Assignment(
            task_id=task.task_id, deal_id=task.deal_id, index=task.idx, enclave_challenge=task.enclave,
            authorization=task.authorization, max_time=deal.max_time, deadline=deal.deadline,
            attempt=task.attempts, deal=DealOut.model_validate(json.loads(deal.deal_json)),
        )  # fmt: skip

    def report(
        self, worker: str, task: str, status: str, detail: str = "", code: str | None = None
    ) -> TaskRow:
        """A worker's status report: ``running``, ``submitted``, or a failed attempt.

        ``abandoned`` (no receipt: the enclave could not sign one) and ``retry`` (the enclave
        signed a failure receipt, and the worker asks whether to retry rather than settle it)
        name the failure's stable ``code``; the answer's status says what follows:
        ``pending`` (retried; the worker forgets the task), still held (``retry`` only: the
        worker settles the receipt) or ``expired`` (given up).

        Raises:
            ServiceError: ``WORKER_NOT_ALLOWED``, ``STATUS_INVALID``, ``ASSIGNMENT_NOT_YOURS``,
                ``TASK_UNKNOWN``.
        """
        self._check_allowed(worker)
        if status not in REPORTABLE:
            raise ServiceError(f"status must be one of {', '.join(REPORTABLE)}", code="STATUS_INVALID")
        if code is not None and not is_code(code):
            raise ServiceError("a failure code is UPPER_SNAKE, at most 64 characters", code="STATUS_INVALID")
        self.board.heartbeat(worker, now=self._clock())
        if status in ("abandoned", "retry"):
            row = self.board.fail_attempt(
                task.lower(), worker, code=code or "WORKER_ABANDONED", detail=detail,
                receipt=status == "retry", decide=self._decide, max_claims=self.max_claims, now=self._clock(),
            )  # fmt: skip
            log.info("task %s: attempt failed on %s (%s): now %s", row.task_id, worker, code, row.status)
            return row
        return self.board.report(task.lower(), worker, status, detail, now=self._clock())

    def attempts(self, task: str) -> tuple[TaskRow, list[AttemptRow]]:
        """A task and its attempts.

        Raises:
            ServiceError: ``TASK_UNKNOWN``.
        """
        row = self.board.task(task.lower())
        if row is None:
            raise ServiceError(f"no task {task} on this pool", code="TASK_UNKNOWN")
        return row, self.board.attempts(row.task_id)

    def hold_limit(self, deal: DealRow) -> float:
        """Seconds a worker may hold a task of ``deal``, whatever its heartbeats."""
        if self.max_hold_time is not None:
            return self.max_hold_time
        return 2 * deal.max_time + HOLD_MARGIN

    def sweep(self) -> int:
        """Take tasks back from lost workers and from holds past their limit; return how many.

        Right after the scheduler (re)starts, workers could not heartbeat while it was down:
        they get one full ``worker_timeout`` to show up before any task is taken from them.
        """
        now = self._clock()
        for expired in self.board.expire_exhausted(max_claims=self.max_claims, now=now):
            log.warning("task %s: handed out %d times; expired", expired, self.max_claims)
        if now - self._started < self.worker_timeout:
            return 0
        lost = self.board.lost(now=now, timeout=self.worker_timeout)
        overdue = [
            (task, deal)
            for task, deal in self.board.held_since()
            if task.assigned_at is not None and now - task.assigned_at > self.hold_limit(deal)
        ]
        taken = 0
        seen: set[str] = set()
        for (task, deal), why in [
            *((pair, "worker lost") for pair in lost),
            *((pair, "held too long") for pair in overdue),
        ]:
            if task.task_id in seen:
                continue
            seen.add(task.task_id)
            expire = now + deal.max_time > deal.deadline or task.attempts >= self.max_claims
            detail = f"{why}: " + ("no retry left" if expire else "reassigning")
            code = "WORKER_LOST" if why == "worker lost" else "WORKER_HELD_TOO_LONG"
            if self.board.reclaim(
                task.task_id, task.worker or "", now=now, expire=expire, detail=detail, code=code
            ):
                log.warning("task %s: %s (was %s)", task.task_id, detail, task.worker)
                taken += 1
        return taken
