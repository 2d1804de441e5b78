"""Identity and recipient files: 0600, atomic, never clobbered, age-keygen compatible."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from sealrun.adapters.sealedfiles import read_identity, read_recipient, write_identity
from sealrun.core.sealing import Identity
from sealrun.errors import ConfigError, SealError


def test_written_0600_in_a_0700_folder_and_read_back(tmp_path: Path, identity: Identity) -> None:
    path = write_identity(tmp_path / "keys" / "me.key", identity)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_identity(path) == identity
    assert read_recipient(path) == identity.recipient
    assert [p.name for p in path.parent.iterdir()] == ["me.key"]  # no temp file left


def test_never_overwritten_unless_asked(tmp_path: Path, identity: Identity) -> None:
    path = write_identity(tmp_path / "k", identity)
    other = Identity.generate()
    with pytest.raises(ConfigError) as caught:
        write_identity(path, other)
    assert caught.value.code == "KEY_FILE_EXISTS"
    assert read_identity(path) == identity
    write_identity(path, other, overwrite=True)
    assert read_identity(path) == other


def test_age_reads_our_file_and_we_read_age_keygens(
    tmp_path: Path, age_keygen: str, identity: Identity
) -> None:
    ours = write_identity(tmp_path / "ours.key", identity)
    recipient = subprocess.run(
        [age_keygen, "-y", str(ours)], capture_output=True, text=True, check=True
    ).stdout
    assert recipient.strip() == str(identity.recipient)
    theirs = tmp_path / "theirs.key"
    subprocess.run([age_keygen, "-o", str(theirs)], capture_output=True, check=True)
    assert str(read_identity(theirs)).startswith("AGE-SECRET-KEY-1")


def test_bad_files(tmp_path: Path, identity: Identity) -> None:
    with pytest.raises(ConfigError) as missing:
        read_identity(tmp_path / "nope")
    assert missing.value.code == "KEY_FILE_NOT_FOUND"
    two = tmp_path / "two"
    two.write_text(f"{identity}\n{Identity.generate()}\n")
    empty = tmp_path / "empty"
    empty.write_text("# only a comment\n")
    garbage = tmp_path / "garbage"
    garbage.write_text("AGE-SECRET-KEY-1NOTAKEY\n")
    for path in (two, empty, garbage):
        with pytest.raises(SealError) as caught:
            read_identity(path)
        assert caught.value.code == "SEAL_BAD_KEY"
        assert str(identity) not in caught.value.message


def test_recipient_from_text_or_file(tmp_path: Path, identity: Identity) -> None:
    text = str(identity.recipient)
    assert read_recipient(text) == identity.recipient
    path = tmp_path / "r.txt"
    path.write_text(f"# recipient\n{text}\n")
    assert read_recipient(path) == identity.recipient
    with pytest.raises(SealError):
        read_recipient("age1notarecipient")


def test_a_key_file_that_cannot_be_read_or_written(tmp_path: Path, identity: Identity) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"AGE-SECRET-KEY-1\xff\xfe")
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in (binary, folder):
        with pytest.raises(ConfigError) as unreadable:
            read_identity(path)
        assert unreadable.value.code == "KEY_FILE_UNREADABLE"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the key's folder should be")
    with pytest.raises(ConfigError) as unwritable:
        write_identity(blocker / "result.key", identity)
    assert unwritable.value.code == "KEY_FILE_UNREADABLE"
    assert str(identity) not in unwritable.value.message
    with pytest.raises(ConfigError) as onto_folder:
        write_identity(folder, identity, overwrite=True)  # replacing a folder with a key fails
    assert onto_folder.value.code == "KEY_FILE_UNREADABLE"
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary", "blocker", "folder"]  # no temp file
