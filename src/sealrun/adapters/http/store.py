"""Client of the blob store (``sealrun.services.store``): upload, list and download blobs.

The store keeps datasets and sealed results by the sha256 of their bytes. Datasets are
public ciphertext (``GET``/``HEAD``, with ranges); a task's sealed result and logs are served
only on a request signed by the task's beneficiary (pass a
:class:`~sealrun.adapters.http.signing.SignedRequestAuth`). Writing needs one of two
credentials: the per-task upload token of :mod:`sealrun.core.uploads` (the enclave's
:meth:`StoreClient.upload_with_token`) or a signed request by the owner of the registered
dataset the blob is (:meth:`StoreClient.upload_dataset`). Every blob request is
content-addressed: its signature covers the path, not the streamed body.

Errors (:class:`~sealrun.errors.StorageError`): ``STORAGE_UNREACHABLE`` when the store
cannot be reached, ``STORAGE_CHECKSUM_MISMATCH`` when downloaded bytes do not hash to their
name, otherwise the store's own code; ``REQUEST_*`` as :class:`~sealrun.errors.RequestError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import httpx

from sealrun.adapters.http.base import ServiceClient
from sealrun.adapters.http.signing import CONTENT_ADDRESSED, SignedRequestAuth
from sealrun.api.blobs import blob_url, parse_blob_checksum
from sealrun.api.ids import task_id_hex
from sealrun.api.store import ASSET_HEADER, KIND_HEADER, BlobOut, Routes, TaskBlobOut, TaskBlobsOut
from sealrun.errors import RequestError, SealrunError, StorageError

__all__ = ["StoreClient"]

_CHUNK = 1 << 20
_BLOB = {CONTENT_ADDRESSED: True}


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_chunks(handle: BinaryIO, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk
        if progress is not None:
            progress(len(chunk))


def _digest(checksum: str) -> str:
    return parse_blob_checksum(checksum)


class StoreClient(ServiceClient):
    """Talks to one blob store over HTTP (see :class:`~sealrun.adapters.http.base.ServiceClient`)."""

    service: ClassVar[str] = "store"
    unreachable_code: ClassVar[str] = "STORAGE_UNREACHABLE"
    unreachable_error: ClassVar[type[SealrunError]] = StorageError
    default_error: ClassVar[type[SealrunError]] = StorageError
    default_code: ClassVar[str] = "STORAGE_ERROR"
    families: ClassVar[dict[str, type[SealrunError]]] = {"REQUEST_": RequestError}
    default_timeout: ClassVar[float] = 60.0

    def blob_url(self, checksum: str) -> str:
        """The URL a blob with this sha256 has (or will have) on this store.

        Content addressing makes it known before the upload, so a dataset can be registered
        on chain first (the store takes a signed upload only for a registered dataset).
        """
        return blob_url(self.base_url, checksum)

    def upload_file(
        self,
        path: Path,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> BlobOut:
        """Upload a file (streamed) under its sha256; ``headers``/``auth`` carry the credential.

        ``progress(n)`` is called with each chunk's size as it is sent.

        Raises:
            StorageError: the store's code (``STORAGE_QUOTA_EXCEEDED``, ``STORAGE_TOO_LARGE``...).
        """
        checksum = _sha256_of_file(path)
        size = path.stat().st_size
        with path.open("rb") as handle:
            return self._call(
                BlobOut, "PUT", Routes.BLOB.format(checksum=checksum), content=_file_chunks(handle, progress),
                headers={**(headers or {}), "content-length": str(size)}, auth=auth, extensions=_BLOB,
                replayable=False,
            )  # fmt: skip

    def upload_dataset(
        self,
        path: Path,
        *,
        signer: SignedRequestAuth,
        asset: str,
        progress: Callable[[int], None] | None = None,
    ) -> BlobOut:
        """Upload the sealed file of the registered dataset ``asset``, signed by its owner."""
        return self.upload_file(path, headers={ASSET_HEADER: asset}, auth=signer, progress=progress)

    def upload_bytes(
        self,
        data: bytes | Iterable[bytes],
        checksum: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> BlobOut:
        """Upload bytes whose sha256 hex is ``checksum``."""
        return self._call(
            BlobOut, "PUT", Routes.BLOB.format(checksum=_digest(checksum)), content=data,
            headers=headers or {}, auth=auth, extensions=_BLOB, replayable=isinstance(data, bytes),
        )  # fmt: skip

    def upload_with_token(self, path: Path, token: str, *, kind: str = "result") -> BlobOut:
        """Upload a task's sealed ``result`` or ``logs`` with the per-task token from the secrets bundle."""
        return self.upload_file(path, headers={"authorization": f"Bearer {token}", KIND_HEADER: kind})

    def head(self, checksum: str, *, signer: SignedRequestAuth | None = None) -> int:
        """Return the size of a stored blob. Raises ``STORAGE_NOT_FOUND`` when absent."""
        path = Routes.BLOB.format(checksum=_digest(checksum))
        response = self._send("HEAD", path, auth=signer, extensions=_BLOB)
        return int(response.headers["content-length"])

    def task_blobs(self, task_id: bytes, signer: SignedRequestAuth) -> list[TaskBlobOut]:
        """The sealed result(s) and logs the store holds for a task, oldest first (beneficiary only).

        Raises:
            StorageError: ``STORAGE_NOT_BENEFICIARY`` (another signer), unreachable;
            RequestError: the store refused the signature.
        """
        path = Routes.TASK_BLOBS.format(task_id=task_id_hex(task_id))
        return self._call(TaskBlobsOut, "GET", path, auth=signer, extensions=_BLOB).blobs

    def task_receipts(self, task_id: bytes) -> list[TaskBlobOut]:
        """The receipts the store holds for a task, oldest first (public: no signature)."""
        path = Routes.TASK_RECEIPTS.format(task_id=task_id_hex(task_id))
        return self._call(TaskBlobsOut, "GET", path, extensions=_BLOB).blobs

    def download(
        self,
        checksum: str,
        destination: Path,
        *,
        signer: SignedRequestAuth | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """Download a blob into ``destination`` (temp file + rename) after checking its sha256.

        ``signer`` signs the request: a task's sealed result or logs are served only to the
        task's beneficiary. ``progress(n)`` is called with each chunk's size as it arrives.

        Raises:
            StorageError: ``STORAGE_CHECKSUM_MISMATCH`` if the bytes do not hash to ``checksum``,
                ``STORAGE_PRIVATE``/``STORAGE_NOT_BENEFICIARY`` for a task's blob.
        """
        expected = _digest(checksum)
        temporary = destination.with_name(f".{destination.name}.part")
        digest = hashlib.sha256()
        path = Routes.BLOB.format(checksum=expected)
        auth = signer or httpx.USE_CLIENT_DEFAULT
        try:
            with self._http.stream("GET", path, auth=auth, extensions=_BLOB) as response:
                if not response.is_success:
                    response.read()
                    self._raise_for_problem(response)
                with temporary.open("wb") as out:
                    for chunk in response.iter_bytes(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
        except httpx.TransportError as error:
            temporary.unlink(missing_ok=True)
            self._refuse_untrusted(error)
            raise StorageError(f"the store is unreachable: {error}", code="STORAGE_UNREACHABLE") from error
        if digest.hexdigest() != expected:
            temporary.unlink(missing_ok=True)
            raise StorageError(
                "downloaded bytes do not match their checksum", code="STORAGE_CHECKSUM_MISMATCH"
            )
        temporary.replace(destination)
        return destination
