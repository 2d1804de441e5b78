"""The journey on anvil, and the deadline path: with no worker left, `task claim` refunds the
requester once the deal's deadline is past (anvil time travel: evm_increaseTime + evm_mine)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REPO, Project, make_project, start_devnet, stop_devnet

# Extended tier (docs/testing.md): the embedded journey is the default tier's; anvil itself stays
# guarded there by tests/chain's `anvil` backend (every marketplace call, the deadline claim).
pytestmark = [pytest.mark.e2e, pytest.mark.anvil, pytest.mark.extended]

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def anvil_project() -> Iterator[Project]:
    project = make_project("sealrun-e2e-anvil-")
    try:
        up = start_devnet(project, "--chain", "anvil")
        assert up["chain"] == "anvil"
        yield project
    finally:
        stop_devnet(project)


def _deploy(project: Project, bundle: Path) -> str:
    app = str(project.json("app", "deploy", str(bundle), "--yes")["app"])
    project.json("order", "init", "--app", app, "--volume", "100")
    project.json("order", "sign", "--app")
    return app


def test_journey_on_anvil(anvil_project: Project) -> None:
    project = anvil_project
    project.json("tee", "init")
    shutil.copy(REPO / "examples" / "render-scene" / "scene.json", project.root / "tee" / "inputs")
    app = _deploy(project, REPO / "examples" / "render-scene")
    dataset = project.json("tee", "encryptedpush", "--application", app, "--yes")["dataset"]
    ran = project.json("app", "run", app, "--dataset", dataset, "--args", "--width 48 --height 36", "--yes")
    shown = project.json("task", "show", ran["task"], "--watch", "--download", "--timeout", "300")
    assert shown["status"] == "COMPLETED", shown
    opened = project.json("tee", "decrypt")
    assert any(Path(f).read_bytes().startswith(PNG) for f in opened["files"] if f.endswith(".png"))


def _rpc(url: str, method: str, params: list[object]) -> object:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30)
    return answer.json()["result"]


def test_deadline_claim_refunds_without_a_worker(anvil_project: Project) -> None:
    from sealrun.devnet.state import DevnetState

    project = anvil_project
    state = DevnetState.load(project.root / ".sealrun" / "devnet")
    # The supervisor would restart the workers: stop it first, then the workers.
    for process in sorted(state.processes, key=lambda p: p.name != "supervisor"):
        if process.name == "supervisor" or process.name.startswith("worker-"):
            os.killpg(process.pgid, signal.SIGTERM)
    app = _deploy(project, REPO / "examples" / "iexec-python")
    before = project.json("account", "show")
    ran = project.json("app", "run", app, "--yes")
    task = ran["task"]
    during = project.json("account", "show")
    assert during["locked"] == before["locked"] + ran["price"]
    shown = project.json("task", "show", task)
    assert shown["status"] == "ACTIVE"
    early = project.error("task", "claim", task, "--yes")
    assert early["code"] == "TASK_DEADLINE_NOT_REACHED", early

    _rpc(state.rpc_url, "evm_increaseTime", [int(shown["deadline"] - time.time()) + 60])
    _rpc(state.rpc_url, "evm_mine", [])
    project.json("task", "claim", task, "--yes")
    done = project.run("task", "show", task, "--json", check=False)
    assert done.returncode == 3  # refunded without a result: the documented exit status
    claimed = json.loads(done.stdout)
    assert claimed["status"] == "CLAIMED"
    assert claimed["refund"] == ran["price"]
    after = project.json("account", "show")
    assert after["locked"] == before["locked"]
    assert after["free"] >= before["free"]  # price back, plus the pool's seized stake
