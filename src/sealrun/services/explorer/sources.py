"""What the explorer shows, read from public data only: the chain and the services' public routes.

:class:`PublicData` reads the hub's registries, deals and tasks (:class:`ChainReader`), a pool
scheduler's public task routes and event stream (:class:`TaskEventsClient`) and the market's
order book (:class:`MarketClient`), and turns them into the frozen views the templates render.
Nothing here signs a request: the explorer has no key, and shows no more than any of these
sources gives anyone. In particular, the SMS serves a dataset's release audit only to the
dataset's owner (a signed request): the explorer shows the dataset's public usage (deals and
tasks on chain and on the pool) and says where the owner reads the full audit.

A source that is not configured or does not answer leaves its part of a page empty with a
note (``notes``), never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sealrun.api.ids import parse_deal_id, parse_task_id
from sealrun.api.scheduler import TaskEventOut, TaskOut
from sealrun.core.chainstate import ZERO_ADDRESS, ChainReader, DealRecord
from sealrun.errors import SealrunError

__all__ = [
    "AppView",
    "DatasetView",
    "DealView",
    "OrderBookView",
    "OrderRow",
    "PublicData",
    "SchedulerSource",
    "Step",
    "TaskView",
    "WorkerpoolView",
    "timeline",
]

log = logging.getLogger(__name__)

#: The scheduler's statuses, as the timeline names the step each one means.
_STEP_NAMES = {
    "pending": "scheduled",
    "assigned": "assigned",
    "running": "ran",
    "submitted": "sealed",
    "completed": "settled",
    "failed": "settled",
    "expired": "expired",
}


@dataclass(frozen=True)
class Step:
    """One step of a task's timeline."""

    name: str
    status: str
    at: float | None
    detail: str
    event_id: int | None = None


@dataclass(frozen=True)
class TaskView:
    """A task: its chain record, the pool's view of it and its timeline."""

    task_id: str
    deal_id: str
    index: int | None
    chain_status: str
    final_deadline: int | None
    pool: TaskOut | None
    steps: list[Step]
    last_event: int
    notes: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """Whether the task may still change (the page then subscribes to its events)."""
        return self.chain_status not in ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class DealView:
    """A deal: its parties (from the chain) and its tasks (from the pool)."""

    deal_id: str
    record: DealRecord | None
    tasks: list[TaskOut]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AppView:
    """A registered app and its fingerprint (the measurement enclaves must show)."""

    address: str
    owner: str
    fingerprint: str
    deals: list[DealView]


@dataclass(frozen=True)
class DatasetView:
    """A registered dataset and its public usage (the deals and tasks that used it)."""

    address: str
    owner: str
    url: str
    checksum: str
    deals: list[DealView]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerpoolView:
    """A registered workerpool and, when its scheduler is the one configured, its task counts."""

    address: str
    owner: str
    counts: dict[str, int]
    deals: list[DealView]


@dataclass(frozen=True)
class OrderRow:
    """One open order of the book."""

    kind: str
    order_hash: str
    subject: str
    price: str
    remaining: int
    signer: str


@dataclass(frozen=True)
class OrderBookView:
    """The market's open orders, cheapest first per kind."""

    orders: list[OrderRow]
    notes: list[str] = field(default_factory=list)


def _detail(event: TaskEventOut) -> str:
    """What a step says: who holds the task while held, else the scheduler's own words."""
    if event.worker and event.status in ("assigned", "running", "submitted"):
        return f"worker {event.worker}, attempt {event.attempt}"
    return event.detail


def timeline(events: list[TaskEventOut], chain_status: str) -> list[Step]:
    """The steps of a task, from the pool's events and its chain status (never more)."""
    steps = [
        Step(
            name=_STEP_NAMES.get(event.status, event.status),
            status=event.status,
            at=event.at,
            detail=_detail(event),
            event_id=event.id,
        )
        for event in events
    ]
    if chain_status in ("COMPLETED", "FAILED") and not any(step.name == "settled" for step in steps):
        steps.append(Step("settled", chain_status.lower(), None, "recorded on chain"))
    return steps


class SchedulerSource(Protocol):
    """The public routes of one pool's scheduler (``adapters.http.taskevents.TaskEventsClient``)."""

    def task(self, task_id: str) -> TaskOut:
        """One task (``TASK_UNKNOWN`` when not on this pool)."""

    def tasks(self, deal_id: str | None = None) -> list[TaskOut]:
        """The pool's tasks (of one deal)."""

    def recorded(self, task_id: str) -> list[TaskEventOut]:
        """A task's events so far."""


@dataclass(frozen=True)
class ReceiptView:
    """A task's receipt as the explorer shows it: ``sealrun verify``'s checks and verdict.

    ``error`` is the code when no receipt could be read (none stored yet, store unreachable);
    ``checks`` are ``(code, status, detail, reason)`` rows, status ``pass``, ``fail``,
    ``skipped`` or ``simulated``.
    """

    verified: bool = False
    digest: str = ""
    tee: str = ""
    simulated: bool = False
    checks: tuple[tuple[str, str, str, str], ...] = ()
    error: str | None = None


class PublicData:
    """Reads the explorer's pages.

    Args:
        chain: the hub's registries, deals and tasks.
        scheduler: the pool scheduler's public client (``None``: no pool data).
        orderbook: lists open orders of a kind (``None``: no market configured).
    """

    def __init__(
        self,
        chain: ChainReader,
        *,
        scheduler: SchedulerSource | None = None,
        orderbook: Callable[[str], list[OrderRow]] | None = None,
        receipts: Callable[[bytes], ReceiptView] | None = None,
    ) -> None:
        self._chain = chain
        self._scheduler = scheduler
        self._orderbook = orderbook
        self._receipts = receipts

    def receipt(self, task_id: str) -> ReceiptView | None:
        """The task's receipt and its verification verdict (``None``: no store configured).

        Raises:
            InvalidInputError: ``INVALID_TASK_ID``.
        """
        if self._receipts is None:
            return None
        return self._receipts(parse_task_id(task_id.lower()))

    def _pool_tasks(self, deal_id: str | None = None) -> tuple[list[TaskOut], list[str]]:
        if self._scheduler is None:
            return [], ["no scheduler is configured: the pool's view of tasks is not shown"]
        try:
            return self._scheduler.tasks(deal_id), []
        except SealrunError as error:
            return [], [f"the scheduler did not answer ({error.code})"]

    def deals(self) -> list[DealView]:
        """The deals the pool knows, newest last."""
        tasks, notes = self._pool_tasks()
        by_deal: dict[str, list[TaskOut]] = {}
        for task in tasks:
            by_deal.setdefault(task.deal_id, []).append(task)
        return [
            DealView(deal_id, self._chain.deal(parse_deal_id(deal_id)), found, notes)
            for deal_id, found in by_deal.items()
        ]

    def deal(self, deal_id: str) -> DealView | None:
        """One deal (``None`` when neither the chain nor the pool knows it).

        Raises:
            InvalidInputError: ``INVALID_DEAL_ID``.
        """
        record = self._chain.deal(parse_deal_id(deal_id))
        tasks, notes = self._pool_tasks(deal_id.lower())
        if record is None and not tasks:
            return None
        return DealView(deal_id.lower(), record, tasks, notes)

    def task(self, task_id: str) -> TaskView | None:
        """One task and its timeline (``None`` when neither the chain nor the pool knows it).

        Raises:
            InvalidInputError: ``INVALID_TASK_ID``.
        """
        wanted = task_id.lower()
        record = self._chain.task(parse_task_id(wanted))
        pool: TaskOut | None = None
        events: list[TaskEventOut] = []
        notes: list[str] = []
        if self._scheduler is not None:
            try:
                pool = self._scheduler.task(wanted)
                events = self._scheduler.recorded(wanted)
            except SealrunError as error:
                notes.append(f"the pool's scheduler has no events for this task ({error.code})")
        if record is None and pool is None:
            return None
        status = record.status.name if record is not None else "UNSET"
        deal_id = "0x" + record.deal_id.hex() if record is not None else (pool.deal_id if pool else "")
        return TaskView(
            task_id=wanted, deal_id=deal_id, index=record.index if record else (pool.index if pool else None),
            chain_status=status, final_deadline=record.final_deadline if record else None, pool=pool,
            steps=timeline(events, status), last_event=events[-1].id if events else 0, notes=notes,
        )  # fmt: skip

    def _deals_where(self, match: Callable[[DealRecord], bool]) -> list[DealView]:
        return [deal for deal in self.deals() if deal.record is not None and match(deal.record)]

    def app(self, address: str) -> AppView | None:
        """A registered app and the pool's deals that ran it."""
        record = self._chain.app(address)
        if record is None:
            return None
        deals = self._deals_where(lambda deal: deal.app.lower() == record.address.lower())
        return AppView(record.address, record.owner, "0x" + record.fingerprint.hex(), deals)

    def dataset(self, address: str) -> DatasetView | None:
        """A registered dataset and its public usage."""
        record = self._chain.dataset(address)
        if record is None:
            return None
        deals = self._deals_where(lambda deal: deal.dataset.lower() == record.address.lower())
        note = (
            "The SMS's release audit (which enclave measurement and TEE each key went to) is served to "
            "the dataset's owner only: `sealrun dataset audit` with the owner's wallet."
        )
        return DatasetView(
            record.address, record.owner, record.url, "0x" + record.checksum.hex(), deals, [note]
        )

    def workerpool(self, address: str) -> WorkerpoolView | None:
        """A registered workerpool; its task counts when it is the configured scheduler's pool."""
        record = self._chain.workerpool(address)
        if record is None:
            return None
        deals = self._deals_where(lambda deal: deal.workerpool.lower() == record.address.lower())
        counts: dict[str, int] = {}
        for deal in deals:
            for task in deal.tasks:
                counts[task.status] = counts.get(task.status, 0) + 1
        return WorkerpoolView(record.address, record.owner, counts, deals)

    def orderbook(self) -> OrderBookView:
        """The open orders of every kind."""
        if self._orderbook is None:
            return OrderBookView([], ["no market is configured"])
        orders: list[OrderRow] = []
        notes: list[str] = []
        for kind in ("app", "dataset", "workerpool", "request"):
            try:
                orders += self._orderbook(kind)
            except SealrunError as error:
                notes.append(f"the market did not list {kind} orders ({error.code})")
        return OrderBookView(orders, notes)


def is_zero(address: str) -> bool:
    """Whether ``address`` is the zero address (no dataset, anyone)."""
    return address.lower() == ZERO_ADDRESS.lower()
