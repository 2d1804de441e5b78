"""The deterministic folder archive: same tree, same bytes; plain tar; recognised by its marker."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.adapters.sealedfiles.folders import walk_folder
from sealrun.core.sealing import ArchiveEntry, ArchiveReader, is_archive


def _tree(root: Path) -> None:
    (root / "b" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("alpha")
    (root / "b" / "deep" / ("long-" * 40 + ".bin")).write_bytes(os.urandom(70_000))
    (root / "ünïcode.txt").write_text("utf-8 name")
    run = root / "run.sh"
    run.write_text("#!/bin/sh\n")
    run.chmod(0o700)


def test_same_tree_same_bytes_whatever_the_metadata(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _tree(one)
    _tree(two)
    for path in two.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    (two / "b" / "deep" / ("long-" * 40 + ".bin")).write_bytes(
        (one / "b" / "deep" / ("long-" * 40 + ".bin")).read_bytes()
    )
    (two / "run.sh").chmod(0o755)
    blob_one = ArchiveReader(walk_folder(one)).read()
    blob_two = ArchiveReader(reversed(walk_folder(two))).read()
    assert blob_one == blob_two
    assert len(blob_one) % 512 == 0
    assert is_archive(blob_one[:4096])


def test_it_is_plain_tar(tmp_path: Path) -> None:
    source = tmp_path / "src"
    _tree(source)
    archive = tmp_path / "x.tar"
    archive.write_bytes(ArchiveReader(walk_folder(source)).read())
    listing = subprocess.run(["tar", "-tvf", str(archive)], capture_output=True, text=True, check=True)
    assert listing.stderr == ""
    assert "ünïcode.txt" in listing.stdout
    assert "-rwxr-xr-x 0/0" in listing.stdout  # executable bit kept, owners zeroed
    target = tmp_path / "untarred"
    target.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(target)], check=True)
    assert (target / "b" / "deep" / ("long-" * 40 + ".bin")).read_bytes() == (
        source / "b" / "deep" / ("long-" * 40 + ".bin")
    ).read_bytes()
    assert (target / "empty").is_dir()
    with tarfile.open(archive) as tar:
        assert all(member.mtime == 0 and member.uid == 0 and member.uname == "" for member in tar)


def test_marker_detection_rejects_other_data() -> None:
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info = tarfile.TarInfo("file")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert not is_archive(plain.getvalue())
    assert not is_archive(b"")
    assert not is_archive(os.urandom(2048))
    blob = ArchiveReader([ArchiveEntry("x", "dir")]).read()
    damaged = bytearray(blob)
    damaged[0] ^= 1
    assert is_archive(blob)
    assert not is_archive(bytes(damaged))


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.text(
            st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="/\\"),
            min_size=1,
            max_size=120,
        ),
        st.binary(max_size=2000),
        max_size=6,
    ).filter(lambda d: not any(name in (".", "..") for name in d))
)
def test_python_tarfile_reads_back_every_entry(files: dict[str, bytes]) -> None:
    entries = [
        ArchiveEntry(name, "file", size=len(data), open=lambda data=data: io.BytesIO(data))
        for name, data in files.items()
    ]
    blob = ArchiveReader(entries).read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        read = {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}  # type: ignore[union-attr]
    assert read == files


def test_a_file_that_changes_size_is_refused() -> None:
    import pytest

    from sealrun.errors import SealError

    entry = ArchiveEntry("x", "file", size=10, open=lambda: io.BytesIO(b"short"))
    with pytest.raises(SealError) as caught:
        ArchiveReader([entry]).read()
    assert caught.value.code == "SEAL_SOURCE_CHANGED"
