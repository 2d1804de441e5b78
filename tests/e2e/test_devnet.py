"""`sealrun devnet up | status | logs | down` as a user runs them; `down` leaves no process behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, Project, make_project, start_devnet, stop_devnet

pytestmark = [pytest.mark.e2e]

PYAPP = REPO / "examples" / "iexec-python"


def _processes_mentioning(text: str) -> list[str]:
    """Command lines and environments of live processes that mention ``text`` (our state dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ")[:200]
            found.append(f"{proc.name}: {command!r}")
    return found


def test_up_status_logs_down_leaves_nothing() -> None:
    project = make_project("sealrun-e2e-devnet-")
    state_dir = str(project.root / ".sealrun" / "devnet")
    try:
        up = start_devnet(project, "--workers", "2")
        assert up["chain"] == "embedded"
        assert {"store", "sms", "market"} <= set(up["services"])

        status = project.json("devnet", "status")
        assert status["healthy"] is True, status["processes"]
        names = {p["name"] for p in status["processes"]}
        assert {"chain", "store", "sms", "market"} <= names
        pids = [p["pid"] for p in status["processes"]]

        # Every command now talks to the devnet without an address typed: the profile is `devnet`.
        shown = project.json("chain", "show")
        assert shown["profile"] == "devnet"
        assert shown["hub"] == up["hub"]

        logs = project.json("devnet", "logs", "chain", "-n", "5")
        assert set(logs["logs"]) == {"chain"}

        # A second `up` refuses while the first runs.
        assert project.error("devnet", "up")["code"] == "DEVNET_ALREADY_RUNNING"

        down = project.json("devnet", "down", timeout=120)
        assert down["left"] == []
        assert set(down["stopped"]) == names
        for pid in pids:
            assert (
                not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            )
        assert _processes_mentioning(state_dir) == []
        assert project.error("devnet", "status")["code"] == "DEVNET_NOT_RUNNING"
    finally:
        stop_devnet(project)


def test_down_without_devnet_is_a_clear_error(tmp_path: Path) -> None:
    project = make_project("sealrun-e2e-nodevnet-")
    try:
        assert project.error("devnet", "down")["code"] == "DEVNET_NOT_RUNNING"
        assert project.error("chain", "show", "--chain", "devnet")["code"] == "DEVNET_NOT_RUNNING"
    finally:
        stop_devnet(project)


def _pids(project: Project) -> dict[str, int]:
    return {p["name"]: p["pid"] for p in project.json("devnet", "status")["processes"]}


def _wait_restarted(project: Project, names: set[str], timeout: float = 120) -> dict[str, Any]:
    """``devnet status`` once every process in ``names`` was restarted and all are healthy."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = project.json("devnet", "status")
        restarted = {p["name"] for p in status["processes"] if p["restarts"] >= 1}
        if names <= restarted and status["healthy"]:
            return status
        time.sleep(1)
    pytest.fail(f"not restarted within {timeout:.0f} s: {status}")


def _run_task(project: Project, app: str, dataset: str) -> dict[str, Any]:
    ran = project.json("app", "run", app, "--dataset", dataset, "--watch", "--yes", "--timeout", "300")
    assert ran["status"] == "COMPLETED", ran
    return dict(ran)


# Extended tier (docs/testing.md): the longest default test (~6 min loaded). Its parts have
# faster default tests (journal replay and a served chain's kill -9: tests/chain/test_journal.py;
# the supervisor's restarts: tests/devnet/test_supervisor.py; the SMS's kill -9:
# tests/sms/test_crash.py; resume refusals: tests/devnet/test_resume_refusals.py); the whole
# stack resuming after down/up and `devnet reset --yes` are guarded here only.
@pytest.mark.extended
def test_devnet_survives_down_up_and_kill_9_then_reset() -> None:
    project = make_project("sealrun-e2e-durable-")
    try:
        up = start_devnet(project)
        app = str(project.json("app", "deploy", str(PYAPP), "--yes")["app"])
        project.json("order", "init", "--app", app, "--volume", "100")
        project.json("order", "sign", "--app")
        project.json("tee", "init")
        (project.root / "tee" / "inputs" / "numbers.txt").write_text("1 2 3\n")
        dataset = str(project.json("tee", "encryptedpush", "--application", app, "--yes")["dataset"])
        first = _run_task(project, app, dataset)
        before = {
            "account": project.json("account", "show"),
            "app": project.json("app", "show", app),
            "dataset": project.json("dataset", "show", dataset),
            "task": project.json("task", "show", first["task"]),
        }

        # down then up: the same devnet, resumed, with everything on chain and in the services.
        assert project.json("devnet", "down", timeout=120)["left"] == []
        again = start_devnet(project)
        assert (again["hub"], again["workerpool"], again["services"]) == (
            up["hub"],
            up["workerpool"],
            up["services"],
        )
        after = {
            "account": project.json("account", "show"),
            "app": project.json("app", "show", app),
            "dataset": project.json("dataset", "show", dataset),
            "task": project.json("task", "show", first["task"]),
        }
        assert after == before

        # kill -9 of the chain and of the SMS: the supervisor restarts both, the chain from its
        # journal, and a task can still be bought and completes.
        pids = _pids(project)
        os.kill(pids["chain"], signal.SIGKILL)
        os.kill(pids["sms"], signal.SIGKILL)
        status = _wait_restarted(project, {"chain", "sms"})
        restarts = {p["name"]: p["restarts"] for p in status["processes"]}
        assert restarts == {**dict.fromkeys(restarts, 0), "chain": 1, "sms": 1}
        assert project.json("task", "show", first["task"]) == before["task"]
        assert project.json("app", "show", app) == before["app"]
        second = _run_task(project, app, dataset)
        assert second["task"] != first["task"]

        # reset needs a confirmation; with it, everything is gone.
        refused = project.error("devnet", "reset")
        assert refused["code"] == "CONFIRMATION_REQUIRED"
        assert project.json("devnet", "status")["healthy"] is True
        state_dir = project.root / ".sealrun" / "devnet"
        assert project.json("devnet", "reset", "--yes", timeout=120)["removed"] == str(state_dir)
        assert not state_dir.exists()
        assert _processes_mentioning(str(state_dir)) == []
        assert project.error("devnet", "status")["code"] == "DEVNET_NOT_RUNNING"
    finally:
        stop_devnet(project)
