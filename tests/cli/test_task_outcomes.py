"""How the CLI tells what happened to a task: its stages, the attested reason, the exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.adapters.chain.models import HubTaskStatus, Task
from sealrun.adapters.chain.outcomes import TaskOutcome
from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.adapters.localchain.anvil import free_port
from sealrun.cli import result as printing
from sealrun.cli.output import EXIT_TASK_FAILED, EXIT_TIMED_OUT
from sealrun.core.requests import RequestDomain
from sealrun.core.tasks import FailureCode
from sealrun.errors import StorageError, TaskError
from sealrun.requester import downloads
from sealrun.requester import tasks as results

TASK_ID = bytes(range(32))
TASK = "0x" + TASK_ID.hex()


def followed(
    status: str, outcome: TaskOutcome | None = None, *, timed_out: bool = False
) -> results.FollowedTask:
    task = Task(
        task_id=TASK_ID,
        deal_id=b"\x01" * 32,
        index=0,
        status=HubTaskStatus[status],
        result_digest=None,
        deadline=1_800_000_000,
    )
    return results.FollowedTask(task, outcome, timed_out=timed_out)


def failed(code: FailureCode) -> results.FollowedTask:
    outcome = TaskOutcome(
        "failed", 10, worker="0x" + "02" * 20, failure_code=int(code), log_digest=b"\x03" * 32
    )
    return followed("FAILED", outcome)


def test_a_completed_task_went_through_every_stage() -> None:
    outcome = TaskOutcome(
        "completed", 10, worker="0x" + "02" * 20, result_uri="http://store/v1/blobs/" + "a" * 64
    )
    done = followed("COMPLETED", outcome)
    assert results.steps(done) == ["scheduled", "attested", "app ran", "result sealed", "settled on chain"]
    assert printing.exit_status(done) == 0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            FailureCode.SANDBOX_FAILED,
            ["scheduled", "attested", "failed: SANDBOX_FAILED", "refunded on chain"],
        ),
        (
            FailureCode.SECRET_MISSING,
            ["scheduled", "attested", "failed: SECRET_MISSING", "refunded on chain"],
        ),
        (
            FailureCode.APP_EXIT_NONZERO,
            ["scheduled", "attested", "app ran", "failed: APP_EXIT_NONZERO", "refunded on chain"],
        ),
        (
            FailureCode.RESULT_UPLOAD_FAILED,
            [
                "scheduled",
                "attested",
                "app ran",
                "result sealed",
                "failed: RESULT_UPLOAD_FAILED",
                "refunded on chain",
            ],
        ),
    ],
)
def test_a_failed_task_claims_only_the_stages_it_reached(code: FailureCode, expected: list[str]) -> None:
    task = failed(code)
    assert results.steps(task) == expected
    assert printing.exit_status(task) == EXIT_TASK_FAILED
    data = results.describe(task)
    assert data["steps"] == expected
    assert data["failure"] == {"code": int(code), "name": code.name}
    assert data["logs_command"] == f"sealrun task logs {TASK}"


def test_claimed_and_timed_out_tasks_exit_non_zero() -> None:
    claimed = followed("CLAIMED", TaskOutcome("claimed", 10, refund=5))
    assert printing.exit_status(claimed) == EXIT_TASK_FAILED
    assert results.steps(claimed) == ["not finished by its deadline", "refunded (claimed)"]
    waiting = followed("ACTIVE", timed_out=True)
    assert printing.exit_status(waiting) == EXIT_TIMED_OUT
    assert results.describe(waiting)["timed_out"] is True
    assert printing.outcome_lines(results.describe(waiting)) == [
        f"task {TASK} is still ACTIVE after the wait: `sealrun task show {TASK} --watch` keeps following it"
    ]
    assert printing.exit_status(followed("ACTIVE")) == 0  # not watched to its end: nothing to report


def test_the_attested_reason_is_the_enclaves_last_failure_line() -> None:
    logs = {
        "enclave.log": "app exit status 3, signal None\n"
        "task failed: APP_EXIT_NONZERO: the app exited with status 3\n",
        "stderr.log": "task failed: forged by the app\n",
    }
    assert results.attested_reason(logs) == "APP_EXIT_NONZERO: the app exited with status 3"
    assert results.attested_reason({"stdout.log": "fine"}) is None


def test_failure_lines_name_the_failure_the_reason_and_the_logs_command() -> None:
    data = {**results.describe(failed(FailureCode.APP_EXIT_NONZERO)), "reason": "APP_EXIT_NONZERO: status 3"}
    assert printing.outcome_lines(data) == [
        f"task {TASK} FAILED: APP_EXIT_NONZERO (failure code 1)",
        "attested reason: APP_EXIT_NONZERO: status 3",
        f"logs: `sealrun task logs {TASK}`",
    ]
    unread = {
        **results.describe(failed(FailureCode.SANDBOX_FAILED)),
        "reason_error": {"code": "KEY_FILE_NOT_FOUND", "message": "no keys/result.key"},
    }
    assert (
        printing.outcome_lines(unread)[1]
        == "attested reason: not read (KEY_FILE_NOT_FOUND: no keys/result.key)"
    )


#: A wallet's signer; the store is never reached in these tests (or is unreachable).
_unsigned = SignedRequestAuth(b"\x01" * 32, RequestDomain(chain_id=1, hub="0x" + "11" * 20))


def test_only_a_completed_task_with_a_result_has_one_to_download(tmp_path: Path) -> None:
    no_uri = TaskOutcome("completed", 10, worker="0x" + "02" * 20, result_uri=None)
    for task in (followed("ACTIVE"), followed("COMPLETED", no_uri), failed(FailureCode.APP_EXIT_NONZERO)):
        with pytest.raises(TaskError) as caught:
            downloads.download_result(task, tmp_path / "out", _unsigned)
        assert caught.value.code == "TASK_NOT_COMPLETED"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "uri",
    [
        "ftp://store/v1/blobs/" + "a" * 64,
        "file:///v1/blobs/" + "a" * 64,
        "http://store/v1/blob/" + "a" * 64,
        "http://store/v1/blobs/" + "a" * 63,
        "http://store/v1/blobs/0x" + "a" * 66,
    ],
)
def test_a_result_uri_that_is_no_blob_url_is_refused_before_any_request(tmp_path: Path, uri: str) -> None:
    done = followed("COMPLETED", TaskOutcome("completed", 10, worker="0x" + "02" * 20, result_uri=uri))
    with pytest.raises(StorageError) as caught:
        downloads.download_result(done, tmp_path / "out", _unsigned)
    assert caught.value.code == "STORAGE_URI_INVALID"
    assert not (tmp_path / "out").exists()


def test_a_well_formed_result_uri_reaches_for_the_store(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}/v1/blobs/0x" + "a" * 64
    done = followed("COMPLETED", TaskOutcome("completed", 10, worker="0x" + "02" * 20, result_uri=uri))
    with pytest.raises(StorageError) as caught:
        downloads.download_result(done, tmp_path / "out", _unsigned)
    assert caught.value.code == "STORAGE_UNREACHABLE"  # past the URI check: the store is asked


def test_a_running_task_has_no_logs_yet_and_the_store_is_not_asked(tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TaskError) as caught:
        downloads.download_logs(followed("ACTIVE"), unreachable, tmp_path / "out", _unsigned)
    assert caught.value.code == "TASK_NO_LOGS"
    assert "yet" in caught.value.message
    assert not (tmp_path / "out").exists()
    with pytest.raises(StorageError) as ended:  # an ended task's logs are looked up in the store
        downloads.download_logs(followed("COMPLETED"), unreachable, tmp_path / "out", _unsigned)
    assert ended.value.code == "STORAGE_UNREACHABLE"
