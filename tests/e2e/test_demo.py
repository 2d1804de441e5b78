"""`sealrun demo --json`, the README's main job: ends COMPLETED with the decrypted image on disk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import SEALRUN

pytestmark = [pytest.mark.e2e]


def test_demo_json_ends_completed_with_the_image(work_root: Path) -> None:
    workdir = work_root / "demo"
    done = subprocess.run(
        [str(SEALRUN), "demo", "--workdir", str(workdir), "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "COMPLETED"
    assert result["task_id"].startswith("0x")
    image = Path(result["image"])
    assert image in [Path(p) for p in result["outputs"]]
    assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert {"devnet up", "encryptedpush", "order fill", "task", "download", "decrypt"} <= set(
        result["timings"]
    )
    assert not (workdir / ".sealrun" / "devnet" / "state.json").exists()  # torn down
    # The demo verified its task's receipt online and prints the commands; the offline one
    # passes after the devnet is gone, from the receipt and the simulator key it kept.
    online, offline = result["verify"]
    assert online.startswith(f"sealrun verify {result['task_id']} --allow-simulated")
    checked = subprocess.run(
        [str(SEALRUN), *offline.split()[1:], "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["verified"] is True
