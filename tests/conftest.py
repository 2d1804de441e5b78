"""Shared fixtures for the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO.parent / "shared" / "attestation-vectors"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The read-only attestation vectors; a missing folder fails the test, never skips it."""
    assert VECTORS.is_dir(), f"attestation vectors missing at {VECTORS}"
    return VECTORS
