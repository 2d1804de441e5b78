"""Folders on disk ↔ archive members: walking a source folder, and unpacking into a new one.

Walking refuses what the deterministic archive cannot carry faithfully (symlinks, devices,
sockets, FIFOs: ``SEAL_SOURCE_UNSUPPORTED``). Unpacking runs in a thread that reads the
plaintext tar from a pipe while :func:`~sealrun.core.sealing.open_stream` writes it, so a
sealed folder is opened in one pass. Every member passes
:class:`~sealrun.core.sealing.UnpackRules` before anything is written; files are created with
``O_EXCL | O_NOFOLLOW`` under a folder that only this process knows, and symlinks (which the
rules only admit when they point down inside) are made last, so nothing is ever written
through a link or outside the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tarfile
import threading
from pathlib import Path
from typing import IO

from sealrun.core.sealing import ArchiveEntry, Member, UnpackRules
from sealrun.errors import SealError, UnpackError

__all__ = ["FolderUnpacker", "remove_tree", "walk_folder"]

_COPY = 1 << 20


def walk_folder(root: Path) -> list[ArchiveEntry]:
    """The archive entries of everything under ``root`` (directories and regular files).

    Raises:
        SealError: ``SEAL_SOURCE_UNSUPPORTED`` for a symlink or special file,
            ``SEAL_SOURCE`` when the folder cannot be read.
    """
    entries: list[ArchiveEntry] = []
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as listing:
                children = list(listing)
        except OSError as error:
            raise SealError(
                f"Cannot read the folder {folder}: {error.strerror}.", code="SEAL_SOURCE"
            ) from None
        for child in children:
            name = prefix + child.name
            info = child.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                entries.append(ArchiveEntry(name, "dir"))
                pending.append((Path(child.path), name + "/"))
            elif stat.S_ISREG(info.st_mode):
                path = Path(child.path)
                entries.append(
                    ArchiveEntry(
                        name,
                        "file",
                        size=info.st_size,
                        executable=bool(info.st_mode & 0o111),
                        open=lambda path=path: path.open("rb"),  # type: ignore[misc]
                    )
                )
            else:
                raise SealError(
                    f"Cannot seal {child.path}: only regular files and folders are sealed "
                    "(no links or devices).",
                    code="SEAL_SOURCE_UNSUPPORTED",
                )
    return entries


class FolderUnpacker:
    """Receives a tar stream through :meth:`write` and unpacks it under ``root`` (to be made).

    Args:
        root: the folder to create and fill; it must not exist.
        max_unpacked_size: the most bytes the files may add up to.
    """

    def __init__(self, root: Path, *, max_unpacked_size: int) -> None:
        self.root = root
        self.files = 0
        self._rules = UnpackRules(max_unpacked_size=max_unpacked_size)
        self._symlinks: list[Member] = []
        self._error: BaseException | None = None
        os.mkdir(root, 0o755)
        read_end, self._write_end = os.pipe()
        self._reader = os.fdopen(read_end, "rb")
        self._thread = threading.Thread(target=self._run, name="sealrun-unpack", daemon=True)
        self._thread.start()

    def write(self, data: bytes | memoryview) -> int:
        """Feed the next plaintext bytes to the unpacker."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._write_end, view) :]
        except BrokenPipeError:
            self._thread.join()
            raise self._error or UnpackError(
                "The archive reader stopped early.", code="UNPACK_MALFORMED"
            ) from None
        return len(data)

    def finish(self) -> None:
        """End the stream, wait for the unpacker, make the symlinks; raise what it hit."""
        self.close()
        if self._error is not None:
            raise self._error
        for member in self._symlinks:
            os.symlink(member.target, self.root / member.path)

    def close(self) -> None:
        """Close the pipe and wait for the thread (idempotent)."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1
        self._thread.join()

    def _run(self) -> None:
        try:
            with self._reader:
                try:
                    with tarfile.open(
                        fileobj=self._reader, mode="r|", encoding="utf-8", errors="surrogateescape"
                    ) as tar:
                        for info in tar:
                            member = self._rules.check(info)
                            if member is not None:
                                self._make(member, tar, info)
                            # Stream mode appends every member to tar.members; keep memory flat.
                            tar.members.clear()  # type: ignore[attr-defined]
                except (tarfile.TarError, EOFError) as error:
                    raise UnpackError(
                        f"The sealed folder's archive is malformed: {error}.", code="UNPACK_MALFORMED"
                    ) from None
                while self._reader.read(_COPY):  # let the writer finish: trailing padding is allowed
                    pass
        except BaseException as error:  # handed to the opening thread by write()/finish()
            self._error = error

    def _make(self, member: Member, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        target = self.root / member.path
        if member.kind == "dir":
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            return
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if member.kind == "symlink":
            self._symlinks.append(member)
            return
        if member.kind == "hardlink":
            os.link(self.root / member.target, target, follow_symlinks=False)
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(target, flags, 0o755 if member.executable else 0o644)
        with os.fdopen(fd, "wb") as out:
            source = tar.extractfile(info)
            assert source is not None  # a regular member always has data
            _copy(source, out)
        self.files += 1


def _copy(source: IO[bytes], out: IO[bytes]) -> None:
    while chunk := source.read(_COPY):
        out.write(chunk)


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a partial output) without following links; ignore what is gone."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
