"""Seal the enclave's outputs to the beneficiary and open the dataset, on disk.

Built on :mod:`sealrun.adapters.sealedfiles` (temporary outputs renamed into place only when
complete and authentic) and :mod:`sealrun.core.sealing` (streaming age, the deterministic
folder archive). The result archive is sealed straight from the archive stream, hashed on
the way: the result digest is the sha256 of exactly the plaintext the beneficiary opens, and
no plaintext archive is ever written to disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.sealedfiles import open_path, seal_path
from sealrun.core.sealing import ArchiveEntry, ArchiveReader, Identity, Recipient, seal_stream
from sealrun.core.tasks import FailureCode
from sealrun.enclave.failure import TaskFailedError
from sealrun.errors import ConfigError, SealError

__all__ = ["SealedArchive", "open_dataset", "seal_archive", "seal_folder"]


@dataclass(frozen=True)
class SealedArchive:
    """A sealed deterministic archive: the plaintext digest, the ciphertext checksum and sizes."""

    digest: bytes
    checksum: str
    plaintext_size: int
    ciphertext_size: int


class _HashingReader:
    """Reads a stream and hashes what it hands out."""

    def __init__(self, source: ArchiveReader) -> None:
        self.source = source
        self.hash = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self.source.read(size)
        self.hash.update(data)
        return data


def open_dataset(sealed: Path, target: Path, identity: str, *, max_bytes: int) -> int:
    """Open the sealed dataset into ``target`` (a file, or a folder for a sealed folder).

    Returns:
        The plaintext size.

    Raises:
        TaskFailedError: ``INPUT_OPEN_FAILED`` (wrong key, tampered, truncated, hostile archive).
    """
    # The pre-compute hashed the ciphertext while downloading it and compared it with the
    # order's checksum; hashing it again here would cost ~0.6 CPU s/GiB for nothing (the AEAD
    # authenticates every chunk anyway).
    try:
        opened = open_path(
            sealed, target, [Identity.parse(identity)], max_unpacked_size=max_bytes, checksum=False
        )
    except (SealError, ConfigError) as error:  # UnpackError is a SealError
        raise TaskFailedError(
            FailureCode.INPUT_OPEN_FAILED, f"the dataset does not open: {error.code}: {error.message}"
        ) from error
    return opened.plaintext_size


def seal_archive(entries: Sequence[ArchiveEntry], target: Path, recipient: str) -> SealedArchive:
    """Seal the deterministic archive of ``entries`` to ``recipient`` into ``target``.

    Raises:
        SealError: an unusable recipient or unreadable entry.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as sink, ArchiveReader(entries) as archive:
            reader = _HashingReader(archive)
            info = seal_stream(reader, sink, [Recipient.parse(recipient)])
        temp.chmod(0o644)  # ciphertext, meant to be published
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return SealedArchive(reader.hash.digest(), info.checksum, info.plaintext_size, info.ciphertext_size)


def seal_folder(folder: Path, target: Path, recipient: str) -> tuple[str, int]:
    """Seal a folder of the enclave's own (the logs) to ``recipient``; return (checksum, size)."""
    sealed = seal_path(folder, target, [Recipient.parse(recipient)])
    return sealed.checksum, sealed.ciphertext_size
