"""`sealrun demo --json`, the README's main job: ends COMPLETED with the decrypted image on disk,
run from a parent folder others cannot enter (0700, like root's home or ``mktemp -d``).

One demo run holds both guards (it used to be two runs of the whole demo: this one and
``test_home_folders``'s); the 0750-inside-0700 project case stays in ``test_home_folders.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SEALRUN

pytestmark = [pytest.mark.e2e]

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def private_parent() -> Iterator[Path]:
    """A 0700 folder, as ``mkdtemp`` makes it: the sandbox user cannot traverse it."""
    parent = Path(tempfile.mkdtemp(prefix="sealrun-home-"))
    parent.chmod(0o700)
    try:
        yield parent
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_demo_json_ends_completed_with_the_image_from_a_0700_parent(private_parent: Path) -> None:
    workdir = private_parent / "demo"
    done = subprocess.run(
        [str(SEALRUN), "demo", "--workdir", str(workdir), "--json", "--keep"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    state = workdir / ".sealrun" / "devnet"
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        _the_explorer_shows_the_task_verified(state, result["task_id"])
    finally:
        subprocess.run(
            [str(SEALRUN), "devnet", "down", "--state-dir", str(state)],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    assert result["status"] == "COMPLETED", result
    assert result["task_id"].startswith("0x")
    assert result["task"]["steps"] == [
        "scheduled",
        "attested",
        "app ran",
        "result sealed",
        "settled on chain",
    ]
    image = Path(result["image"])
    assert image in [Path(p) for p in result["outputs"]]
    assert image.read_bytes().startswith(PNG)
    assert {"devnet up", "encryptedpush", "order fill", "task", "download", "decrypt"} <= set(
        result["timings"]
    )
    assert not (state / "state.json").exists()  # torn down
    assert stat.S_IMODE(private_parent.stat().st_mode) == 0o700  # nothing opened up
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


def _the_explorer_shows_the_task_verified(state: Path, task_id: str) -> None:
    """The devnet's explorer, in Chromium: the demo's task, its timeline and its receipt verified
    (the simulated TEE named as such)."""
    shown = subprocess.run(
        [str(SEALRUN), "devnet", "status", "--state-dir", str(state), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (explorer,) = [row["url"] for row in json.loads(shown.stdout)["processes"] if row["name"] == "explorer"]
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists() and not os.environ.get("CI"):
        return  # scripts/setup.sh installs Debian's chromium; CI always has it
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{explorer}/tasks/{task_id}")
            text = page.inner_text("body")
        finally:
            browser.close()
    assert task_id in text
    assert "verified (TEE simulated: SIMULATED, no hardware protection)" in text, text
    assert "NOT verified" not in text
    assert "settled" in text or "COMPLETED" in text
