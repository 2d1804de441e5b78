"""The task board under concurrent writers: the chain's outcome is never overwritten.

A worker reports ``submitted`` only after its settlement is mined, so the chain follower can
apply the task's ``TaskCompleted`` between the report's read of the task and its write. The
board must not let that stale write undo the final state (it once did: the task stayed
``submitted`` on the board forever, although the chain said completed). Each test runs the
chain's outcome from another thread at exactly that moment, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from sealrun.adapters.db import create_database_engine, session_factory, upgrade_database
from sealrun.core.tasks import FailureClass, RetryDecision
from sealrun.services.scheduler.board import TaskBoard
from sealrun.services.scheduler.models import DealRow, TaskRow

DEAL = "0x" + "d1" * 32
TASK = "0x" + "a1" * 32
WORKER = "0x" + "11" * 20
NOW = 1_800_000_000.0


@pytest.fixture
def board(sql_url: str) -> Iterator[tuple[TaskBoard, sessionmaker[Session]]]:
    engine = create_database_engine(sql_url)
    upgrade_database(
        engine,
        script_location="sealrun.services.scheduler:migrations",
        version_table="scheduler_alembic_version",
    )
    sessions = session_factory(engine)
    board = TaskBoard(sessions)
    deal = DealRow(
        deal_id=DEAL, max_time=300, deadline=int(NOW) + 3600, volume=1, block_number=1, deal_json="{}"
    )
    board.add_deal(deal, [(TASK, 0)], event=(b"\x01" * 32, 0), now=NOW)
    board.register(WORKER, slots=1, tee="simulated", holding=[], now=NOW)
    claimed = board.claim(WORKER, now=NOW)
    assert claimed is not None
    assert claimed.task_id == TASK
    board.report(TASK, WORKER, "running", "", now=NOW)
    yield board, sessions
    engine.dispose()


@contextmanager
def _meanwhile(sessions: sessionmaker[Session], other: Callable[[], object]) -> Iterator[None]:
    """Run ``other`` on another thread (its own connection) when a changed task is about to be written.

    That is after the change was decided on the task as read, and before it reaches the
    database. On SQLite a writer that already holds the database's write lock makes ``other``
    wait for its commit (that order is then the real one); on PostgreSQL ``other`` commits first.
    """
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            other()
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    def before_flush(session: Session, context: Any, instances: Any) -> None:
        if threads or not any(isinstance(row, TaskRow) for row in session.dirty):
            return
        threads.append(threading.Thread(target=run))
        threads[0].start()
        threads[0].join(timeout=2)

    event.listen(sessions, "before_flush", before_flush)
    try:
        yield
    finally:
        event.remove(sessions, "before_flush", before_flush)
    assert threads, "the race was not staged"
    threads[0].join(timeout=30)
    assert not threads[0].is_alive()
    assert not errors, errors


def _status(board: TaskBoard) -> str:
    task = board.task(TASK)
    assert task is not None
    return task.status


def _completed(board: TaskBoard) -> Callable[[], object]:
    return lambda: board.finish(TASK, "completed", "", event=(b"\x02" * 32, 0), now=NOW + 5)


def _retry(code: str, failures: int, deal: DealRow) -> RetryDecision:
    return RetryDecision(
        retry=True, not_before=NOW + 1, failure_class=FailureClass.INFRASTRUCTURE, reason="retry"
    )


def test_a_late_report_never_undoes_the_chains_outcome(
    board: tuple[TaskBoard, sessionmaker[Session]],
) -> None:
    tasks, sessions = board
    with _meanwhile(sessions, _completed(tasks)):
        answer = tasks.report(TASK, WORKER, "submitted", "0xtx", now=NOW + 6)
    assert answer.status == "completed"
    assert _status(tasks) == "completed"


def test_a_late_failed_attempt_never_sends_a_settled_task_back_to_pending(
    board: tuple[TaskBoard, sessionmaker[Session]],
) -> None:
    tasks, sessions = board
    with _meanwhile(sessions, _completed(tasks)):
        tasks.fail_attempt(
            TASK, WORKER, code="INPUT_FETCH_FAILED", detail="", receipt=False, decide=_retry, max_claims=None,
            now=NOW + 6,
        )  # fmt: skip
    assert _status(tasks) == "completed"
    assert tasks.claim("0x" + "22" * 20, now=NOW + 100) is None  # nothing to run twice


def test_a_restarted_worker_never_releases_a_settled_task(
    board: tuple[TaskBoard, sessionmaker[Session]],
) -> None:
    tasks, sessions = board
    with _meanwhile(sessions, _completed(tasks)):
        tasks.register(WORKER, slots=1, tee="simulated", holding=[], now=NOW + 6)
    assert _status(tasks) == "completed"


def test_a_lost_worker_sweep_never_releases_a_settled_task(
    board: tuple[TaskBoard, sessionmaker[Session]],
) -> None:
    tasks, sessions = board
    with _meanwhile(sessions, _completed(tasks)):
        tasks.reclaim(TASK, WORKER, now=NOW + 6, expire=False, detail="lost")
    assert _status(tasks) == "completed"


def test_the_chains_outcome_wins_over_a_concurrent_report(
    board: tuple[TaskBoard, sessionmaker[Session]],
) -> None:
    tasks, sessions = board
    with _meanwhile(sessions, lambda: tasks.report(TASK, WORKER, "submitted", "0xtx", now=NOW + 4)):
        assert tasks.finish(TASK, "completed", "", event=(b"\x02" * 32, 0), now=NOW + 5)
    assert _status(tasks) == "completed"
    assert [a.outcome for a in tasks.attempts(TASK)] == ["completed"]
