"""Without the attestation vectors the run stops with collection errors: it never skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.attestation.vectors import VectorsMissingError, required_vectors
from tests.conftest import REPO

PARAMETRIZED = [
    "tests/attestation/test_vectors.py",
    "tests/attestation/test_cli.py",
    "tests/attestation/test_hostile_input.py",
]


def _pytest(vectors: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEALRUN_TEST_VECTORS": str(vectors)}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *PARAMETRIZED]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_missing_vectors_folder_is_a_collection_error_not_skips(tmp_path: Path) -> None:
    done = _pytest(tmp_path / "absent")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output  # pytest: interrupted by collection errors
    assert "3 errors" in output, output
    assert output.count("VectorsMissingError: attestation vectors missing") == 3, output
    assert "skipped" not in output
    assert " passed" not in output


def test_an_empty_vectors_list_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "vectors.json").write_text("[]")
    with pytest.raises(VectorsMissingError, match="lists none"):
        required_vectors(tmp_path)
