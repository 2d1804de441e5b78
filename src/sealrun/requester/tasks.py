"""A task on chain, followed to its end, and what its end says.

A task ends COMPLETED (the ``TaskCompleted`` event names where the enclave uploaded the
sealed result), FAILED (the enclave's signed failure receipt: a failure code and the sha256
of the sealed logs, which is their name in the blob store) or CLAIMED (refunded after the
deadline).

:func:`follow` reads (and with ``watch`` polls) a task; :func:`steps` says which stages it went
through, from how it ended (never more); :func:`describe` is its JSON (``task show``);
:func:`attested_reason` reads the enclave's own failure message from the opened logs.

Error codes: ``CHAIN_TASK_UNKNOWN`` (:class:`~sealrun.errors.ChainError`), ``TASK_WATCH_TIMEOUT``,
``TASK_NOT_COMPLETED`` (:class:`~sealrun.errors.TaskError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NotRequired, TypedDict

from sealrun.api.ids import task_id_hex
from sealrun.core.tasks import FailureCode
from sealrun.errors import ChainError, TaskError

if TYPE_CHECKING:
    # web3 costs seconds to import: only the commands that follow a task load it.
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.chain.models import Task
    from sealrun.adapters.chain.outcomes import TaskOutcome

__all__ = [
    "TERMINAL",
    "ErrorJson",
    "FollowedTask",
    "TaskDescription",
    "TaskFailureJson",
    "attested_reason",
    "changes",
    "describe",
    "follow",
    "logs_command",
    "read_task",
    "require_result",
    "steps",
]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CLAIMED"})
#: Failure codes an enclave signs after the app ran (the app's own failures, and the upload).
_APP_RAN = frozenset(
    {
        FailureCode.APP_EXIT_NONZERO,
        FailureCode.APP_TIMEOUT,
        FailureCode.APP_MEMORY_EXCEEDED,
        FailureCode.APP_OUTPUT_TOO_LARGE,
        FailureCode.APP_OUTPUT_INVALID,
        FailureCode.RESULT_UPLOAD_FAILED,
    }
)
#: The line the enclave writes into its sealed ``enclave.log`` when a task fails.
_FAILED_LINE = "task failed: "


class ErrorJson(TypedDict):
    """An error as the CLI's JSON reports it."""

    code: str
    message: str


class TaskFailureJson(TypedDict):
    """A FAILED task's attested failure code and its name."""

    code: int
    name: str


class TaskDescription(TypedDict):
    """:func:`describe`: the JSON of ``task show`` (ids and digests ``0x``-hex)."""

    task: str | None
    deal: str | None
    index: int
    status: str
    deadline: int
    result_digest: str | None
    steps: list[str]
    timed_out: NotRequired[bool]
    result_uri: NotRequired[str | None]
    worker: NotRequired[str | None]
    failure: NotRequired[TaskFailureJson]
    logs_command: NotRequired[str]
    log_digest: NotRequired[str | None]
    refund: NotRequired[int | None]


@dataclass(frozen=True)
class FollowedTask:
    """A task's on-chain record and, once it ended, the event that ended it."""

    task: Task
    outcome: TaskOutcome | None
    timed_out: bool = False

    @property
    def status(self) -> str:
        """``UNSET``, ``ACTIVE``, ``COMPLETED``, ``FAILED`` or ``CLAIMED``."""
        return self.task.status.name

    @property
    def done(self) -> bool:
        """Whether the task is in a final state."""
        return self.status in TERMINAL


def _fetch(market: Marketplace, task_id: bytes, start_block: int) -> FollowedTask:
    task = market.task(task_id)
    if task is None:
        raise ChainError(f"no task {task_id_hex(task_id)} in any deal of this hub", code="CHAIN_TASK_UNKNOWN")
    outcome = None
    if task.status.name in TERMINAL:
        from sealrun.adapters.chain.outcomes import task_outcome

        outcome = task_outcome(market.hub, task_id, from_block=start_block)
    return FollowedTask(task, outcome)


def read_task(market: Marketplace, task_id: bytes, start_block: int) -> FollowedTask:
    """Read the task once from the chain (its outcome too, once it ended).

    Raises:
        ChainError: ``CHAIN_TASK_UNKNOWN``.
    """
    return _fetch(market, task_id, start_block)


def changes(
    market: Marketplace, task_id: bytes, *, start_block: int, timeout: float = 3600.0, interval: float = 0.25
) -> Iterator[FollowedTask]:
    """Poll the task, yielding it on each new status until it ends; when ``timeout`` passes
    first, the last item is the task as last read, with ``timed_out`` set.

    Raises:
        TaskError: ``TASK_WATCH_TIMEOUT`` (the task never appeared on chain within ``timeout``).
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            current: FollowedTask | None = _fetch(market, task_id, start_block)
        except ChainError as error:
            # A just-filled deal may not be indexed yet: keep watching unknown tasks.
            if error.code != "CHAIN_TASK_UNKNOWN":
                raise
            current = None
        if current is not None and current.status != last:
            last = current.status
            yield current
            if current.done:
                return
        if time.monotonic() > deadline:
            if current is None:
                raise TaskError(
                    f"task {task_id_hex(task_id)} did not end within {timeout:.0f} s "
                    f"(last status {last or 'unknown'})",
                    code="TASK_WATCH_TIMEOUT",
                )
            yield FollowedTask(current.task, current.outcome, timed_out=True)
            return
        time.sleep(interval)


def follow(
    market: Marketplace,
    task_id: bytes,
    *,
    start_block: int,
    watch: bool,
    timeout: float = 3600.0,
    interval: float = 0.25,
    on_change: Callable[[FollowedTask], None] = lambda _t: None,
) -> FollowedTask:
    """Read the task; with ``watch``, poll until it ends (:func:`changes`), calling ``on_change``
    on each new status (:func:`sealrun.requester.live.live_changes` follows it live instead).

    Returns:
        The task as last read; ``timed_out`` is set when ``timeout`` passed before it ended.

    Raises:
        ChainError: ``CHAIN_TASK_UNKNOWN`` (not watching); TaskError: ``TASK_WATCH_TIMEOUT`` (the task
            never appeared on chain within ``timeout``).
    """
    if not watch:
        current = _fetch(market, task_id, start_block)
        on_change(current)
        return current
    last: FollowedTask | None = None
    for last in changes(market, task_id, start_block=start_block, timeout=timeout, interval=interval):
        if not last.timed_out:
            on_change(last)
    assert last is not None  # changes() yields at least once or raises
    return last


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _failure(followed: FollowedTask) -> FailureCode | None:
    outcome = followed.outcome
    if outcome is None or outcome.kind != "failed" or outcome.failure_code is None:
        return None
    try:
        return FailureCode(outcome.failure_code)
    except ValueError:
        return None


def steps(followed: FollowedTask) -> list[str]:
    """The stages the task went through, read from how it ended: never one that did not happen.

    Every failure receipt is signed by the enclave key the SMS bound to an attestation, so a
    FAILED task was attested; the failure code says whether the app ran (and was sealed).
    """
    status = followed.status
    if status == "COMPLETED":
        return ["scheduled", "attested", "app ran", "result sealed", "settled on chain"]
    if status == "FAILED":
        code = _failure(followed)
        name = code.name if code is not None else "UNKNOWN"
        ran = ["app ran"] if code in _APP_RAN else []
        sealed = ["result sealed"] if code is FailureCode.RESULT_UPLOAD_FAILED else []
        return ["scheduled", "attested", *ran, *sealed, f"failed: {name}", "refunded on chain"]
    if status == "CLAIMED":
        return ["not finished by its deadline", "refunded (claimed)"]
    if status in ("ACTIVE", "REVEALING"):
        return ["scheduled"]
    return []


def attested_reason(logs: dict[str, str]) -> str | None:
    """The enclave's own failure message (``CODE: message``) from its opened sealed logs."""
    lines = logs.get("enclave.log", "").splitlines()
    found = [line.removeprefix(_FAILED_LINE) for line in lines if line.startswith(_FAILED_LINE)]
    return found[-1] if found else None


def logs_command(task_id: bytes) -> str:
    """The command that opens a task's sealed logs."""
    return f"sealrun task logs {task_id_hex(task_id)}"


def describe(followed: FollowedTask) -> TaskDescription:
    """The JSON of ``task show``: the on-chain record plus how it ended (and which stages it saw)."""
    task, outcome = followed.task, followed.outcome
    data: TaskDescription = {
        "task": _hex(task.task_id),
        "deal": _hex(task.deal_id),
        "index": task.index,
        "status": followed.status,
        "deadline": task.deadline,
        "result_digest": _hex(task.result_digest),
        "steps": steps(followed),
    }
    if followed.timed_out:
        data["timed_out"] = True
    if outcome is not None and outcome.kind == "completed":
        data["result_uri"] = outcome.result_uri
        data["worker"] = outcome.worker
    if outcome is not None and outcome.kind == "failed" and outcome.failure_code is not None:
        code = _failure(followed)
        data["failure"] = {"code": outcome.failure_code, "name": code.name if code else "UNKNOWN"}
        data["logs_command"] = logs_command(task.task_id)
        data["log_digest"] = _hex(outcome.log_digest)
        data["worker"] = outcome.worker
    if outcome is not None and outcome.kind == "claimed":
        data["refund"] = outcome.refund
    return data


def require_result(followed: FollowedTask) -> str:
    """The URI of a COMPLETED task's sealed result.

    Raises:
        ConfigError: ``TASK_NOT_COMPLETED``.
    """
    outcome = followed.outcome
    if outcome is None or outcome.kind != "completed" or not outcome.result_uri:
        raise TaskError(
            f"task {task_id_hex(followed.task.task_id)} is {followed.status}: there is no result to download",
            code="TASK_NOT_COMPLETED",
        )
    return outcome.result_uri
