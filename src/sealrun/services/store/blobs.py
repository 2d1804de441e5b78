"""The store's disk: content-addressed blobs, atomic writes, a size limit and a quota.

Layout under the root folder::

    blobs/<2 hex>/<64 hex>    complete blobs, named by the sha256 of their bytes
    incoming/<random>.part    uploads in progress (deleted on startup)

An upload is streamed into ``incoming/``, hashed on the way, ``fsync``-ed, then renamed
into ``blobs/`` only if its sha256 equals the name the client declared; the folder is
``fsync``-ed after the rename. A crash at any point leaves either no blob or the complete
one, never a partial file under a blob name. Names are always the hash: nothing the
uploader chose ever becomes a path.

Quota is reserved as bytes arrive (a stalled upload holds only what it sent) and an upload
that sends nothing for ``idle_timeout`` seconds is abandoned: its file deleted, its bytes
given back.

Errors (:class:`~sealrun.errors.StorageError`): ``STORAGE_BAD_CHECKSUM`` (a name that is
not 64 hex digits), ``STORAGE_CHECKSUM_MISMATCH``, ``STORAGE_TOO_LARGE``,
``STORAGE_QUOTA_EXCEEDED``, ``STORAGE_TRUNCATED``, ``STORAGE_UPLOAD_IDLE``, ``STORAGE_NOT_FOUND``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sealrun.api.blobs import parse_blob_checksum as parse_checksum
from sealrun.errors import StorageError

__all__ = ["BlobRepository", "StoredBlob", "parse_checksum"]


@dataclass(frozen=True)
class StoredBlob:
    """A complete blob on disk."""

    checksum: str
    size: int
    path: Path
    created: bool


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class BlobRepository:
    """Blobs in one folder, with a per-blob limit and a total quota.

    Args:
        root: the store's folder (created if missing).
        max_blob_bytes: the largest single blob accepted.
        quota_bytes: the most bytes all blobs (and uploads in progress) may take.
    """

    def __init__(self, root: Path, *, max_blob_bytes: int, quota_bytes: int) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._incoming = root / "incoming"
        self.max_blob_bytes = max_blob_bytes
        self.quota_bytes = quota_bytes
        self._used = 0

    def open(self) -> None:
        """Create the folders, drop uploads a crash interrupted, and count the bytes in use."""
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._incoming.mkdir(parents=True, exist_ok=True)
        for leftover in self._incoming.iterdir():
            leftover.unlink()
        self._used = sum(entry.stat().st_size for entry in self._blobs.glob("*/*") if entry.is_file())

    @property
    def used_bytes(self) -> int:
        """Bytes taken by complete blobs and reservations of uploads in progress."""
        return self._used

    def path_of(self, checksum: str) -> Path:
        """The file of a blob (which may not exist)."""
        digest = parse_checksum(checksum)
        return self._blobs / digest[:2] / digest

    def find(self, checksum: str) -> StoredBlob:
        """Return a stored blob. Raises ``STORAGE_NOT_FOUND`` when absent."""
        path = self.path_of(checksum)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise StorageError(f"no blob 0x{parse_checksum(checksum)}", code="STORAGE_NOT_FOUND") from None
        return StoredBlob(checksum=parse_checksum(checksum), size=size, path=path, created=False)

    def _reserve(self, size: int) -> None:
        # No await between the check and the update: atomic on the event loop.
        if self._used + size > self.quota_bytes:
            raise StorageError("the store is full (disk quota reached)", code="STORAGE_QUOTA_EXCEEDED")
        self._used += size

    def _release(self, size: int) -> None:
        self._used -= size

    async def put(
        self,
        checksum: str,
        chunks: AsyncIterator[bytes],
        *,
        declared_size: int | None,
        idle_timeout: float | None = None,
    ) -> StoredBlob:
        """Stream an upload to disk and publish it under ``checksum`` if the bytes match.

        Quota is reserved as the bytes arrive, never for a size only declared: a stalled
        upload holds only what it sent. ``idle_timeout`` bounds the wait for each next chunk.

        Args:
            checksum: the sha256 the client claims (the blob's only name).
            chunks: the request body.
            declared_size: ``Content-Length`` when the client sent it (checked up front).
            idle_timeout: seconds without a byte after which the upload is abandoned.

        Raises:
            StorageError: ``STORAGE_TOO_LARGE``, ``STORAGE_QUOTA_EXCEEDED``,
                ``STORAGE_CHECKSUM_MISMATCH``, ``STORAGE_TRUNCATED``, ``STORAGE_UPLOAD_IDLE``.
        """
        digest_hex = parse_checksum(checksum)
        if self.path_of(digest_hex).exists():
            return self.find(digest_hex)
        if declared_size is not None and declared_size > self.max_blob_bytes:
            raise self._too_large()
        if declared_size is not None and self._used + declared_size > self.quota_bytes:
            raise StorageError("the store is full (disk quota reached)", code="STORAGE_QUOTA_EXCEEDED")
        temporary = self._incoming / f"{secrets.token_hex(16)}.part"
        reserved = 0
        digest = hashlib.sha256()
        try:
            with temporary.open("xb") as out:
                async for chunk in _paced(chunks, idle_timeout):
                    if reserved + len(chunk) > self.max_blob_bytes:
                        raise self._too_large()
                    self._reserve(len(chunk))
                    reserved += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
            if declared_size is not None and reserved != declared_size:
                raise StorageError("the upload ended before its declared length", code="STORAGE_TRUNCATED")
            if digest.hexdigest() != digest_hex:
                raise StorageError(
                    f"uploaded bytes hash to 0x{digest.hexdigest()}, not 0x{digest_hex}",
                    code="STORAGE_CHECKSUM_MISMATCH",
                )
            target = self.path_of(digest_hex)
            target.parent.mkdir(exist_ok=True)
            created = not target.exists()
            os.replace(temporary, target)
            await asyncio.to_thread(_fsync_directory, target.parent)
        except BaseException:
            temporary.unlink(missing_ok=True)
            self._release(reserved)
            raise
        if not created:
            self._release(reserved)  # a concurrent upload of the same bytes published first
        return StoredBlob(checksum=digest_hex, size=reserved, path=target, created=created)

    def _too_large(self) -> StorageError:
        return StorageError(f"blobs are limited to {self.max_blob_bytes} bytes", code="STORAGE_TOO_LARGE")


async def _paced(chunks: AsyncIterator[bytes], idle_timeout: float | None) -> AsyncIterator[bytes]:
    """The chunks of ``chunks``; raise ``STORAGE_UPLOAD_IDLE`` if one takes over ``idle_timeout``."""
    iterator = aiter(chunks)
    while True:
        try:
            chunk = await asyncio.wait_for(anext(iterator), timeout=idle_timeout)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise StorageError(
                f"no byte of the upload arrived for {idle_timeout:g} s; it was abandoned",
                code="STORAGE_UPLOAD_IDLE",
            ) from None
        if chunk:
            yield chunk
