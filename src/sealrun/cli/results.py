"""Follow a task to its end, fetch its sealed result or sealed logs: what ``task show
--watch --download``, ``task logs``, ``app run`` and ``sealrun demo`` share.

A task ends COMPLETED (the ``TaskCompleted`` event names where the enclave uploaded the
sealed result), FAILED (the enclave's signed failure receipt: a failure code and the sha256
of the sealed logs, which is their name in the blob store) or CLAIMED (refunded after the
deadline). Downloads are content-addressed: the bytes must hash to their name, and signed
by the requester's wallet (``signer``): the store serves a task's result and logs to the
deal's beneficiary only. The logs of a COMPLETED task are found through the store's record
of the task's blobs (``GET /v1/tasks/<id>/blobs``).

:func:`steps` says which stages a task went through, from how it ended (never more);
:func:`attested_reason` reads the enclave's own failure message from the opened logs;
:func:`exit_status` is the status a command that waited for the task exits with.

Sealed files land in ``tee/encryptedOutputs`` when the project has the seed's ``tee``
folder (``sealrun tee init``), else in the current folder.

Error codes: ``TASK_WATCH_TIMEOUT`` (:class:`~sealrun.errors.ChainError`), ``TASK_NOT_COMPLETED``,
``TASK_NO_LOGS`` (:class:`~sealrun.errors.ConfigError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealrun.api.blobs import parse_blob_url
from sealrun.api.ids import task_id_hex
from sealrun.cli.output import EXIT_TASK_FAILED, EXIT_TIMED_OUT, Output
from sealrun.core.tasks import FailureCode
from sealrun.errors import ChainError, ConfigError

if TYPE_CHECKING:
    # web3 costs seconds to import: only the commands that follow a task load it.
    from sealrun.adapters.chain.client import Marketplace
    from sealrun.adapters.chain.models import Task
    from sealrun.adapters.chain.outcomes import TaskOutcome
    from sealrun.adapters.storeclient import RequestSigner

__all__ = [
    "TERMINAL",
    "FollowedTask",
    "attested_reason",
    "describe",
    "download_logs",
    "download_result",
    "exit_status",
    "follow",
    "logs_command",
    "outcome_lines",
    "require_result",
    "sealed_folder",
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
    """Read the task; with ``watch``, poll until it ends, calling ``on_change`` on each new status.

    Returns:
        The task as last read; ``timed_out`` is set when ``timeout`` passed before it ended.

    Raises:
        ChainError: ``CHAIN_TASK_UNKNOWN`` (not watching) or ``TASK_WATCH_TIMEOUT`` (the task
            never appeared on chain within ``timeout``).
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            current = _fetch(market, task_id, start_block)
        except ChainError as error:
            # A just-filled deal may not be indexed yet: keep watching unknown tasks.
            if not watch or error.code != "CHAIN_TASK_UNKNOWN":
                raise
            current = None
        if current is not None and current.status != last:
            last = current.status
            on_change(current)
        if current is not None and (current.done or not watch):
            return current
        if time.monotonic() > deadline:
            if current is not None:
                return FollowedTask(current.task, current.outcome, timed_out=True)
            raise ChainError(
                f"task {task_id_hex(task_id)} did not end within {timeout:.0f} s "
                f"(last status {last or 'unknown'})",
                code="TASK_WATCH_TIMEOUT",
            )
        time.sleep(interval)


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


def exit_status(followed: FollowedTask) -> int:
    """What a command that waited for the task exits with: 0 COMPLETED (or not watched to its
    end), ``EXIT_TASK_FAILED`` FAILED or CLAIMED, ``EXIT_TIMED_OUT`` when the wait ran out."""
    if followed.timed_out:
        return EXIT_TIMED_OUT
    if followed.status in ("FAILED", "CLAIMED"):
        return EXIT_TASK_FAILED
    return 0


def logs_command(task_id: bytes) -> str:
    """The command that opens a task's sealed logs."""
    return f"sealrun task logs {task_id_hex(task_id)}"


def finish(out: Output, data: dict[str, Any], followed: FollowedTask) -> None:
    """Print a followed task's result and outcome lines, then exit with its status
    (:func:`exit_status`: non-zero when it FAILED, was CLAIMED or the wait timed out)."""
    from rich.markup import escape

    out.result(data)
    for line in outcome_lines(data):
        out.info(escape(line))
    status = exit_status(followed)
    if status:
        raise SystemExit(status)


def outcome_lines(data: dict[str, Any]) -> list[str]:
    """What to tell a human about a task that did not complete (from :func:`describe`'s data
    plus ``reason``/``reason_error``): the failure name, the attested reason, the next command."""
    task, status = data.get("task", ""), data.get("status", "")
    if data.get("timed_out"):
        return [
            f"task {task} is still {status} after the wait: "
            f"`sealrun task show {task} --watch` keeps following it"
        ]
    lines: list[str] = []
    failure = data.get("failure")
    if status == "FAILED" and failure:
        lines.append(f"task {task} FAILED: {failure['name']} (failure code {failure['code']})")
        if data.get("reason"):
            lines.append(f"attested reason: {data['reason']}")
        elif data.get("reason_error"):
            error = data["reason_error"]
            lines.append(f"attested reason: not read ({error['code']}: {error['message']})")
        lines.append(f"logs: `sealrun task logs {task}`")
    elif status == "CLAIMED":
        lines.append(f"task {task} did not finish by its deadline and was refunded (CLAIMED)")
    return lines


def describe(followed: FollowedTask) -> dict[str, Any]:
    """The JSON of ``task show``: the on-chain record plus how it ended (and which stages it saw)."""
    task, outcome = followed.task, followed.outcome
    data: dict[str, Any] = {
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


def sealed_folder(project_root: Path) -> Path:
    """Where downloads go: ``tee/encryptedOutputs`` in a ``tee init`` project, else the cwd."""
    tee = project_root / "tee" / "encryptedOutputs"
    return tee if tee.is_dir() else Path.cwd()


def require_result(followed: FollowedTask) -> str:
    """The URI of a COMPLETED task's sealed result.

    Raises:
        ConfigError: ``TASK_NOT_COMPLETED``.
    """
    outcome = followed.outcome
    if outcome is None or outcome.kind != "completed" or not outcome.result_uri:
        raise ConfigError(
            f"task {task_id_hex(followed.task.task_id)} is {followed.status}: there is no result to download",
            code="TASK_NOT_COMPLETED",
        )
    return outcome.result_uri


def download_result(
    followed: FollowedTask,
    folder: Path,
    signer: RequestSigner,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Download the sealed result of a COMPLETED task into ``folder/<taskid>.result.age``.

    ``signer`` signs the request with the requester's wallet (the store serves the deal's
    beneficiary only).

    Raises:
        ConfigError: ``TASK_NOT_COMPLETED``; StorageError: unreachable, not found, checksum
            mismatch, ``STORAGE_NOT_BENEFICIARY``.
    """
    blob = parse_blob_url(require_result(followed))
    base, checksum = blob.store, blob.checksum
    folder.mkdir(parents=True, exist_ok=True)
    from sealrun.adapters.storeclient import StoreClient

    store = StoreClient(base)
    try:
        target = folder / f"{task_id_hex(followed.task.task_id)}.result.age"
        return store.download(checksum, target, signer=signer, progress=progress)
    finally:
        store.close()


def download_logs(
    followed: FollowedTask,
    store_url: str,
    folder: Path,
    signer: RequestSigner,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Download the sealed logs of a task that ended, COMPLETED or FAILED.

    A failure receipt names its logs (their sha256); for any other task the store's record of
    the task's blobs does (the newest ``logs``: a relaunched enclave seals them again).

    Raises:
        ConfigError: ``TASK_NO_LOGS`` (not ended, or no sealed logs reached the store);
        StorageError: unreachable, not found, checksum mismatch, ``STORAGE_NOT_BENEFICIARY``.
    """
    task_id = followed.task.task_id
    from sealrun.adapters.storeclient import StoreClient

    store = StoreClient(store_url)
    try:
        outcome = followed.outcome
        if outcome is not None and outcome.log_digest is not None and any(outcome.log_digest):
            checksum = outcome.log_digest.hex()
        else:
            found = (
                [b for b in store.task_blobs(task_id, signer) if b.kind == "logs"] if followed.done else []
            )
            if not found:
                raise ConfigError(
                    f"task {task_id_hex(task_id)} is {followed.status}: the store holds no sealed logs of it"
                    + ("" if followed.done else " (yet: they are sealed when it ends)"),
                    code="TASK_NO_LOGS",
                )
            checksum = found[-1].checksum
        folder.mkdir(parents=True, exist_ok=True)
        return store.download(
            checksum, folder / f"{task_id_hex(task_id)}.logs.age", signer=signer, progress=progress
        )
    finally:
        store.close()
