"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.databases import DATABASES, database_url

# CI shares two cores with the services the suite starts: wall-clock deadlines per example
# would make property tests flaky without testing anything. Examples stay bounded.
settings.register_profile("sealrun", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sealrun")

REPO = Path(__file__).resolve().parents[1]

# Test tiers (docs/testing.md): the default suite leaves out the tests marked ``extended``
# (long variants whose guard a faster default test also holds); ``--tier extended`` runs only
# those, ``--tier all`` everything. An option rather than ``-m``, so it composes with ``-m e2e``.
TIERS = ("default", "extended", "all")
# The shared vectors beside the checkout; SEALRUN_TEST_VECTORS points elsewhere (the test that
# proves a missing folder is an error, not skips, points it at an empty one).
VECTORS = Path(os.environ.get("SEALRUN_TEST_VECTORS") or REPO.parent / "shared" / "attestation-vectors")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The read-only attestation vectors; a missing folder fails the test, never skips it."""
    assert VECTORS.is_dir(), f"attestation vectors missing at {VECTORS}"
    return VECTORS


@pytest.fixture
def work_root() -> Iterator[Path]:
    """A fresh folder under /tmp that the unprivileged sandbox user can traverse.

    pytest's own ``tmp_path`` sits under a 0700 folder, which the sandbox (running as
    ``nobody`` when the tests run as root) cannot reach.
    """
    root = Path(tempfile.mkdtemp(prefix="sealrun-test-", dir="/tmp"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=DATABASES)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty SQLite file or PostgreSQL schema (see :mod:`tests.databases`)."""
    with database_url(request.param, tmp_path) as url:
        yield url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        choices=TIERS,
        default="default",
        help="default: leave out tests marked extended; extended: only those; all: every test",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tier = config.getoption("--tier")
    if tier == "all":
        return
    wanted = tier == "extended"
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (kept if (item.get_closest_marker("extended") is not None) == wanted else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
