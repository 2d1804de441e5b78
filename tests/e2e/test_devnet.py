"""`sealrun devnet up | status | logs | down` as a user runs them; `down` leaves no process behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import make_project, start_devnet, stop_devnet

pytestmark = [pytest.mark.e2e]


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
