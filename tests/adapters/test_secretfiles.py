"""Secrets come from private files: a folder or file others may reach is refused before reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealrun.adapters.secretfiles import check_private, secrets_dir
from sealrun.errors import ConfigError
from sealrun.services.worker.settings import WorkerSettings

PREFIX = "SEALRUN_WORKER_"


def _folder(tmp_path: Path, *, mode: int = 0o700, file_mode: int = 0o600) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    key = folder / "SEALRUN_WORKER_KEY"
    key.write_text("0x" + "ab" * 32)
    key.chmod(file_mode)
    folder.chmod(mode)
    return folder


def test_a_private_folder_feeds_the_settings(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    found = secrets_dir(PREFIX, {"SEALRUN_WORKER_SECRETS_DIR": str(folder)})
    assert found == folder
    settings = WorkerSettings(_secrets_dir=found, work_dir=tmp_path, hub="0x" + "00" * 20)  # type: ignore[call-arg]
    assert settings.key.get_secret_value() == "0x" + "ab" * 32
    assert "ab" * 32 not in repr(settings)


def test_no_folder_named_means_none() -> None:
    assert secrets_dir(PREFIX, {}) is None


@pytest.mark.parametrize(
    ("mode", "file_mode"), [(0o750, 0o600), (0o701, 0o600), (0o700, 0o640), (0o700, 0o604)]
)
def test_anything_others_may_reach_is_refused(tmp_path: Path, mode: int, file_mode: int) -> None:
    folder = _folder(tmp_path, mode=mode, file_mode=file_mode)
    with pytest.raises(ConfigError) as caught:
        secrets_dir(PREFIX, {"SEALRUN_WORKER_SECRETS_DIR": str(folder)})
    assert caught.value.code == "SECRET_FILE_EXPOSED"


def test_a_symlink_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "SEALRUN_WORKER_HUB").symlink_to("/etc/hostname")
    with pytest.raises(ConfigError) as caught:
        secrets_dir(PREFIX, {"SEALRUN_WORKER_SECRETS_DIR": str(folder)})
    assert caught.value.code == "SECRET_FILE_EXPOSED"
    with pytest.raises(ConfigError) as missing:
        check_private(tmp_path / "absent", what="the secrets folder")
    assert missing.value.code == "SECRET_FILE_MISSING"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another owner: root only")
def test_a_file_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    os.chown(folder / "SEALRUN_WORKER_KEY", 12345, 12345)
    with pytest.raises(ConfigError) as caught:
        secrets_dir(PREFIX, {"SEALRUN_WORKER_SECRETS_DIR": str(folder)})
    assert caught.value.code == "SECRET_FILE_EXPOSED"
