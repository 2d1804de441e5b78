"""The service zygote (`sealrun.devnet.zygote`): forked processes take the shape of `python -m`,
bad requests are refused, and it stays the parent until its last child ends.

Real processes: a zygote that preloads nothing heavy (only uvicorn), forking small sealrun
entry points (`sealrun.cli --version`, the devnet supervisor)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.devnet.processes import group_alive, leader_alive, stop_all
from sealrun.devnet.state import ProcessRecord
from sealrun.devnet.zygote import _LINGERING, Zygote, _parse


@pytest.fixture
def forked() -> Iterator[list[ProcessRecord]]:
    """Records a test forked: stopped at teardown whatever the test's outcome (no leak)."""
    records: list[ProcessRecord] = []
    yield records
    stop_all(records, grace=5.0)


def _wait(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _zygote(root: Path) -> Zygote:
    env = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}
    return Zygote(sys.executable, root, [], env=env, log=root / "logs" / "zygote.log")


def test_a_forked_process_is_its_own_session_with_only_its_log_and_private_files(
    tmp_path: Path, forked: list[ProcessRecord]
) -> None:
    zygote = _zygote(tmp_path)
    log = tmp_path / "logs" / "supervisor.log"
    record = zygote.spawn(
        "supervisor", "sealrun.devnet.supervisor", [str(tmp_path)], env={"PATH": os.environ["PATH"]},
        log=log, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert record is not None
        forked.append(record)
        # What the supervisor restarts it with: the ordinary exec of the same module.
        assert record.argv == (sys.executable, "-m", "sealrun.devnet.supervisor", str(tmp_path))
        assert os.getsid(record.pid) == record.pid
        assert os.getpgid(record.pid) == record.pid
        assert Path(f"/proc/{record.pid}/cwd").resolve() == tmp_path.resolve()
        # The zygote's request pipes are not inherited: stdin is /dev/null, stdout and stderr the log.
        # (It may hold a file it is reading: no pipe, no socket is what matters.)
        held = [os.readlink(f"/proc/{record.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{record.pid}/fd")]
        assert not [link for link in held if link.startswith(("pipe:", "socket:"))], held
        assert os.readlink(f"/proc/{record.pid}/fd/0") == os.devnull
        assert os.readlink(f"/proc/{record.pid}/fd/1") == str(log)
        assert log.stat().st_mode & 0o777 == 0o600
        assert "PYTHONUNBUFFERED" not in dict(record.env)
    finally:
        zygote.close()
    # SIGTERM ends it, and the zygote reaps it at once: nothing needed a SIGKILL.
    assert stop_all([record], grace=10.0) == []
    assert not group_alive(record)


def test_a_forked_module_runs_as_main_with_its_arguments(tmp_path: Path) -> None:
    zygote = _zygote(tmp_path)
    log = tmp_path / "logs" / "version.log"
    try:
        record = zygote.spawn(
            "version", "sealrun.cli", ["--version"], env={"PATH": os.environ["PATH"]}, log=log, cwd=tmp_path
        )
        assert record is not None
        _wait(lambda: not leader_alive(record))
    finally:
        zygote.close()
    assert log.read_text().strip().startswith("sealrun")


def test_bad_requests_are_refused_and_the_zygote_keeps_serving(tmp_path: Path) -> None:
    zygote = _zygote(tmp_path)
    try:
        env = {"PATH": os.environ["PATH"]}
        # Only sealrun's own modules; an absolute cwd.
        assert zygote.spawn("x", "os", [], env=env, log=tmp_path / "x.log", cwd=tmp_path) is None
        assert zygote.spawn("y", "sealrun.cli", [], env=env, log=tmp_path / "y.log", cwd=Path("rel")) is None
        record = zygote.spawn(
            "v", "sealrun.cli", ["--version"], env=env, log=tmp_path / "v.log", cwd=tmp_path
        )
        assert record is not None
        _wait(lambda: not leader_alive(record))
    finally:
        zygote.close()
    refusals = (tmp_path / "logs" / "zygote.log").read_text()
    assert "module must name a sealrun module" in refusals
    assert "cwd and log must be paths" in refusals


def test_the_zygote_stays_the_parent_until_its_last_child_ends(
    tmp_path: Path, forked: list[ProcessRecord]
) -> None:
    zygote = _zygote(tmp_path)
    record = zygote.spawn(
        "supervisor", "sealrun.devnet.supervisor", [str(tmp_path)], env={"PATH": os.environ["PATH"]},
        log=tmp_path / "logs" / "supervisor.log", cwd=tmp_path,
    )  # fmt: skip
    assert record is not None
    forked.append(record)
    zygote.close()
    parent = _LINGERING[-1]
    assert parent.poll() is None  # still running: the supervisor is its child
    assert stop_all([record]) == []
    assert parent.wait(timeout=30) == 0


def test_a_request_of_a_dead_zygote_falls_back(tmp_path: Path) -> None:
    zygote = _zygote(tmp_path)
    zygote.close()
    env = {"PATH": os.environ["PATH"]}
    assert (
        zygote.spawn("v", "sealrun.cli", ["--version"], env=env, log=tmp_path / "v.log", cwd=tmp_path) is None
    )


@given(st.text(max_size=300))
def test_the_request_parser_refuses_anything_malformed_with_a_value_error(line: str) -> None:
    try:
        request = _parse(line)
    except ValueError:
        return
    assert request.module.startswith("sealrun.")
    assert Path(request.cwd).is_absolute()


@given(
    st.fixed_dictionaries(
        {
            "module": st.one_of(st.text(max_size=20), st.integers(), st.none()),
            "args": st.one_of(st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3), st.text()),
            "env": st.one_of(
                st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers())), st.none()
            ),
            "cwd": st.one_of(st.just("/tmp"), st.text(max_size=10), st.integers()),
            "log": st.one_of(st.just("/tmp/x.log"), st.integers()),
        }
    )
)
def test_typed_requests_are_checked_field_by_field(data: dict[str, object]) -> None:
    try:
        request = _parse(json.dumps(data))
    except ValueError:
        return
    assert isinstance(data["module"], str)
    assert data["module"].startswith("sealrun.")
    assert all(isinstance(a, str) for a in request.args)
    assert all(isinstance(v, str) for v in request.env.values())


def test_the_services_do_not_load_py_evm() -> None:
    """What the zygote preloads stays off py-evm (the chain adapter loads it only for the
    in-process chain): half a CPU second of every service's start."""
    code = (
        "import sys\n"
        "import sealrun.services.scheduler.app, sealrun.services.worker.app, sealrun.services.market.app\n"
        "import sealrun.devnet.deployment\n"
        "print(sorted(m for m in ('eth', 'eth_tester') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
