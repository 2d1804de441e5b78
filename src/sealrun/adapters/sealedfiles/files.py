"""Seal a file or folder to a file; open a sealed file into a file or folder. Nothing half-written.

Sealing writes to a hidden temporary file next to ``out`` and links/renames it into place
only when the last chunk is written; the checksum (sha256 of the ciphertext) is computed in
the same pass. Opening writes into a hidden temporary folder (mode 0700) next to ``out`` and
renames the file or folder into place only after the final chunk's tag verified and the
archive unpacked cleanly; on any failure the temporary folder is removed. An interrupted
process can leave a hidden ``.NAME.*.partial`` entry, never a file at ``out``.

**How a sealed folder is recognised.** A folder is sealed as the deterministic archive of
:mod:`sealrun.core.sealing.archive`, whose first block carries the versioned marker
``comment=sealrun-archive-v1``. ``open_path(unpack=None)`` unpacks exactly when the marker is
there (so a ``.tar`` sealed as a file stays a file); ``unpack=True`` unpacks any tar (same
safety rules); ``unpack=False`` writes the plaintext as one file. ``age -d`` of a sealed
folder gives the tar, which ``tar -x`` unpacks.

Error codes: those of :mod:`sealrun.core.sealing` and :mod:`sealrun.core.sealing.unpacking`,
plus ``FILE_NOT_FOUND`` (:class:`~sealrun.errors.ConfigError`: the input is missing),
``SEAL_OUTPUT_EXISTS`` (the output is there and ``overwrite`` is off), ``SEAL_SOURCE*`` (see
:mod:`.folders`) and ``SEAL_IO`` (reading or writing failed: disk full, permissions).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from sealrun.adapters.sealedfiles.folders import FolderUnpacker, remove_tree, walk_folder
from sealrun.core.sealing import (
    DEFAULT_MAX_UNPACKED_SIZE,
    ArchiveReader,
    Identity,
    Progress,
    Recipient,
    is_archive,
    open_stream,
    seal_stream,
)
from sealrun.errors import ConfigError, SealError

__all__ = ["OpenedPath", "SealedFile", "open_path", "seal_path"]

Kind = Literal["file", "folder"]


@dataclass(frozen=True)
class SealedFile:
    """A sealed file on disk: where, its checksum (``0x`` sha256 of the ciphertext), sizes, kind."""

    path: Path
    checksum: str
    plaintext_size: int
    ciphertext_size: int
    kind: Kind


@dataclass(frozen=True)
class OpenedPath:
    """An opened file or folder: where, the ciphertext checksum, sizes, kind, files written.

    ``checksum`` is None when :func:`open_path` was called with ``checksum=False``.
    """

    path: Path
    checksum: str | None
    plaintext_size: int
    ciphertext_size: int
    kind: Kind
    files: int


@contextlib.contextmanager
def _io_errors(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise SealError(f"{what}: {error.strerror or error}.", code="SEAL_IO") from None


def _check_output(out: Path, *, overwrite: bool) -> None:
    if out.is_symlink() or (out.exists() and not (overwrite and out.is_file())):
        raise SealError(
            f"{out} already exists; choose another output or remove it.", code="SEAL_OUTPUT_EXISTS"
        )


def _publish(temp: Path, out: Path, *, overwrite: bool) -> None:
    """Move ``temp`` to ``out`` atomically; without ``overwrite``, never replace anything."""
    try:
        if overwrite:
            os.replace(temp, out)
        elif temp.is_dir():
            if out.exists() or out.is_symlink():  # rename(2) would replace an empty folder
                raise FileExistsError
            os.rename(temp, out)
        else:
            os.link(temp, out)
            os.unlink(temp)
    except FileExistsError:
        raise SealError(
            f"{out} appeared while opening; not replacing it.", code="SEAL_OUTPUT_EXISTS"
        ) from None


def seal_path(
    source: Path,
    out: Path,
    recipients: Sequence[Recipient],
    *,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> SealedFile:
    """Seal a file, or a folder (as a deterministic archive), to the file ``out``.

    Args:
        source: the file or folder to seal.
        out: the sealed file to create (its folder must exist).
        recipients: who can open it.
        progress: called with plaintext byte counts.
        overwrite: replace an existing file at ``out``.

    Returns:
        The sealed file's path, checksum, sizes and kind.

    Raises:
        ConfigError: ``FILE_NOT_FOUND``. SealError: see the module docstring.
    """
    source, out = Path(source), Path(out)
    if not source.exists():
        raise ConfigError(f"{source} does not exist.", code="FILE_NOT_FOUND")
    _check_output(out, overwrite=overwrite)
    kind: Kind = "folder" if source.is_dir() else "file"
    if kind == "folder" and out.resolve().is_relative_to(source.resolve()):
        raise SealError(f"The output {out} must not be inside the folder being sealed.", code="SEAL_SOURCE")
    with _io_errors(f"Cannot seal {source} to {out}"):
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
        temp = Path(name)
        try:
            os.fchmod(fd, 0o644)  # ciphertext is meant to be published
            with os.fdopen(fd, "wb") as sink:
                if kind == "folder":
                    with ArchiveReader(walk_folder(source)) as archive:
                        info = seal_stream(archive, sink, recipients, progress=progress)
                else:
                    with source.open("rb") as plain:
                        info = seal_stream(plain, sink, recipients, progress=progress)
            _publish(temp, out, overwrite=overwrite)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    return SealedFile(out, info.checksum, info.plaintext_size, info.ciphertext_size, kind)


class _Destination:
    """Decides file vs folder on the first plaintext bytes, then writes there."""

    def __init__(self, workdir: Path, *, unpack: bool | None, max_unpacked_size: int) -> None:
        self.workdir = workdir
        self.unpack = unpack
        self.max_unpacked_size = max_unpacked_size
        self.file: BinaryIO | None = None
        self.folder: FolderUnpacker | None = None

    def write(self, data: bytes | memoryview) -> int:
        if self.file is None and self.folder is None:
            self._start(bytes(data[:4096]))
        target = self.folder if self.folder is not None else self.file
        assert target is not None
        return target.write(data)

    def _start(self, first: bytes) -> None:
        folder = self.unpack if self.unpack is not None else is_archive(first)
        if folder:
            self.folder = FolderUnpacker(self.workdir / "tree", max_unpacked_size=self.max_unpacked_size)
        else:
            self.file = (self.workdir / "data").open("xb")

    def finish(self) -> Path:
        if self.file is None and self.folder is None:
            self._start(b"")
        if self.folder is not None:
            self.folder.finish()
            return self.folder.root
        assert self.file is not None
        self.file.close()
        return self.workdir / "data"

    def close(self) -> None:
        if self.folder is not None:
            self.folder.close()
        if self.file is not None:
            self.file.close()


def open_path(
    sealed: Path,
    out: Path,
    identities: Sequence[Identity],
    *,
    max_unpacked_size: int = DEFAULT_MAX_UNPACKED_SIZE,
    unpack: bool | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
    checksum: bool = True,
    expected_checksum: str | None = None,
) -> OpenedPath:
    """Open ``sealed`` into the file or folder ``out``, which appears only if all of it verified.

    Args:
        sealed: the sealed file.
        out: the file or folder to create (its parent must exist).
        identities: keys to try.
        max_unpacked_size: the most bytes a sealed folder may unpack to.
        unpack: None to unpack sealrun folder archives only, True to unpack any tar,
            False to write the plaintext as one file.
        progress: called with ciphertext byte counts.
        overwrite: replace an existing *file* at ``out`` (a folder is never replaced).
        checksum: compute the ciphertext's sha256 while opening; turn off when it was
            verified already (saves ~0.6 CPU s/GiB).
        expected_checksum: the ``0x`` sha256 ``sealed`` must have; verified in the same pass
            (``SEAL_CHECKSUM_MISMATCH``, and nothing appears at ``out``).

    Returns:
        Where the plaintext went, the ciphertext checksum (None if ``checksum`` is off),
        sizes, kind and file count.

    Raises:
        ConfigError: ``FILE_NOT_FOUND``. SealError / UnpackError: see the module docstring.
    """
    sealed, out = Path(sealed), Path(out)
    if not sealed.is_file():
        raise ConfigError(f"{sealed} does not exist or is not a file.", code="FILE_NOT_FOUND")
    _check_output(out, overwrite=overwrite)
    with _io_errors(f"Cannot open {sealed} into {out}"):
        workdir = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
        try:
            destination = _Destination(workdir, unpack=unpack, max_unpacked_size=max_unpacked_size)
            try:
                with sealed.open("rb") as source:
                    info = open_stream(
                        source,
                        destination,
                        identities,
                        progress=progress,
                        checksum=checksum,
                        expected_checksum=expected_checksum,
                    )
                result = destination.finish()
            finally:
                destination.close()
            _publish(result, out, overwrite=overwrite)
        finally:
            remove_tree(workdir)
    files = destination.folder.files if destination.folder is not None else 1
    kind: Kind = "folder" if destination.folder is not None else "file"
    return OpenedPath(out, info.checksum, info.plaintext_size, info.ciphertext_size, kind, files)
