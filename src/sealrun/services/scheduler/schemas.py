"""The scheduler's JSON bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sealrun.services.scheduler.models import TaskRow
from sealrun.services.scheduler.usecases import Assignment

__all__ = [
    "AssignmentOut",
    "HeartbeatOut",
    "NextIn",
    "RegisterIn",
    "RegisterOut",
    "ReportIn",
    "StatusOut",
    "TaskOut",
]


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


class AssignmentOut(BaseModel):
    """One assignment (see :class:`~sealrun.services.scheduler.usecases.Assignment`)."""

    task_id: str
    deal_id: str
    index: int
    enclave_challenge: str
    authorization: str
    max_time: int
    deadline: int
    attempt: int
    deal: dict[str, Any]

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentOut:
        """Render an assignment."""
        return cls(**vars(assignment))


class ReportIn(BaseModel):
    """A worker's status report on a task it holds."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["running", "submitted", "abandoned"]
    detail: str = Field(default="", max_length=300)


class TaskOut(BaseModel):
    """A task as the scheduler sees it."""

    task_id: str
    deal_id: str
    index: int
    status: str
    worker: str | None
    attempts: int
    detail: str

    @classmethod
    def of(cls, row: TaskRow) -> TaskOut:
        """Render a task row."""
        return cls(
            task_id=row.task_id, deal_id=row.deal_id, index=row.idx, status=row.status, worker=row.worker,
            attempts=row.attempts, detail=row.detail,
        )  # fmt: skip


class HeartbeatOut(BaseModel):
    """The tasks the scheduler believes the worker holds."""

    holding: list[TaskOut]


class StatusOut(BaseModel):
    """Health of the scheduler and its task counts."""

    status: str
    workerpool: str
    tasks: dict[str, int]
