"""The Blender example renders a private .blend in the real sandbox (needs Debian `blender`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Project

pytestmark = [pytest.mark.blender, pytest.mark.e2e]

BUNDLE = REPO / "examples" / "blender-render"


def test_blender_app_renders_a_private_scene(work_root: Path) -> None:
    blender = shutil.which("blender")
    assert blender is not None, (
        "Debian blender is missing: SEALRUN_SETUP_EXTRAS=blender bash scripts/setup.sh"
    )
    scene = work_root / "inputs"
    scene.mkdir()
    scene.chmod(0o755)
    make = [blender, "-b", "--factory-startup", "--python", str(BUNDLE / "make_scene.py")]
    subprocess.run([*make, "--", str(scene / "scene.blend")], check=True, capture_output=True, timeout=300)
    (scene / "scene.blend").chmod(0o644)
    project = Project(work_root, {k: v for k, v in os.environ.items() if not k.startswith("SEALRUN_")})
    ran = project.json(
        "app", "test", str(BUNDLE), "--input", str(scene), "--args", "--width 64 --height 48 --samples 2",
        "--out", str(work_root / "result"), timeout=600,
    )  # fmt: skip
    assert ran["status"] == "completed", ran
    assert "render.png" in ran["output_files"]
    assert (Path(ran["output_dir"]) / "render.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
