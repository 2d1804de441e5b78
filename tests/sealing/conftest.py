"""Fixtures for the sealing tests: the age CLI (required, never skipped) and keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sealrun.core.sealing import Identity


@pytest.fixture(scope="session")
def age_bin() -> str:
    """The `age` command (Debian package `age`, installed by scripts/setup.sh)."""
    path = shutil.which("age")
    assert path is not None, "the age CLI is required (scripts/setup.sh installs it)"
    return path


@pytest.fixture(scope="session")
def age_keygen() -> str:
    path = shutil.which("age-keygen")
    assert path is not None, "age-keygen is required (Debian package age)"
    return path


@pytest.fixture(scope="session")
def identity() -> Identity:
    return Identity.generate()


@pytest.fixture
def identity_file(tmp_path: Path, identity: Identity) -> Path:
    path = tmp_path / "key.txt"
    path.write_text(f"# test key\n{identity}\n", encoding="ascii")
    return path


def run_age(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the age CLI; raise with its stderr when it fails."""
    done = subprocess.run(["age", *args], input=data, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done
