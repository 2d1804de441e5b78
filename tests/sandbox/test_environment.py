"""Nothing of the worker's environment is readable inside the sandbox (issue 13, finding 2).

``--clearenv`` only clears the app's environment: bwrap's own processes (the sandbox's pid 1
among them) showed the environment bwrap was started with, the worker's private key and
wallet password, in ``/proc/1/environ``. A hostile app here copies every file it can read
under ``/proc/<pid>/`` (``environ``, ``cmdline``, ``status``, ... of every process and
thread it sees) and the memory where each process's environment and stack live, into its
output; the test searches that dump for canary values set in the runner's environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

import pytest

from tests.sandbox.conftest import Ran

# Every readable file of every /proc/<pid> (and its tasks), plus each process's
# environment block and [stack] through /proc/<pid>/mem where the kernel lets us.
SCAN_PROC = r"""
import os, re
dump = open("/iexec_out/dump", "wb")
read_environ = []
skip = {"pagemap", "mem", "clear_refs", "kpageflags", "kpagecount"}

def grab(path, limit=1 << 20):
    try:
        with open(path, "rb") as source:
            data = source.read(limit)
    except OSError:
        return None
    dump.write(b"\n== " + path.encode() + b"\n" + data)
    return data

def grab_memory(pid, start, end):
    try:
        with open(f"/proc/{pid}/mem", "rb") as memory:
            memory.seek(start)
            data = memory.read(min(end - start, 8 << 20))
    except (OSError, ValueError, OverflowError):
        return
    dump.write(b"\n== mem " + str(pid).encode() + b"\n" + data)
    print("read memory of", pid)

pids = [p for p in os.listdir("/proc") if p.isdigit()]
for pid in pids:
    roots = [f"/proc/{pid}"] + [f"/proc/{pid}/task/{t}" for t in os.listdir(f"/proc/{pid}/task")]
    for root in roots:
        for name in os.listdir(root):
            path = f"{root}/{name}"
            if name in skip or os.path.islink(path) or not os.path.isfile(path):
                continue
            data = grab(path)
            if name == "environ" and data is not None:
                read_environ.append(path)
    if pid == str(os.getpid()):
        continue  # our own memory holds this very scan, not the worker's environment
    try:
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        env_start, env_end = int(stat[47]), int(stat[48])  # fields 50 and 51 of proc(5)
        grab_memory(pid, env_start, env_end)
        for line in open(f"/proc/{pid}/maps"):
            if line.rstrip().endswith("[stack]"):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                grab_memory(pid, start, end)
    except (OSError, IndexError, ValueError):
        pass
dump.close()
print("pids", sorted(int(p) for p in pids))
print("environ read", " ".join(read_environ))
"""


def test_no_proc_file_inside_the_sandbox_holds_the_workers_environment(
    run_app: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    canaries = {
        "SEALRUN_WORKER_KEY": "canary-key-" + secrets.token_hex(16),
        "SEALRUN_WALLET_PASSWORD": "canary-password-" + secrets.token_hex(16),
    }
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    ran = run_app(SCAN_PROC, env={"GIVEN": "to-the-app"})
    assert ran.outcome.exit_status == 0, ran.stderr
    # The scan really read the sandbox's pid 1 (bwrap's init), where the leak was.
    assert "/proc/1/environ" in ran.stdout.split("environ read", 1)[1], ran.stdout
    assert "read memory of 1" in ran.stdout, ran.stdout
    dump = (ran.output_dir / "dump").read_bytes()
    assert b"to-the-app" in dump  # the app's own environment is there, as it should be
    for name, value in canaries.items():
        assert value.encode() not in dump, f"{name} leaked into the sandbox"
        assert name.encode() not in dump, f"{name} leaked into the sandbox"


def test_bwrap_is_started_with_an_empty_environment(run_app: Callable[..., Ran]) -> None:
    # bwrap's init is pid 1 inside: the environment it shows is what bwrap was given.
    os.environ["SEALRUN_CANARY"] = "x"
    try:
        ran = run_app(
            'import sys; sys.stdout.buffer.write(open("/proc/1/environ", "rb").read() or b"EMPTY")\n'
        )
    finally:
        del os.environ["SEALRUN_CANARY"]
    assert ran.stdout == "EMPTY", ran.stdout
