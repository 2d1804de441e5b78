"""Concurrent tasks each get their own host user, so none starves the others' sandboxes.

The kernel counts processes and user namespaces per host uid: when every sandbox ran as
``nobody``, a dozen concurrent tasks made some sandboxes fail to start (EAGAIN). This runs
more concurrent sandboxes than that and requires every one to start and exit cleanly.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sealrun.adapters.sandbox import BubblewrapSandbox, SandboxLimits, SandboxSpec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="per-task host users need root to set up")


def _run_one(base: Path) -> int | None:
    sandbox = BubblewrapSandbox()
    for name in ("app", "in"):
        (base / name).mkdir(parents=True)
        (base / name).chmod(0o755)
    base.chmod(0o711)
    sandbox.prepare_output(base / "out")
    spec = SandboxSpec(
        argv=("python3", "-c", "import time; time.sleep(0.3); print('ok')"),
        bundle_dir=base / "app",
        input_dir=base / "in",
        output_dir=base / "out",
        stdout_path=base / "stdout.log",
        stderr_path=base / "stderr.log",
        limits=SandboxLimits(wall_time_s=120),
    )
    return sandbox.run(spec).exit_status


def test_each_sandbox_has_its_own_unprivileged_host_user() -> None:
    uids = {BubblewrapSandbox().host_uid for _ in range(50)}
    assert len(uids) > 45
    assert min(uids) >= 1 << 20


def test_many_concurrent_sandboxes_all_start(work_root: Path) -> None:
    bases = [work_root / f"task-{i}" for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(_run_one, bases))
    assert statuses == [0] * len(bases)
