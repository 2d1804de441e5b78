"""The scheduler's wire contract: its routes and JSON bodies.

Every worker call is a signed request by the worker (:mod:`sealrun.api.signing`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AssignmentOut",
    "AttemptOut",
    "AttemptsOut",
    "DealOut",
    "HeartbeatOut",
    "NextIn",
    "RegisterIn",
    "RegisterOut",
    "ReportIn",
    "Routes",
    "StatusOut",
    "TaskOut",
]


class Routes:
    """The scheduler's paths (``str.format`` templates; the service declares exactly these)."""

    WORKERS = "/v1/workers"
    HEARTBEAT = "/v1/workers/heartbeat"
    NEXT = "/v1/assignments/next"
    TASKS = "/v1/tasks"
    TASK = "/v1/tasks/{task_id}"
    TASK_STATUS = "/v1/tasks/{task_id}/status"
    TASK_ATTEMPTS = "/v1/tasks/{task_id}/attempts"
    STATUS = "/v1/status"


class RegisterIn(BaseModel):
    """A worker's registration: its capacity, TEE backend and the tasks it still holds."""

    model_config = ConfigDict(extra="forbid")

    slots: int = Field(ge=1, le=256)
    tee: str = Field(min_length=1, max_length=32)
    holding: list[str] = Field(default_factory=list, max_length=256)


class RegisterOut(BaseModel):
    """The registered worker and the tasks taken back from it (it restarted without them)."""

    worker: str
    released: list[str]
    heartbeat_interval: float


class NextIn(BaseModel):
    """How long to wait for an assignment (long poll)."""

    model_config = ConfigDict(extra="forbid")

    wait: float = Field(default=10.0, ge=0, le=60)


class DealOut(BaseModel):
    """A deal as the hub's ``OrdersMatched`` emitted it (bytes as ``0x`` hex; the worker settles with it)."""

    deal_id: str
    app: str
    app_owner: str
    app_price: int
    dataset: str
    dataset_owner: str
    dataset_price: int
    workerpool: str
    workerpool_owner: str
    workerpool_price: int
    scheduler_reward_ratio: int
    stake: int
    requester: str
    beneficiary: str
    callback: str
    category: int
    tag: str
    trust: int
    start_time: int
    deadline: int
    bot_first: int
    volume: int
    request_hash: str
    params: str = ""
    block_number: int = 0


class AssignmentOut(BaseModel):
    """One assignment: what a worker needs to run a task."""

    task_id: str
    deal_id: str
    index: int
    enclave_challenge: str
    authorization: str
    max_time: int
    deadline: int
    attempt: int
    deal: DealOut


#: A stable failure code (``sealrun.errors`` codes, ``FailureCode`` names).
FAILURE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"


class ReportIn(BaseModel):
    """A worker's status report on a task it holds.

    ``abandoned`` gives the task back (the attempt failed without a failure receipt);
    ``retry`` says the attempt ended in a failure receipt and asks whether to retry instead
    of settling it. Both name the failure's stable ``code``.
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["running", "submitted", "abandoned", "retry"]
    detail: str = Field(default="", max_length=300)
    code: str | None = Field(default=None, pattern=FAILURE_CODE_PATTERN)


class TaskOut(BaseModel):
    """A task as the scheduler sees it."""

    task_id: str
    deal_id: str
    index: int
    status: str
    worker: str | None
    attempts: int
    detail: str
    next_retry_at: float | None = None


class AttemptOut(BaseModel):
    """One attempt at a task and why it ended (times are unix seconds).

    ``outcome``: ``running``, ``submitted``, ``retry`` (retried at ``next_retry_at``),
    ``settle`` (its failure receipt is settled), ``given_up``, ``completed`` or ``failed``.
    ``failure_class``: ``infrastructure`` (retried) or ``app`` (not).
    """

    number: int
    worker: str
    started_at: float
    ended_at: float | None
    outcome: str
    code: str | None
    failure_class: Literal["infrastructure", "app"] | None
    next_retry_at: float | None
    detail: str


class AttemptsOut(BaseModel):
    """A task's state and its attempts, first to last."""

    task: TaskOut
    attempts: list[AttemptOut]


class HeartbeatOut(BaseModel):
    """The tasks the scheduler believes the worker holds."""

    holding: list[TaskOut]


class StatusOut(BaseModel):
    """Health of the scheduler and its task counts."""

    status: str
    workerpool: str
    tasks: dict[str, int]
