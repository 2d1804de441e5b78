"""The sandbox's memory and tasks are limited in total, not per process (issue 13, finding 8).

Under RLIMIT_AS alone ten processes each held 40+ MiB under a 128 MiB limit (869 MiB in the
red-team run). A task cgroup counts them together: these tests run such apps in bubblewrap
and check that the kernel stopped them at the cap, that an unprivileged process can run
its sandbox inside a cgroup a root parent delegated to it, and that nothing is left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.sandbox import BubblewrapSandbox, SandboxLimits, TaskCgroup, cgroups_available
from sealrun.adapters.sandbox.cgroups import _parse_mounts, _parse_own, _relative
from sealrun.errors import SandboxError
from tests.sandbox.conftest import Ran

needs_cgroups = pytest.mark.skipif(
    os.geteuid() != 0 or not cgroups_available(),
    reason="task cgroups need root and the memory and pids controllers",
)

MIB = 1 << 20

# Ten processes of 40 MiB each (written, so the pages are really used) held at once.
TEN_TIMES_40_MIB = """
import os, time
children = []
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        blob = b"\\x01" * (40 << 20)
        time.sleep(2)
        os._exit(0)
    children.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in children]
print("killed", sum(1 for status in statuses if os.WIFSIGNALED(status)), "of", len(statuses))
"""

FORK_BOMB = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as error:
    print("fork refused after", children, error.errno)
"""


def _unprivileged_id() -> int:
    # Above the sandbox's own per-task ids ([2^20, 2^21)), so no sandbox shares it.
    return (1 << 21) + secrets.randbelow(1 << 20)


def _killed(ran: Ran) -> int:
    line = next(line for line in ran.stdout.splitlines() if line.startswith("killed"))
    return int(line.split()[1])


@needs_cgroups
def test_processes_together_cannot_pass_the_memory_limit(run_app: Callable[..., Ran]) -> None:
    ran = run_app(TEN_TIMES_40_MIB, limits=SandboxLimits(memory_bytes=128 * MIB, wall_time_s=60))
    assert ran.outcome.cgroup_enforced
    assert ran.outcome.memory_exceeded
    # The OOM killer stopped processes as the total reached 128 MiB (four would be 160).
    assert _killed(ran) >= 7, ran.stdout
    assert ran.outcome.memory_peak_bytes is not None
    assert ran.outcome.memory_peak_bytes <= 128 * MIB


@needs_cgroups
def test_a_fork_bomb_is_bounded_by_the_cgroups_pids(run_app: Callable[..., Ran]) -> None:
    uid = _unprivileged_id()
    cgroup = TaskCgroup.create(
        f"test-{secrets.token_hex(6)}", memory_bytes=512 * MIB, pids=10, owner_uid=uid, owner_gid=uid
    )
    sandbox = BubblewrapSandbox(host_uid=uid, cgroup=cgroup)
    try:
        # RLIMIT_NPROC would allow 64: the cgroup's 10 tasks (bwrap's monitor, the
        # sandbox's init and the app among them) are what stops the bomb.
        ran = run_app(FORK_BOMB, limits=SandboxLimits(processes=64, wall_time_s=60), sandbox=sandbox)
        events = next(p / "pids.events" for p in cgroup.paths if (p / "pids.events").exists())
        refused = int(events.read_text().split()[1])
    finally:
        cgroup.remove()
    line = next(line for line in ran.stdout.splitlines() if line.startswith("fork refused"))
    assert int(line.split()[3]) <= 7
    assert int(line.split()[4]) == 11  # EAGAIN
    assert refused > 0
    assert ran.outcome.cgroup_enforced
    assert ran.outcome.exit_status == 0


# Started as root, imports what it needs (the interpreter lives under root's 0700 home),
# then becomes the unprivileged user for good and runs one sandbox (argv[1]: settings).
RUN_AS_USER = """
import json, os, sys
from dataclasses import asdict
from pathlib import Path
from sealrun.adapters.sandbox import BubblewrapSandbox, SandboxLimits, SandboxSpec, TaskCgroup
from sealrun.errors import SandboxError
settings = json.loads(sys.argv[1])
os.setgroups([])
os.setgid(settings["uid"])
os.setuid(settings["uid"])
capabilities = [line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff")]
assert os.geteuid() == settings["uid"] and capabilities == ["0000000000000000"], capabilities
base = Path(settings["base"])
try:
    cgroup = TaskCgroup.attach([Path(p) for p in settings["cgroup"]]) if settings["cgroup"] else None
    spec = SandboxSpec(
        argv=tuple(settings["argv"]), bundle_dir=base / "app", input_dir=base / "in",
        output_dir=base / "out", stdout_path=base / "logs" / "stdout", stderr_path=base / "logs" / "stderr",
        env=settings["env"],
        limits=SandboxLimits(
            memory_bytes=settings["memory"], wall_time_s=60, address_space_bytes=settings["address_space"]
        ),
    )
    print(json.dumps(asdict(BubblewrapSandbox(cgroup=cgroup).run(spec))))
except SandboxError as error:
    print(json.dumps({"error": error.code}))
"""


def _run_as(
    uid: int,
    base: Path,
    code: str,
    *,
    cgroup: TaskCgroup | None,
    memory: int,
    argv: tuple[str, ...] = ("python3", "app.py"),
    env: dict[str, str] | None = None,
    address_space: int | None = None,
) -> dict[str, Any]:
    """Run ``code`` (as ``argv[1]``) in a sandbox started by a process of ``uid`` (not root)."""
    for name, owner in (("app", 0), ("in", 0), ("out", uid), ("logs", uid)):
        (base / name).mkdir(parents=True)
        os.chown(base / name, owner, owner)
        (base / name).chmod(0o755 if owner == 0 else 0o700)
    base.chmod(0o711)
    (base / "app" / argv[1]).write_text(code)
    (base / "app" / argv[1]).chmod(0o644)
    settings = {
        "uid": uid,
        "base": str(base),
        "cgroup": [str(p) for p in cgroup.paths] if cgroup else [],
        "memory": memory,
        "argv": list(argv),
        "env": env or {},
        "address_space": address_space,
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN_AS_USER, json.dumps(settings)],
        cwd="/",
        env={},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    result["stdout"] = (base / "logs" / "stdout").read_text() if (base / "logs" / "stdout").exists() else ""
    return result


@needs_cgroups
def test_an_unprivileged_runner_keeps_the_limit_in_a_delegated_cgroup(work_root: Path) -> None:
    uid = _unprivileged_id()
    cgroup = TaskCgroup.create(
        f"test-{secrets.token_hex(6)}", memory_bytes=128 * MIB, pids=64, owner_uid=uid, owner_gid=uid
    )
    try:
        result = _run_as(uid, work_root / "delegated", TEN_TIMES_40_MIB, cgroup=cgroup, memory=128 * MIB)
        assert cgroup.oom_killed()
        peak = cgroup.memory_peak()
    finally:
        cgroup.remove()
    assert result["cgroup_enforced"] is True
    assert result["memory_exceeded"] is True
    assert result["stdout"].startswith("killed ")
    assert not result["stdout"].startswith("killed 0 ")
    assert peak is not None
    assert peak <= 128 * MIB


@needs_cgroups
def test_a_cgroup_delegated_to_another_user_cannot_be_joined(work_root: Path) -> None:
    owner, stranger = _unprivileged_id(), _unprivileged_id()
    cgroup = TaskCgroup.create(
        f"test-{secrets.token_hex(6)}", memory_bytes=128 * MIB, pids=64, owner_uid=owner, owner_gid=owner
    )
    try:
        result = _run_as(stranger, work_root / "stranger", "print('ran')\n", cgroup=cgroup, memory=128 * MIB)
    finally:
        cgroup.remove()
    assert result["error"] == "SANDBOX_CGROUP_JOIN_FAILED"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start an unprivileged runner")
def test_without_a_cgroup_an_unprivileged_runner_says_rlimits_only(work_root: Path) -> None:
    uid = _unprivileged_id()
    result = _run_as(uid, work_root / "plain", "blob = bytearray(1 << 30)\n", cgroup=None, memory=128 * MIB)
    assert result["cgroup_enforced"] is False
    assert result["memory_peak_bytes"] is None
    assert result["memory_exceeded"] is True  # RLIMIT_AS still refuses the 1 GiB allocation


def _ours(parents: list[Path], marker: bytes) -> set[Path]:
    """The task cgroups under ``parents`` holding a process whose environment has ``marker``."""
    found = set()
    for parent in parents:
        for folder in [p for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []:
            try:
                pids = (folder / "cgroup.procs").read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    if marker in Path(f"/proc/{pid}/environ").read_bytes():
                        found.add(folder)
                except OSError:
                    continue
    return found


@needs_cgroups
@pytest.mark.parametrize("wall_time_s", [60.0, 1.5], ids=["exits", "killed-at-the-wall-time"])
def test_the_per_run_cgroup_is_removed_after_the_run(run_app: Callable[..., Ran], wall_time_s: float) -> None:
    own = {
        line.split(":", 2)[1]: line.split(":", 2)[2]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        if line.split(":", 2)[1] in ("memory", "pids")
    }
    parents = [Path("/sys/fs/cgroup") / c / own[c].lstrip("/") for c in own]
    parents += [Path("/sys/fs/cgroup") / c / "sealrun" for c in own]
    marker = secrets.token_hex(16)
    seen: set[Path] = set()
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            seen.update(_ours(parents, marker.encode()))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # A child that leaves the session keeps running when the app exits or is killed.
        ran = run_app(
            "import os, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n"
            "time.sleep(1.0 if os.environ['LONG'] == 'no' else 600)\n",
            limits=SandboxLimits(wall_time_s=wall_time_s),
            env={"MARKER": marker, "LONG": "no" if wall_time_s > 10 else "yes"},
        )
    finally:
        finished.set()
        watcher.join()
    assert ran.outcome.cgroup_enforced
    assert len(seen) == 2, seen  # one in the memory hierarchy, one in the pids one
    assert not [folder for folder in seen if folder.exists()]
    assert not _ours(parents, marker.encode())


@needs_cgroups
def test_remove_kills_what_is_left_and_tolerates_a_removed_cgroup() -> None:
    cgroup = TaskCgroup.create(f"test-{secrets.token_hex(6)}", memory_bytes=64 * MIB, pids=8)
    sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=cgroup.join)  # noqa: PLW1509 - as the sandbox joins
    assert all(str(sleeper.pid) in (p / "cgroup.procs").read_text().split() for p in cgroup.paths)
    cgroup.remove()
    assert sleeper.wait(timeout=10) == -9
    assert not [p for p in cgroup.paths if p.exists()]
    cgroup.remove()  # already gone: nothing to do, no error


def test_a_v2_cgroup_is_joined_and_emptied_with_cgroup_kill() -> None:
    # The unified hierarchy here has no memory or pids controller (both are on v1), but a
    # v2 folder still takes processes and has cgroup.kill: the v2 join and removal paths.
    unified = Path("/sys/fs/cgroup/unified")
    if os.geteuid() != 0 or not (unified / "cgroup.procs").exists():
        pytest.skip("needs root and a cgroup v2 mount at /sys/fs/cgroup/unified")
    folder = unified / f"sealrun-test-{secrets.token_hex(6)}"
    folder.mkdir()
    try:
        cgroup = TaskCgroup.attach([folder])
        assert not cgroup.enforces_memory
        assert (folder / "cgroup.kill").exists()
        sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=cgroup.join)  # noqa: PLW1509 - as the sandbox joins
        assert (folder / "cgroup.procs").read_text().split() == [str(sleeper.pid)]
        cgroup.remove()
        assert sleeper.wait(timeout=10) == -9
        assert not folder.exists()
    finally:
        if folder.exists():
            folder.rmdir()


def test_bad_names_limits_and_folders_are_refused_with_codes(tmp_path: Path) -> None:
    for name in ("", "../escape", "a/b", ".hidden", "x" * 200):
        with pytest.raises(SandboxError) as caught:
            TaskCgroup.create(name, memory_bytes=64 * MIB, pids=8)
        assert caught.value.code == "SANDBOX_CGROUP_INVALID"
    for memory, pids in ((0, 8), (64 * MIB, 0)):
        with pytest.raises(SandboxError) as caught:
            TaskCgroup.create("fine", memory_bytes=memory, pids=pids)
        assert caught.value.code == "SANDBOX_CGROUP_INVALID"
    for paths in ([], [tmp_path], [Path("/sys/fs/cgroup/memory")]):
        with pytest.raises(SandboxError) as caught:
            TaskCgroup.attach(paths)
        assert caught.value.code == "SANDBOX_CGROUP_UNAVAILABLE"


def test_the_layout_is_read_from_mountinfo_and_proc_self_cgroup() -> None:
    hybrid = (
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    )
    v1, v2 = _parse_mounts(hybrid)
    assert v1 == {"memory": (Path("/sys/fs/cgroup/memory"), "/"), "pids": (Path("/sys/fs/cgroup/pids"), "/")}
    assert v2 == (Path("/sys/fs/cgroup/unified"), "/")
    pure_v2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
    assert _parse_mounts(pure_v2) == ({}, (Path("/sys/fs/cgroup"), "/"))
    escaped = r"40 31 0:36 / /mnt/my\040cgroups rw - cgroup cgroup rw,pids,memory" + "\n"
    assert _parse_mounts(escaped)[0]["pids"] == (Path("/mnt/my cgroups"), "/")
    own = "4:memory:/process_api/abc\n8:pids:/\n1:cpu,cpuacct:/x\n0::/user.slice/session-1.scope\n"
    assert _parse_own(own) == (
        {"memory": "/process_api/abc", "pids": "/", "cpu": "/x", "cpuacct": "/x"},
        "/user.slice/session-1.scope",
    )
    assert _relative("/a/b", "/") == "/a/b"
    assert _relative("/a/b", "/a") == "/b"
    assert _relative("/a", "/a") == "/"
    assert _relative("/ab", "/a") == "/"  # not under the mount's root: we cannot place ourselves


@needs_cgroups
def test_address_space_is_not_capped_when_a_cgroup_counts_the_memory(run_app: Callable[..., Ran]) -> None:
    # JIT runtimes (Node.js) reserve far more address space than they use: a 2 GiB
    # reservation never touched must not fail under a 128 MiB memory limit.
    ran = run_app(
        "import mmap\nreserved = mmap.mmap(-1, 2 << 30)\nreserved[0] = 1\nprint('reserved')\n",
        limits=SandboxLimits(memory_bytes=128 * MIB, wall_time_s=60),
    )
    assert ran.outcome.cgroup_enforced
    assert ran.outcome.exit_status == 0, ran.stderr
    assert "reserved" in ran.stdout


NODE_APP = "console.log('node', process.version, 'started');\n"
NODE_HEAP_HOG = "const kept = []; for (;;) kept.push(new Array(1 << 20).fill(7));\n"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("node") is None, reason="needs root and node")
def test_node_starts_without_a_cgroup_under_the_default_memory_limit(work_root: Path) -> None:
    """Without a cgroup (an unprivileged runner) RLIMIT_AS is the only memory limit: sized for
    Node.js (issue 14), node starts under the default 512 MiB; its heap limit still holds."""
    from sealrun.core.bundles import parse_manifest
    from sealrun.enclave.appinterface import runtime_profile

    manifest = parse_manifest('[app]\nname = "n"\nentrypoint = ["node", "app.js"]\nruntime = "node"\n')
    profile = runtime_profile(manifest)
    assert manifest.resources.memory_bytes == 512 * MIB
    assert profile.env == {"NODE_OPTIONS": "--max-old-space-size=384"}
    uid = _unprivileged_id()
    argv, env = ("node", "app.js"), dict(profile.env)
    # What issue 14 saw: RLIMIT_AS at the memory limit, and V8 cannot even reserve its heap.
    bare = _run_as(uid, work_root / "bare", NODE_APP, cgroup=None, memory=512 * MIB, argv=argv, env=env)
    assert bare["cgroup_enforced"] is False
    assert bare["exit_status"] != 0

    def sized(name: str, code: str) -> dict[str, Any]:
        return _run_as(
            uid, work_root / name, code, cgroup=None, memory=512 * MIB, argv=argv, env=env,
            address_space=profile.address_space_bytes,
        )  # fmt: skip

    ran = sized("sized", NODE_APP)
    assert ran["cgroup_enforced"] is False
    assert ran["exit_status"] == 0, ran
    assert ran["stdout"].startswith("node v")
    hog = sized("hog", NODE_HEAP_HOG)
    assert hog["exit_status"] != 0
    assert hog["memory_exceeded"] is True  # V8's "heap out of memory", not a silent kill
