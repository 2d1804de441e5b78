"""Hostile archives inside sealed data: each attack refused with its code, nothing written."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.sealedfiles import open_path, seal_path
from sealrun.core.sealing import Identity, seal_bytes
from sealrun.errors import UnpackError

KEY = Identity.generate()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, b""


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "absolute": (lambda: _tar(_file("/tmp/sealrun-escape")), "UNPACK_ABSOLUTE_PATH"),
    "parent": (lambda: _tar(_file("../escape")), "UNPACK_PARENT_PATH"),
    "parent-inner": (lambda: _tar(_file("a/../../escape")), "UNPACK_PARENT_PATH"),
    "symlink-absolute": (lambda: _tar(_special("l", tarfile.SYMTYPE, "/etc")), "UNPACK_LINK_OUTSIDE"),
    "symlink-climb": (lambda: _tar(_special("l", tarfile.SYMTYPE, "../../etc")), "UNPACK_LINK_OUTSIDE"),
    "symlink-chain": (
        lambda: _tar(_special("d/l", tarfile.SYMTYPE, "x/.."), _special("m", tarfile.SYMTYPE, "d/l/..")),
        "UNPACK_LINK_OUTSIDE",
    ),
    "through-symlink": (
        lambda: _tar(_special("l", tarfile.SYMTYPE, "sub"), _file("l/passwd")),
        "UNPACK_LINK_OUTSIDE",
    ),
    "hardlink-outside": (lambda: _tar(_special("h", tarfile.LNKTYPE, "/etc/passwd")), "UNPACK_LINK_OUTSIDE"),
    "hardlink-climb": (lambda: _tar(_special("h", tarfile.LNKTYPE, "../x")), "UNPACK_LINK_OUTSIDE"),
    "hardlink-dangling": (lambda: _tar(_special("h", tarfile.LNKTYPE, "later")), "UNPACK_LINK_OUTSIDE"),
    "char-device": (lambda: _tar(_special("null", tarfile.CHRTYPE)), "UNPACK_DEVICE"),
    "block-device": (lambda: _tar(_special("sda", tarfile.BLKTYPE)), "UNPACK_DEVICE"),
    "fifo": (lambda: _tar(_special("pipe", tarfile.FIFOTYPE)), "UNPACK_DEVICE"),
    "duplicate": (lambda: _tar(_file("a", b"1"), _file("a", b"2")), "UNPACK_DUPLICATE"),
    "duplicate-dot": (lambda: _tar(_file("a"), _file("./a")), "UNPACK_DUPLICATE"),
    "under-a-file": (lambda: _tar(_file("a"), _file("a/b")), "UNPACK_DUPLICATE"),
    "link-over-dir": (lambda: _tar(_file("a/b"), _special("a", tarfile.SYMTYPE, "c")), "UNPACK_DUPLICATE"),
    "too-large": (lambda: _tar(_file("a", bytes(600)), _file("b", bytes(600))), "UNPACK_TOO_LARGE"),
    "control-char": (lambda: _tar(_file("bad\x1bname")), "UNPACK_BAD_NAME"),
    "volume-header": (lambda: _tar(_special("vol", b"V")), "UNPACK_UNSUPPORTED"),
    "unknown-type": (lambda: _tar(_special("odd", b"Z")), "UNPACK_UNSUPPORTED"),
    "not-a-tar": (lambda: os.urandom(5000), "UNPACK_MALFORMED"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    build, code = HOSTILE[case]
    sealed = tmp_path / "hostile.age"
    sealed.write_bytes(seal_bytes(build(), [KEY.recipient]))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnpackError) as caught:
        open_path(sealed, out / "result", [KEY], unpack=True, max_unpacked_size=1000)
    assert caught.value.code == code
    assert list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.age", "out"]
    assert not Path("/tmp/sealrun-escape").exists()


def test_safe_links_inside_are_kept(tmp_path: Path) -> None:
    blob = _tar(
        _file("dir/data.txt", b"hello"),
        _special("dir/alias", tarfile.SYMTYPE, "data.txt"),
        _special("copy", tarfile.LNKTYPE, "dir/data.txt"),
    )
    sealed = tmp_path / "x.age"
    sealed.write_bytes(seal_bytes(blob, [KEY.recipient]))
    opened = open_path(sealed, tmp_path / "out", [KEY], unpack=True)
    assert opened.kind == "folder"
    assert (tmp_path / "out" / "dir" / "alias").read_text() == "hello"
    assert os.readlink(tmp_path / "out" / "dir" / "alias") == "data.txt"
    assert (tmp_path / "out" / "copy").read_text() == "hello"


def test_a_foreign_tar_stays_a_file_unless_asked(tmp_path: Path) -> None:
    blob = _tar(_file("a", b"1"))
    sealed = tmp_path / "x.age"
    sealed.write_bytes(seal_bytes(blob, [KEY.recipient]))
    opened = open_path(sealed, tmp_path / "as-file", [KEY])
    assert opened.kind == "file"
    assert (tmp_path / "as-file").read_bytes() == blob


def test_an_empty_folder_round_trips(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    sealed = seal_path(tmp_path / "empty", tmp_path / "empty.age", [KEY.recipient])
    opened = open_path(sealed.path, tmp_path / "out", [KEY])
    assert opened.kind == "folder"
    assert opened.files == 0
    assert list((tmp_path / "out").iterdir()) == []


def test_sealed_folder_round_trip_and_limit(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "big").write_bytes(os.urandom(3 * 1024 * 1024))
    (source / "small").write_text("s")
    sealed = seal_path(source, tmp_path / "src.age", [KEY.recipient])
    assert sealed.kind == "folder"
    with pytest.raises(UnpackError) as caught:
        open_path(sealed.path, tmp_path / "limited", [KEY], max_unpacked_size=1024 * 1024)
    assert caught.value.code == "UNPACK_TOO_LARGE"
    assert not (tmp_path / "limited").exists()
    opened = open_path(sealed.path, tmp_path / "out", [KEY])
    assert opened.files == 2
    assert opened.checksum == sealed.checksum
    assert (tmp_path / "out" / "sub" / "big").read_bytes() == (source / "sub" / "big").read_bytes()
    unhashed = open_path(sealed.path, tmp_path / "unhashed", [KEY], checksum=False)
    assert unhashed.checksum is None
    assert (tmp_path / "unhashed" / "sub" / "big").read_bytes() == (source / "sub" / "big").read_bytes()
    as_tar = open_path(sealed.path, tmp_path / "raw.tar", [KEY], unpack=False)
    assert as_tar.kind == "file"
    with tarfile.open(tmp_path / "raw.tar") as tar:
        assert sorted(tar.getnames()) == [".", "small", "sub", "sub/big"]
