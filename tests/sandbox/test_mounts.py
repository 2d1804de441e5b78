"""The output folder is a size-capped tmpfs: writes stop at the cap (issue 13, finding 8).

The red-team app wrote 80 MiB under a 1 MiB ``output_size_mb`` because the size was only
checked after the run. Here a launcher-like child process enters a private mount
namespace, mounts a 1 MiB tmpfs as the output folder and runs a sandboxed app that tries to
write 5 MiB into it: the kernel refuses past the cap (ENOSPC), and the host never sees the
mount.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.sandbox import mount_tmpfs, output_full, unmount
from sealrun.errors import SandboxError

MIB = 1 << 20

WRITE_5_MIB = """
try:
    with open("/iexec_out/big", "wb") as sink:
        for _ in range(80):
            sink.write(b"x" * 65536)
    print("wrote 5 MiB")
except OSError as error:
    print("stopped", error.errno)
"""

# The launcher's part, in a child process of its own (argv[1]: the task folder).
LAUNCHER = """
import json, os, sys
from pathlib import Path
from sealrun.adapters.sandbox import (
    BubblewrapSandbox, SandboxLimits, SandboxSpec,
    enter_private_mount_namespace, mount_tmpfs, output_full, unmount,
)
base = Path(sys.argv[1])
output = base / "out"
sandbox = BubblewrapSandbox()
enter_private_mount_namespace()
mount_tmpfs(output, size_bytes=1 << 20, uid=sandbox.host_uid, gid=sandbox.host_gid)
seen_inside = str(output) in open("/proc/self/mountinfo").read()
print("mounted", flush=True)
sys.stdin.readline()  # the test reads its own mounts meanwhile
spec = SandboxSpec(
    argv=("python3", "app.py"), bundle_dir=base / "app", input_dir=base / "in", output_dir=output,
    stdout_path=base / "stdout.log", stderr_path=base / "stderr.log", limits=SandboxLimits(wall_time_s=60),
)
outcome = sandbox.run(spec)
stored = sum(entry.stat().st_size for entry in output.iterdir())
full = output_full(output)
unmount(output)
print(json.dumps({
    "seen_inside": seen_inside, "exit": outcome.exit_status, "stdout": (base / "stdout.log").read_text(),
    "stored": stored, "full": full, "under_the_mount": sorted(os.listdir(output)),
}))
"""


def _task_folder(base: Path) -> Path:
    for name in ("app", "in", "out"):
        (base / name).mkdir(parents=True)
        (base / name).chmod(0o755)
    base.chmod(0o711)
    (base / "app" / "app.py").write_text(WRITE_5_MIB)
    (base / "app" / "app.py").chmod(0o644)
    return base


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_writes_stop_at_the_output_cap_and_the_host_never_sees_the_mount(work_root: Path) -> None:
    base = _task_folder(work_root / "task")
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(base)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert launcher.stdin is not None
    assert launcher.stdout is not None
    try:
        assert launcher.stdout.readline().strip() == "mounted"
        # While the child holds the tmpfs, this process's mount table does not show it.
        assert str(base / "out") not in Path("/proc/self/mountinfo").read_text()
        launcher.stdin.write("go\n")
        launcher.stdin.flush()
        output, errors = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, errors
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    assert result["seen_inside"] is True
    assert result["stdout"].strip() == "stopped 28"  # ENOSPC
    assert result["stored"] <= MIB
    assert result["full"] is True
    assert result["under_the_mount"] == []  # the app's writes went to the tmpfs only
    assert list((base / "out").iterdir()) == []
    assert str(base / "out") not in Path("/proc/self/mountinfo").read_text()


def test_bad_mounts_are_refused_with_codes(work_root: Path) -> None:
    with pytest.raises(SandboxError) as caught:
        mount_tmpfs(work_root, size_bytes=0, uid=0, gid=0)
    assert caught.value.code == "SANDBOX_MOUNT_INVALID"
    with pytest.raises(SandboxError) as caught:
        mount_tmpfs(work_root, size_bytes=MIB, uid=-1, gid=0)
    assert caught.value.code == "SANDBOX_MOUNT_INVALID"
    # Kernel refusals (nothing is mounted in this, the host's, namespace).
    with pytest.raises(SandboxError) as caught:
        mount_tmpfs(work_root / "missing", size_bytes=MIB, uid=0, gid=0)
    assert caught.value.code == "SANDBOX_MOUNT_FAILED"
    assert "errno 2" in caught.value.message
    with pytest.raises(SandboxError) as caught:
        unmount(work_root)  # not a mount point
    assert caught.value.code == "SANDBOX_MOUNT_FAILED"


def test_an_ordinary_folder_is_not_full(work_root: Path) -> None:
    assert output_full(work_root) is False
