"""What sealing and opening refuse before writing anything: an existing output, links and special
files in a folder, an output inside the sealed folder, paths an archive cannot hold."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from sealrun.adapters.sealedfiles import open_path, seal_path
from sealrun.adapters.sealedfiles.folders import walk_folder
from sealrun.core.sealing import ArchiveEntry, Identity
from sealrun.errors import SealError

KEY = Identity.generate()


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "data.txt").write_text("private")
    return root


def test_an_existing_output_is_never_replaced_unless_asked(tmp_path: Path) -> None:
    source = tmp_path / "data.txt"
    source.write_text("private")
    sealed = tmp_path / "data.age"
    sealed.write_bytes(b"someone else's file")
    with pytest.raises(SealError) as caught:
        seal_path(source, sealed, [KEY.recipient])
    assert caught.value.code == "SEAL_OUTPUT_EXISTS"
    assert sealed.read_bytes() == b"someone else's file"
    link = tmp_path / "link.age"
    link.symlink_to(tmp_path / "elsewhere.age")  # a dangling link counts as taken too
    with pytest.raises(SealError) as linked:
        seal_path(source, link, [KEY.recipient])
    assert linked.value.code == "SEAL_OUTPUT_EXISTS"
    assert not (tmp_path / "elsewhere.age").exists()
    assert seal_path(source, sealed, [KEY.recipient], overwrite=True).path == sealed

    opened = tmp_path / "opened"
    opened.mkdir()
    (opened / "mine").write_text("keep")
    with pytest.raises(SealError) as again:
        open_path(sealed, opened, [KEY])
    assert again.value.code == "SEAL_OUTPUT_EXISTS"
    assert [p.name for p in opened.iterdir()] == ["mine"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.age", "data.txt", "link.age", "opened"]


@pytest.mark.parametrize("special", ["symlink", "fifo", "socket"])
def test_a_folder_with_a_link_or_special_file_is_not_sealed(tmp_path: Path, special: str) -> None:
    source = _folder(tmp_path / "src")
    odd = source / "sub" / "odd"
    if special == "symlink":
        odd.symlink_to("/etc/passwd")
    elif special == "fifo":
        os.mkfifo(odd)
    else:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(odd))
    out = tmp_path / "src.age"
    with pytest.raises(SealError) as caught:
        seal_path(source, out, [KEY.recipient])
    assert caught.value.code == "SEAL_SOURCE_UNSUPPORTED"
    assert str(odd) in caught.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no output, no partial file


def test_an_output_inside_the_sealed_folder_is_refused(tmp_path: Path) -> None:
    source = _folder(tmp_path / "src")
    with pytest.raises(SealError) as caught:
        seal_path(source, source / "sub" / "self.age", [KEY.recipient])
    assert caught.value.code == "SEAL_SOURCE"
    assert not (source / "sub" / "self.age").exists()


def test_a_folder_that_cannot_be_listed_is_a_source_error(tmp_path: Path) -> None:
    for missing in (tmp_path / "gone", tmp_path / "file.txt"):
        if missing.name == "file.txt":
            missing.write_text("not a folder")
        with pytest.raises(SealError) as caught:
            walk_folder(missing)
        assert caught.value.code == "SEAL_SOURCE"


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../up", "a/../b", "a//b", "./a", "a/.", "a\0b"])
def test_an_archive_holds_only_clean_relative_paths(name: str) -> None:
    with pytest.raises(SealError) as caught:
        ArchiveEntry(name, "file")
    assert caught.value.code == "SEAL_SOURCE"


def test_clean_paths_are_accepted() -> None:
    assert ArchiveEntry("a/b.c", "file").name == "a/b.c"
    assert ArchiveEntry("..a/b..", "dir").name == "..a/b.."
