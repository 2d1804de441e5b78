"""``python -m sealrun.services.sms`` as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sealrun.core.attestation import SimulatorKey
from sealrun.services.sms.app import build_components
from tests.sms.conftest import World


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEALRUN_SMS_")}
    argv = [sys.executable, "-m", "sealrun.services.sms", *args]
    return subprocess.run(
        argv, capture_output=True, text=True, env={**clean, **env}, timeout=300, check=False
    )


def test_production_with_simulated_evidence_refuses_to_start(tmp_path: Path) -> None:
    env = {"SEALRUN_SMS_MODE": "production", "SEALRUN_SMS_ALLOW_SIMULATED_EVIDENCE": "true",
           "SEALRUN_SMS_MASTER_KEY": "0x" + "11" * 32, "SEALRUN_SMS_DATA_DIR": str(tmp_path)}  # fmt: skip
    done = _run(["migrate"], env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error [SMS_SIMULATED_IN_PRODUCTION]: a production SMS must not accept simulated evidence"
    )
    assert "11" * 32 not in done.stderr + done.stdout


def test_migrate_and_rotate_the_master_key(tmp_path: Path, simulator: SimulatorKey, world: World) -> None:
    from tests.sms.conftest import make_settings

    settings = make_settings(tmp_path, simulator)
    built = build_components(settings, chain=world.chain, clock=world.clock)
    world.push_secrets(built.usecases)
    built.close()
    env = {"SEALRUN_SMS_DATA_DIR": str(tmp_path), "SEALRUN_SMS_MASTER_KEY": "0x" + "43" * 32,
           "SEALRUN_SMS_MASTER_KEY_ID": "k2",
           "SEALRUN_SMS_PREVIOUS_MASTER_KEYS": json.dumps({"k1": "0x" + "42" * 32})}  # fmt: skip
    done = _run(["rotate-master-key"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rewritten": 3, "key_id": "k2"}
    assert "43" * 32 not in done.stdout + done.stderr
