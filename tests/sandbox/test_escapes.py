"""Hostile apps try to escape the bubblewrap sandbox; every attempt must fail.

Each app prints one verdict per attempt (``blocked ...`` or ``ESCAPED ...``); the tests
assert every attempt was blocked and, where it matters, check the host side too.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.sandbox import BubblewrapSandbox, SandboxLimits, SandboxSpec
from sealrun.errors import SandboxError
from tests.sandbox.conftest import Ran

ATTEMPT = """
import os, sys
def attempt(name, action):
    try:
        action()
    except BaseException as error:
        print("blocked", name, type(error).__name__)
    else:
        print("ESCAPED", name)
"""


def _verdicts(ran: Ran, expected: int) -> list[str]:
    lines = [line for line in ran.stdout.splitlines() if line.startswith(("blocked", "ESCAPED"))]
    assert len(lines) == expected, ran.stdout + ran.stderr
    assert not [line for line in lines if line.startswith("ESCAPED")], ran.stdout
    return lines


def test_no_network_not_even_the_hosts_loopback(run_app: Callable[..., Ran]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        ran = run_app(
            ATTEMPT
            + f"""
import socket
attempt("internet", lambda: socket.create_connection(("1.1.1.1", 80), timeout=3))
attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
attempt("host loopback", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3))
attempt("ipv6", lambda: socket.create_connection(("2606:4700:4700::1111", 80), timeout=3))
print("interfaces", sorted(os.listdir("/sys/class/net")) if os.path.exists("/sys/class/net") else "none")
"""
        )
    finally:
        listener.close()
    _verdicts(ran, 4)
    assert ran.outcome.exit_status == 0


def test_host_files_are_invisible(run_app: Callable[..., Ran]) -> None:
    ran = run_app(
        ATTEMPT
        + """
attempt("/etc/shadow", lambda: open("/etc/shadow").read())
attempt("/etc/passwd", lambda: open("/etc/passwd").read())
attempt("/root", lambda: os.listdir("/root"))
attempt("/home", lambda: os.listdir("/home"))
attempt("/work", lambda: os.listdir("/work"))
attempt("host /tmp", lambda: os.listdir("/tmp/..") and open("/tmp/../etc/shadow").read())
attempt("host root via proc", lambda: os.listdir("/proc/1/root/root"))
attempt("docker socket", lambda: open("/var/run/docker.sock"))
print("root", sorted(os.listdir("/")))
"""
    )
    _verdicts(ran, 8)
    root_line = next(line for line in ran.stdout.splitlines() if line.startswith("root"))
    assert "etc" not in root_line
    assert "home" not in root_line
    assert "work" not in root_line


def test_nothing_outside_the_output_folder_is_writable(run_app: Callable[..., Ran], work_root: Path) -> None:
    marker = f"sealrun-escape-{uuid.uuid4().hex}"
    ran = run_app(
        ATTEMPT
        + f"""
attempt("/", lambda: open("/{marker}", "w").write("x"))
attempt("/usr", lambda: open("/usr/{marker}", "w").write("x"))
attempt("/usr/bin/python3", lambda: open("/usr/bin/python3", "ab").write(b"x"))
attempt("/app", lambda: open("/app/{marker}", "w").write("x"))
attempt("/app/app.py", lambda: open("/app/app.py", "a").write("x"))
attempt("/iexec_in", lambda: open("/iexec_in/{marker}", "w").write("x"))
attempt("/iexec_in/input.txt", lambda: open("/iexec_in/input.txt", "a").write("x"))
attempt("/proc/sys", lambda: open("/proc/sys/kernel/hostname", "w").write("x"))
attempt("/dev", lambda: open("/dev/{marker}", "w").write("x"))
attempt("hard link to an input", lambda: os.link("/iexec_in/input.txt", "/iexec_out/input-link"))
attempt("hard link to the runtime", lambda: os.link("/usr/bin/python3", "/iexec_out/python-link"))
open("/tmp/{marker}", "w").write("private tmp")
open("/iexec_out/result.txt", "w").write("ok")
"""
    )
    _verdicts(ran, 11)
    assert (ran.output_dir / "result.txt").read_text() == "ok"
    assert not Path(f"/tmp/{marker}").exists()  # the sandbox's /tmp is its own tmpfs
    assert (ran.input_dir / "input.txt").read_text() == "input data\n"
    assert not list(work_root.rglob(marker))


def test_the_app_is_not_root_inside_or_on_the_host(run_app: Callable[..., Ran]) -> None:
    ran = run_app(
        ATTEMPT
        + """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def unshare(flags):  # Python 3.11 has no os.unshare (an AttributeError is no proof)
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
attempt("setuid 0", lambda: os.setuid(0))
attempt("new user namespace", lambda: unshare(0x10000000))
attempt("mount", lambda: unshare(0x00020000))
print("uid", os.getuid(), os.geteuid(), os.getgid())
caps = [l for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm"))]
print("caps", "".join(caps).split())
open("/iexec_out/owned", "w").write("x")
"""
    )
    _verdicts(ran, 3)
    assert "AttributeError" not in ran.stdout
    assert "uid 65534 65534 65534" in ran.stdout
    assert "'0000000000000000'" in ran.stdout
    assert "ffffffff" not in ran.stdout
    if os.geteuid() == 0:
        # Dropped before bwrap: what the app writes belongs to the task's own unprivileged
        # host user (a fresh id per sandbox), not root and not a user shared with other tasks.
        assert (ran.output_dir / "owned").stat().st_uid >= 1 << 20


def test_environment_and_host_processes_are_hidden(run_app: Callable[..., Ran]) -> None:
    os.environ["SEALRUN_HOST_SECRET"] = "do-not-leak"
    try:
        ran = run_app(
            ATTEMPT
            + f"""
attempt("signal the test process", lambda: os.kill({os.getpid()}, 9))
print("env", sorted(os.environ))
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("given", os.environ.get("GIVEN"))
""",
            env={"GIVEN": "yes"},
        )
    finally:
        del os.environ["SEALRUN_HOST_SECRET"]
    _verdicts(ran, 1)
    assert "SEALRUN_HOST_SECRET" not in ran.stdout
    assert "do-not-leak" not in ran.stdout
    assert "given yes" in ran.stdout
    pids = next(line for line in ran.stdout.splitlines() if line.startswith("pids"))
    assert max(int(p) for p in pids.split("[")[1].rstrip("]").split(",")) < 10


def test_fork_bomb_is_contained(run_app: Callable[..., Ran]) -> None:
    ran = run_app(
        """
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
""",
        limits=SandboxLimits(processes=16, wall_time_s=60),
    )
    line = next(line for line in ran.stdout.splitlines() if line.startswith("fork refused"))
    # `processes` counts the app itself: with one uid per task nothing else shares the count.
    assert 8 <= int(line.split()[3]) <= 15
    # The sleeping children died with the sandbox's pid namespace when the app exited.
    assert ran.outcome.exit_status == 0


def test_memory_limit(run_app: Callable[..., Ran]) -> None:
    ran = run_app("blob = bytearray(1024 * 1024 * 1024)\n", limits=SandboxLimits(memory_bytes=128 << 20))
    assert ran.outcome.memory_exceeded
    assert ran.outcome.exit_status != 0


def test_wall_clock_limit_kills_the_whole_tree(run_app: Callable[..., Ran]) -> None:
    marker = uuid.uuid4().hex
    ran = run_app(
        f"""
import os, time
if os.fork() == 0:
    os.setsid()  # try to leave the process group
    if os.fork() == 0:
        os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(600)", "{marker}"])
    os._exit(0)
time.sleep(600)
""",
        limits=SandboxLimits(wall_time_s=1.5),
    )
    assert ran.outcome.timed_out
    assert ran.outcome.exit_status is None
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                survivors.append(pid)
        except OSError:
            continue
    assert not survivors


def test_file_size_limit(run_app: Callable[..., Ran]) -> None:
    ran = run_app(
        'open("/iexec_out/big", "wb").write(b"x" * (3 << 20))\n',
        limits=SandboxLimits(file_size_bytes=1 << 20),
    )
    assert ran.outcome.file_size_exceeded
    assert (ran.output_dir / "big").stat().st_size <= 1 << 20


def test_tmp_is_size_capped(run_app: Callable[..., Ran]) -> None:
    ran = run_app(
        ATTEMPT + 'attempt("fill /tmp", lambda: open("/tmp/fill", "wb").write(b"x" * (8 << 20)))\n',
        limits=SandboxLimits(tmp_size_bytes=2 << 20),
    )
    _verdicts(ran, 1)


def test_logs_are_capped_but_drained(run_app: Callable[..., Ran]) -> None:
    ran = run_app(
        'import sys\nfor _ in range(64):\n    sys.stdout.write("y" * 65536)\n'
        'print("done", file=sys.stderr)\n',
        limits=SandboxLimits(log_size_bytes=100_000),
    )
    assert ran.outcome.exit_status == 0
    assert ran.outcome.stdout_bytes == 64 * 65536
    assert ran.outcome.stdout_truncated
    assert len(ran.stdout) == 100_000


def test_unreachable_folders_and_missing_bwrap_are_clear_errors(work_root: Path, tmp_path: Path) -> None:
    spec = SandboxSpec(
        argv=("true",), bundle_dir=tmp_path, input_dir=tmp_path, output_dir=tmp_path,
        stdout_path=tmp_path / "o", stderr_path=tmp_path / "e",
    )  # fmt: skip
    with pytest.raises(SandboxError) as caught:
        BubblewrapSandbox(bwrap=Path("/nonexistent/bwrap")).run(spec)
    assert caught.value.code == "SANDBOX_UNAVAILABLE"
    if os.geteuid() == 0:
        with pytest.raises(SandboxError) as caught:
            BubblewrapSandbox().run(spec)  # pytest's tmp_path is under a 0700 folder
        assert caught.value.code == "SANDBOX_PATH_UNREACHABLE"


def test_bwrap_setup_failure_is_sandbox_failed(work_root: Path) -> None:
    sandbox = BubblewrapSandbox()
    missing = work_root / "missing"
    spec = SandboxSpec(
        argv=("true",), bundle_dir=missing, input_dir=work_root, output_dir=work_root,
        stdout_path=work_root / "o", stderr_path=work_root / "e",
    )  # fmt: skip
    with pytest.raises(SandboxError) as caught:
        sandbox.run(spec)
    assert caught.value.code in {"SANDBOX_FAILED", "SANDBOX_PATH_UNREACHABLE"}
