"""Secret indexes on the command line: ASCII digits 1 to 1000, a coded error otherwise (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_sealing_cli import fails


@pytest.mark.parametrize("index", ["²", "٣", "0", "1001", "-1", "x"])
def test_app_run_refuses_a_bad_secret_index_before_anything(tmp_path: Path, index: str) -> None:
    fails(tmp_path, "USAGE", "app", "run", "0x" + "11" * 20, "--secret", f"{index}=name", "--yes")


@pytest.mark.parametrize("index", ["²", "0"])
def test_app_test_refuses_a_bad_secret_index(tmp_path: Path, index: str) -> None:
    bundle = tmp_path / "app"
    bundle.mkdir()
    (bundle / "app.py").write_text("pass\n")
    (bundle / "sealrun-app.toml").write_text(
        '[app]\nname = "t"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    fails(tmp_path, "CONFIG_INVALID", "app", "test", str(bundle), "--secret", f"{index}=value")


@pytest.mark.parametrize("filename", ["a/b", "..", "a\\b", "x" * 300])
def test_dataset_push_secret_refuses_a_bad_file_name_before_anything(tmp_path: Path, filename: str) -> None:
    fails(
        tmp_path,
        "DATASET_FILENAME_INVALID",
        "dataset",
        "push-secret",
        "0x" + "11" * 20,
        "--filename",
        filename,
    )
