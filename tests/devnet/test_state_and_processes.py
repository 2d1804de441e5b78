"""The devnet's state file (round trip, refusals, lookup) and process groups (nothing survives)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.devnet.processes import group_alive, healthy, spawn, stop_all, wait_healthy
from sealrun.devnet.state import STATE_ENV, DevnetState, ProcessRecord, locate_state
from sealrun.errors import ConfigError, ServiceError

HUB = "0x" + "11" * 20


def _state(root: Path, **extra: object) -> DevnetState:
    fields: dict[str, object] = {
        "root": root, "chain": "anvil", "rpc_url": "http://127.0.0.1:1", "chain_id": 31337, "hub": HUB,
        "token": "0x" + "22" * 20, "registry": "0x" + "33" * 20, "deploy_block": 3,
        "workers": ("0x" + "44" * 20,), "services": {"sms": "http://127.0.0.1:2"},
        "processes": (ProcessRecord("chain", 123, "/x/chain.log"),),
    }  # fmt: skip
    fields.update(extra)
    return DevnetState(**fields)  # type: ignore[arg-type]


def test_round_trip_and_profile(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.save()
    loaded = DevnetState.load(tmp_path)
    assert loaded == state
    profile = loaded.profile()
    assert (profile.name, profile.kind, profile.hub, profile.chain_id, profile.deploy_block) == (
        "devnet", "anvil", state.hub, 31337, 3,
    )  # fmt: skip
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing_and_invalid_states_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        DevnetState.load(tmp_path)
    assert missing.value.code == "DEVNET_NOT_RUNNING"
    _state(tmp_path).save()
    data = json.loads((tmp_path / "state.json").read_text())
    for broken in ({**data, "version": 2}, {k: v for k, v in data.items() if k != "hub"}, [1, 2], "x"):
        (tmp_path / "state.json").write_text(json.dumps(broken))
        with pytest.raises(ConfigError) as invalid:
            DevnetState.load(tmp_path)
        assert invalid.value.code == "DEVNET_STATE_INVALID"


@given(st.binary(max_size=300))
def test_any_bytes_load_or_refuse_cleanly(blob: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "state.json").write_bytes(blob)
        path = Path(folder)
        try:
            DevnetState.load(path)
        except ConfigError as error:
            code = error.code
        else:
            code = "DEVNET_STATE_INVALID"  # loaded: only possible for a valid document
        assert code == "DEVNET_STATE_INVALID"


def test_locate_prefers_the_environment(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "p", tmp_path / "e"
    assert locate_state(project, {}) is None
    _state(project / ".sealrun" / "devnet").save()
    assert locate_state(project, {}) == (project / ".sealrun" / "devnet").resolve()
    assert locate_state(project, {STATE_ENV: str(elsewhere)}) is None
    _state(elsewhere).save()
    assert locate_state(project, {STATE_ENV: str(elsewhere)}) == elsewhere.resolve()


def test_stop_all_kills_whole_groups_including_grandchildren(tmp_path: Path) -> None:
    # A parent that ignores SIGTERM and a grandchild in its group: both must be gone.
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open(sys.argv[1], 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    pid_file = tmp_path / "child.pid"
    record = spawn(
        "stubborn", [sys.executable, "-c", script, str(pid_file)], env=dict(os.environ),
        log=tmp_path / "logs" / "stubborn.log", cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert group_alive(record)
    assert healthy(record)
    killed = stop_all([record], grace=0.5)
    assert killed == ["stubborn"]
    assert not group_alive(record)
    assert not Path(f"/proc/{grandchild}").exists()


def test_a_process_that_exits_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    record = spawn(
        "broken", [sys.executable, "-c", "import sys; print('bad settings'); sys.exit(1)"],
        env=dict(os.environ), log=tmp_path / "broken.log", cwd=tmp_path, url="http://127.0.0.1:9",
    )  # fmt: skip
    with pytest.raises(ServiceError) as failed:
        wait_healthy(record, timeout=30)
    assert failed.value.code == "DEVNET_START_FAILED"
    assert "bad settings" in failed.value.message


def test_devnet_processes_inherit_no_secret_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    from sealrun.devnet.launch import _base_env

    monkeypatch.setenv("SEALRUN_WALLET_PASSWORD", "canary-password")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-aws")
    monkeypatch.setenv("SEALRUN_WORKER_KEY", "canary-key")
    env = _base_env()
    assert not {"canary-password", "canary-aws", "canary-key"} & set(env.values())
    assert env["PATH"] == os.environ["PATH"]


def test_devnet_workers_take_the_callers_isolation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """``SEALRUN_WORKER_ISOLATION=session sealrun devnet up`` (decision 0080)."""
    from sealrun.devnet.launch import _base_env

    monkeypatch.delenv("SEALRUN_WORKER_ISOLATION", raising=False)
    assert "SEALRUN_WORKER_ISOLATION" not in _base_env()
    monkeypatch.setenv("SEALRUN_WORKER_ISOLATION", "session")
    assert _base_env()["SEALRUN_WORKER_ISOLATION"] == "session"


def _one_worker_state(tmp_path: Path) -> DevnetState:
    """A devnet state with one worker and its key files (each holds ``secret-<name>``)."""
    root = tmp_path / "devnet"
    (root / "keys").mkdir(parents=True)
    for name in ("upload-token.key", "pool-owner.key", "worker-1.key"):
        (root / "keys" / name).write_text("secret-" + name)
    return DevnetState(
        root=root, chain="embedded", rpc_url="http://127.0.0.1:1", chain_id=1, hub="0x" + "11" * 20,
        token="0x" + "22" * 20, registry="0x" + "33" * 20, deploy_block=1, workerpool="0x" + "44" * 20,
        pool_owner="0x" + "55" * 20, workers=("0x" + "66" * 20,), started_at=0.0,
    )  # fmt: skip


def test_services_get_keys_as_files_never_as_variables(tmp_path: Path) -> None:
    from sealrun.devnet.services import plan_services

    state = _one_worker_state(tmp_path)
    plans = plan_services(state, workers=1)
    for plan in plans:
        assert not any("secret-" in value for value in plan.env.values()), plan.name
    secrets_of = {plan.name: dict(plan.secrets) for plan in plans}
    assert secrets_of["worker-1"] == {"SEALRUN_WORKER_KEY": "secret-worker-1.key"}
    assert secrets_of["scheduler"] == {"SEALRUN_SCHEDULER_OWNER_KEY": "secret-pool-owner.key"}
    scheduler = next(p for p in plans if p.name == "scheduler")
    assert json.loads(scheduler.env["SEALRUN_SCHEDULER_ALLOWED_WORKERS"]) == ["0x" + "66" * 20]


def test_a_resumed_devnet_keeps_every_service_s_port_the_explorer_s_too(tmp_path: Path) -> None:
    """``devnet up`` after ``down``: each service, the explorer included, where it was (links and
    registered URLs name them)."""
    from sealrun.devnet.services import plan_services

    state = _one_worker_state(tmp_path)
    kept = {"store": 41001, "sms": 41002, "market": 41003, "scheduler": 41004, "explorer": 41005}
    urls = {plan.name: plan.url for plan in plan_services(state, workers=1, ports=kept)}
    for name, port in kept.items():
        if name in urls:
            assert urls[name] == f"http://127.0.0.1:{port}", name
    assert "explorer" in urls


def test_spawned_processes_create_private_files(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "p.log"
    target = tmp_path / "made"
    record = spawn(
        "p", [sys.executable, "-c", f"open({str(target)!r}, 'w').write('x')"], env=dict(os.environ),
        log=log, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.time() + 30
    while group_alive(record) and time.time() < deadline:
        time.sleep(0.05)
    assert target.stat().st_mode & 0o777 == 0o600
    assert log.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700
