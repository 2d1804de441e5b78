"""The simulated enclave keeps the boundary it simulates (issue 13, SYSTEM.md §6).

The task side (SMS handshake, fetching, pre-compute, sandbox, post-compute) runs as a fresh
unprivileged uid; the simulator key stays in the quoting parent, loaded after the fork; the
measurement is the parent's and the task side cannot change the measured bundle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.core.attestation import Evidence, SimulatedVerifier, SimulatorKey
from sealrun.enclave.isolation import fresh_task_id
from tests.enclave.conftest import COMPUTED, Task

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="an isolated launch switches uids: root only")

CANARY = "0xcanary-worker-key-" + "7" * 40


@pytest.fixture
def key_file(tmp_path: Path, simulator_key: SimulatorKey) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    path = keys / "simulator.pem"
    path.write_bytes(simulator_key.to_pem())
    path.chmod(0o600)
    return path


def _probe(
    make_bundle: Callable[..., Path], task: Task, key_file: Path, tmp_path: Path, app: str, extra: str = ""
) -> tuple[dict[str, object], dict[str, object], Path]:
    bundle = make_bundle({"app.py": app}, extra=extra)
    work = Path(f"/tmp/sealrun-isolation-test-{os.getpid()}-{time.monotonic_ns()}")
    probe_out = work.with_name(work.name + "-probe.json")
    env = {**os.environ, "SEALRUN_WORKER_KEY": CANARY, "SEALRUN_WALLET_PASSWORD": CANARY}
    done = subprocess.run(
        [sys.executable, "-m", "tests.enclave.isolation_probe", str(bundle), str(work), str(key_file),
         str(task.secrets_file), str(probe_out)],
        env=env, capture_output=True, timeout=300, check=False, cwd=Path(__file__).parents[2],
        umask=0o077,  # as the devnet runs every service
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    facts = json.loads(probe_out.read_text())
    report = json.loads((work / "report.json").read_text())
    probe_out.unlink()
    return facts, report, work


def test_task_side_runs_as_a_fresh_uid_and_reaches_no_worker_secret(
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    key_file: Path,
    simulator_key: SimulatorKey,
    tmp_path: Path,
) -> None:
    task = make_task()
    facts, report, work = _probe(make_bundle, task, key_file, tmp_path, "print('hello')\n" + COMPUTED)
    try:
        assert report["status"] == "completed", report
        assert facts["uid"] == facts["euid"] == facts["gid"]
        assert facts["uid"] != 0
        assert facts["uid"] >= 1 << 20
        assert facts["groups"] == []
        # The simulator key (0600, another uid) and the quoting parent are out of reach.
        assert facts["read_key"] == "PermissionError"
        assert facts["read_parent_environ"] == "PermissionError"
        assert facts["read_parent_mem"] == "PermissionError"
        assert facts["read_shadow"] == "PermissionError"
        # ... while Python's own folders stay readable, even under a closed home and umask 077.
        assert facts["list_stdlib"] == "ALLOWED"
        assert facts["list_site_packages"] == "ALLOWED"
        # The measured bundle copy is root's: the task side cannot change what was measured.
        assert facts["write_bundle"] == "PermissionError"
        assert facts["add_to_bundle"] == "PermissionError"
        # Nothing of the worker's environment reached the task side.
        assert CANARY not in json.dumps(facts["environ"])
        # The parent quotes its own measurement of the bundle, verifiably.
        fingerprint = load_bundle(work / "bundle").fingerprint
        assert facts["quoter_measurement"] == fingerprint.hex()
        evidence = Evidence.from_json(json.dumps(facts["evidence"]))
        claims = SimulatedVerifier(simulator_key.public_key).verify(evidence, now=int(time.time()))
        assert claims.measurement == fingerprint
        assert claims.report_data == bytes(range(64))
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_outputs_stop_at_the_manifest_cap(
    make_bundle: Callable[..., Path], make_task: Callable[..., Task], key_file: Path, tmp_path: Path
) -> None:
    app = (
        "import sys\n"
        "try:\n"
        "    with open('/iexec_out/big', 'wb') as f:\n"
        "        for _ in range(8):\n"
        "            f.write(b'x' * (1 << 20))\n"
        "            f.flush()\n"
        "except OSError as e:\n"
        "    print('stopped', e.errno, file=sys.stderr)\n"
        "    sys.exit(3)\n"
    )
    task = make_task()
    _facts, report, work = _probe(
        make_bundle, task, key_file, tmp_path, app, extra="[resources]\noutput_size_mb = 1\n"
    )
    try:
        # The write stopped at the cap while the app ran (not after it wrote 8 MiB), and the
        # attested failure says why.
        assert report["status"] == "failed"
        assert report["failure"]["name"] == "APP_OUTPUT_TOO_LARGE"
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_fresh_task_ids_are_unprivileged_and_spread() -> None:
    ids = {fresh_task_id() for _ in range(64)}
    assert min(ids) >= 3 << 20
    assert len(ids) > 60


_REFUSALS = """
import json, sys
from pathlib import Path
from sealrun.enclave.isolation import IsolatedLaunch, run_isolated
from sealrun.enclave.runtime import RuntimeSettings
from sealrun.enclave.secrets import UnsafeLocalSecretsFile
from sealrun.errors import SealrunError

codes = []
for work, key in zip(sys.argv[2::2], sys.argv[3::2]):
    launch = IsolatedLaunch(bundle_dir=Path(sys.argv[1]), work_dir=Path(work), simulator_key_file=Path(key),
                            secrets=UnsafeLocalSecretsFile(Path(work) / "secrets.json"),
                            settings=RuntimeSettings())
    try:
        codes.append(("ran", run_isolated(launch, task_uid=lambda: 1 << 21)))
    except SealrunError as error:
        codes.append((error.code, error.message))
print(json.dumps(codes))
"""


def test_a_launch_the_task_uid_could_not_run_is_refused_before_anything_runs(
    make_bundle: Callable[..., Path], key_file: Path, tmp_path: Path
) -> None:
    """Refused before the fork: a work folder under a closed one, a simulator key that is missing."""
    bundle = make_bundle({"app.py": "print('never')\n"})
    closed = tmp_path / "closed"  # under pytest's 0700 folder: the task uid cannot enter it
    opened = Path(f"/tmp/sealrun-isolation-refusal-{os.getpid()}-{time.monotonic_ns()}")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _REFUSALS, str(bundle), str(closed / "work"), str(key_file),
             str(opened / "work"), str(opened / "missing.pem")],
            capture_output=True, text=True, timeout=120, check=False, cwd=Path(__file__).parents[2],
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        (unreachable, why), (unreadable, _) = json.loads(done.stdout)
        assert unreachable == "ENCLAVE_WORK_UNREACHABLE"
        assert str(tmp_path) in why
        assert unreadable == "SIMULATOR_KEY_UNREADABLE"
        for work in (closed / "work", opened / "work"):
            assert not (work / "bundle").exists()  # nothing copied, measured or run
            assert not (work / "task").exists()
    finally:
        subprocess.run(["rm", "-rf", str(opened)], check=False)
