"""End-to-end fixtures: real `sealrun` processes in a throwaway project; one embedded devnet
shared by the modules that use ``embedded_project`` (started once for ``tests/e2e``).

Every command runs as a user would type it (``.venv/bin/sealrun ...`` in the project folder).
Wallets use a low scrypt cost and their password comes from ``$SEALRUN_WALLET_PASSWORD``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SEALRUN = Path(sys.executable).parent / "sealrun"
PASSWORD = "e2e-password"  # a throwaway test wallet


@dataclass
class Project:
    """A project folder and the environment its commands run with."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run ``sealrun ARGS`` in the project; fail the test with its output if ``check`` and it fails."""
        done = subprocess.run(
            [str(SEALRUN), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"sealrun {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def json(self, *args: str, timeout: float = 180) -> Any:
        """Run ``sealrun ARGS --json`` and parse its one JSON document."""
        done = self.run(*args, "--json", timeout=timeout)
        return json.loads(done.stdout)

    def error(self, *args: str) -> dict[str, str]:
        """Run ``sealrun ARGS --json`` expecting failure; return its ``error`` object."""
        done = self.run(*args, "--json", check=False)
        assert done.returncode == 1, f"expected an error, got {done.returncode}: {done.stdout}{done.stderr}"
        return dict(json.loads(done.stdout)["error"])


def make_project(prefix: str, *, parent: Path | None = None) -> Project:
    """A fresh project folder with one wallet: under /tmp (made traversable), or in ``parent``
    exactly as ``mkdtemp`` makes it (0700: a home folder others cannot enter)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=str(parent or "/tmp")))
    if parent is None:
        root.chmod(0o711)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SEALRUN_")},
        "SEALRUN_WALLET_PASSWORD": PASSWORD,
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    project = Project(root, env)
    project.run("init", "--json")
    project.run("wallet", "create", "default", "--scrypt-n", "1024", "--json")
    return project


def start_devnet(project: Project, *extra: str) -> dict[str, Any]:
    """``sealrun devnet up`` in ``project``; returns its JSON."""
    return dict(project.json("devnet", "up", *extra, timeout=400))


def stop_devnet(project: Project) -> None:
    """``sealrun devnet down`` (tolerates a devnet already down) and remove the folder."""
    project.run("devnet", "down", "--json", check=False, timeout=120)
    shutil.rmtree(project.root, ignore_errors=True)


@pytest.fixture(scope="package")
def embedded_project() -> Iterator[Project]:
    """A project with one wallet and a running embedded devnet, shared by the e2e modules.

    Package scope: one devnet boot for every module that uses it (it was one per module), torn
    down when ``tests/e2e`` ends, so it does not idle through the rest of the suite. Tests on it
    must not assume they are its only users (count what *they* add, use names of their own).
    """
    project = make_project("sealrun-e2e-")
    try:
        start_devnet(project)
        yield project
    finally:
        stop_devnet(project)
