"""The devnet's supervisor: a dead process is restarted, with backoff and a cap, recorded in the state."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from sealrun.devnet.launch import down
from sealrun.devnet.processes import leader_alive, spawn, stop_all
from sealrun.devnet.state import DevnetState, ProcessRecord
from sealrun.devnet.supervisor import MAX_RESTARTS, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _devnet(root: Path) -> DevnetState:
    record = spawn("sms", SLEEPER, env={"PATH": os.environ["PATH"]}, log=root / "logs" / "sms.log", cwd=root)
    state = DevnetState(
        root=root, chain="embedded", rpc_url="http://127.0.0.1:1", chain_id=1, hub="0x" + "11" * 20,
        token="0x" + "22" * 20, registry="0x" + "33" * 20, deploy_block=1, processes=(record,),
    )  # fmt: skip
    state.save()
    return state


def _kill(record: ProcessRecord) -> None:
    os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while leader_alive(record) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_dead_process_is_restarted_with_backoff_then_given_up(tmp_path: Path) -> None:
    state = _devnet(tmp_path)
    clock, said = Clock(), list[str]()
    supervisor = Supervisor(tmp_path, clock=clock, log=said.append)
    try:
        assert supervisor.check() is None  # all alive: nothing done, nothing written
        _kill(state.processes[0])
        restarted = supervisor.check()
        assert restarted is not None
        record = restarted.processes[0]
        assert (record.name, record.restarts, record.gave_up) == ("sms", 1, False)
        assert record.pid != state.processes[0].pid
        assert leader_alive(record)
        assert (record.argv, record.cwd) == (state.processes[0].argv, str(tmp_path))
        assert DevnetState.load(tmp_path).processes[0] == record  # recorded in the state file
        # Dies again at once: not restarted before its backoff (1 s) has passed.
        _kill(record)
        assert supervisor.check() is None
        clock.now += 1.0
        for count in range(2, MAX_RESTARTS + 1):
            record = supervisor.check().processes[0]  # type: ignore[union-attr]
            assert record.restarts == count
            _kill(record)
            clock.now += 30.0
        given_up = supervisor.check().processes[0]  # type: ignore[union-attr]
        assert (given_up.restarts, given_up.gave_up) == (MAX_RESTARTS, True)
        assert not leader_alive(given_up)
        assert supervisor.check() is None  # given up: left alone
        assert said[0].startswith("sms: pid ")
        assert "giving up" in said[-1]
    finally:
        stop_all(DevnetState.load(tmp_path).processes)


def test_down_renames_the_state_and_leaves_nothing(tmp_path: Path) -> None:
    state = _devnet(tmp_path)
    supervisor = spawn(
        "supervisor", [sys.executable, "-m", "sealrun.devnet.supervisor", str(tmp_path)],
        env=dict(os.environ), log=tmp_path / "logs" / "supervisor.log", cwd=tmp_path,
    )  # fmt: skip
    state = replace(state, processes=(*state.processes, supervisor))
    state.save()
    stopped = down(state)
    assert stopped == {"stopped": ["sms", "supervisor"], "killed": [], "left": []}
    assert not (tmp_path / "state.json").exists()
    assert DevnetState.load(tmp_path, name="stopped.json").processes == state.processes
