"""Any home folder works: a project under parents others cannot enter (0700, 0750) runs tasks.

Home folders are 0700 or 0750 (root's, Ubuntu's since 21.04, ``mktemp -d``): the sandbox user
cannot traverse them. The worker runs each task in a folder of its own under the system's
temporary folder, and the app bundle is copied there by the enclave before the task uid
touches it, so nothing under the user's folders has to be opened up. Nothing here loosens a
mode: the test checks the parents' modes are unchanged at the end. (`sealrun demo` from a 0700
parent is ``test_demo.py``'s one demo run.)
"""

from __future__ import annotations

import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, make_project, start_devnet, stop_devnet

pytestmark = [pytest.mark.e2e]

RENDER = REPO / "examples" / "render-scene"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def private_home() -> Iterator[Path]:
    """A 0700 folder (like root's home) holding a 0750 one (like an Ubuntu home)."""
    home = Path(tempfile.mkdtemp(prefix="sealrun-home-"))
    home.chmod(0o700)
    inner = home / "user"
    inner.mkdir(mode=0o750)
    inner.chmod(0o750)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_app_run_passes_from_a_0750_parent_inside_a_0700_one(private_home: Path) -> None:
    parent = private_home / "user"
    project = make_project("project-", parent=parent)
    assert _mode(project.root) == 0o700  # as mkdtemp made it: nothing opened up
    try:
        start_devnet(project)
        bundle = project.root / "render-scene"  # the app bundle lives in the private project too
        shutil.copytree(RENDER, bundle)
        project.json("tee", "init")
        shutil.copy(RENDER / "scene.json", project.root / "tee" / "inputs" / "scene.json")
        app = str(project.json("app", "deploy", str(bundle), "--yes")["app"])
        project.json("order", "init", "--app", app, "--volume", "10")
        project.json("order", "sign", "--app")
        pushed = project.json("tee", "encryptedpush", "--application", app, "--yes")
        ran = project.json(
            "app", "run", app, "--dataset", pushed["dataset"], "--args", "--width 48 --height 36",
            "--watch", "--download", "--decrypt", "--yes", "--timeout", "300",
        )  # fmt: skip
        assert ran["status"] == "COMPLETED", ran
        images = [Path(f) for f in ran["outputs"] if f.endswith(".png")]
        assert images, ran
        assert images[0].read_bytes().startswith(PNG)
        assert images[0].is_relative_to(project.root / "tee" / "outputs")
        assert (_mode(private_home), _mode(parent), _mode(project.root)) == (0o700, 0o750, 0o700)
    finally:
        stop_devnet(project)
