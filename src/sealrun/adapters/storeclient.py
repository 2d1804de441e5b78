"""Client of the blob store.

The store (``sealrun.services.store``) keeps datasets and sealed results by the sha256 of
their bytes. Datasets are public ciphertext (``GET``/``HEAD /v1/blobs/{sha256}``, with
ranges); a task's sealed result and logs are served only on a request signed by the task's
beneficiary (the client takes a :data:`RequestSigner` that makes the signature headers, so
this module needs no web framework). Writing needs one of two credentials:

- a **result upload token** (:mod:`sealrun.core.uploads`), minted by the SMS for one task
  and carried to the attested enclave inside the sealed secrets bundle. The enclave uploads
  with ``PUT {url}/{sha256}``, ``Authorization: Bearer {token}`` and
  ``X-Sealrun-Blob-Kind: result`` or ``logs``.
- a **signed request** by an account (dataset uploads), see the store's docs.

Errors (:class:`~sealrun.errors.StorageError`): the client raises ``STORAGE_UNREACHABLE`` when the store
cannot be reached and the store's own code when it answers with a problem document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from sealrun.adapters.problems import raise_for_problem
from sealrun.api.blobs import blob_url
from sealrun.core.uploads import UploadGrant, mint_upload_token, verify_upload_token
from sealrun.errors import StorageError

__all__ = [
    "ASSET_HEADER",
    "KIND_HEADER",
    "BlobInfo",
    "RequestSigner",
    "StoreClient",
    "TaskBlobInfo",
    "UploadGrant",
    "mint_upload_token",
    "verify_upload_token",
]

#: The header of a signed upload naming the registered dataset whose checksum is the blob.
ASSET_HEADER = "X-Sealrun-Asset"
#: The header of a token upload saying what the task's blob is: ``result`` or ``logs``.
KIND_HEADER = "X-Sealrun-Blob-Kind"
#: Makes the signature headers of a request from its method and path (the CLI signs with the
#: requester's wallet, see :mod:`sealrun.core.requests`).
RequestSigner = Callable[[str, str], dict[str, str]]
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its sha256 (``0x``-hex checksum), size and public URL."""

    checksum: str
    size: int
    url: str


@dataclass(frozen=True)
class TaskBlobInfo:
    """A blob of a task as the store recorded it: ``result`` or ``logs``, and when."""

    checksum: str
    kind: str
    size: int
    recorded_at: int


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


class StoreClient:
    """Talks to one blob store over HTTP.

    Args:
        base_url: the store's root URL, e.g. ``http://127.0.0.1:8701``.
        http: an httpx client to use instead of a new one (tests pass an in-process client).
        timeout: seconds per request.
    """

    def __init__(self, base_url: str, *, http: httpx.Client | None = None, timeout: float = 60.0) -> None:
        self._client = http or httpx.Client(timeout=timeout)
        self._client.base_url = httpx.URL(base_url.rstrip("/"))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise StorageError(
                f"the store at {self._client.base_url} is unreachable: {error}", code="STORAGE_UNREACHABLE"
            ) from error
        raise_for_problem(response, service="store", default=StorageError, default_code="STORAGE_ERROR")
        return response

    def blob_url(self, checksum: str) -> str:
        """The URL a blob with this sha256 has (or will have) on this store.

        Content addressing makes it known before the upload, so a dataset can be registered
        on chain first (the store takes a signed upload only for a registered dataset).
        """
        return blob_url(str(self._client.base_url), checksum)

    def upload_file(
        self, path: Path, *, headers: dict[str, str], progress: Callable[[int], None] | None = None
    ) -> BlobInfo:
        """Upload a file (streamed) under its sha256; ``headers`` carry the credential.

        ``progress(n)`` is called with each chunk's size as it is sent.

        Raises:
            StorageError: the store's code (``STORAGE_QUOTA_EXCEEDED``, ``STORAGE_TOO_LARGE``...).
        """
        checksum = _sha256_of_file(path)
        size = path.stat().st_size
        with path.open("rb") as handle:
            response = self._send(
                "PUT", f"/v1/blobs/{checksum}", content=_file_chunks(handle, progress),
                headers={**headers, "content-length": str(size)},
            )  # fmt: skip
        return _blob_info(response.json())

    def upload_bytes(
        self, data: bytes | Iterable[bytes], checksum: str, *, headers: dict[str, str]
    ) -> BlobInfo:
        """Upload bytes whose sha256 hex is ``checksum`` (without ``0x``)."""
        return _blob_info(self._send("PUT", f"/v1/blobs/{checksum}", content=data, headers=headers).json())

    def upload_with_token(self, path: Path, token: str, *, kind: str = "result") -> BlobInfo:
        """Upload a task's sealed ``result`` or ``logs`` with the per-task token from the secrets bundle."""
        return self.upload_file(path, headers={"authorization": f"Bearer {token}", KIND_HEADER: kind})

    def _path(self, path: str) -> str:
        """The full path of ``path`` on this store (what a signed request signs)."""
        return httpx.URL(str(self._client.base_url).rstrip("/") + path).path

    def head(self, checksum: str, *, signer: RequestSigner | None = None) -> int:
        """Return the size of a stored blob. Raises ``STORAGE_NOT_FOUND`` when absent."""
        path = f"/v1/blobs/{checksum.removeprefix('0x')}"
        headers = signer("HEAD", self._path(path)) if signer is not None else {}
        return int(self._send("HEAD", path, headers=headers).headers["content-length"])

    def task_blobs(self, task_id: bytes, signer: RequestSigner) -> list[TaskBlobInfo]:
        """The sealed result(s) and logs the store holds for a task, oldest first (beneficiary only).

        Raises:
            StorageError: ``STORAGE_NOT_BENEFICIARY`` (another signer), unreachable;
            RequestError: the store refused the signature.
        """
        path = f"/v1/tasks/0x{task_id.hex()}/blobs"
        body = self._send("GET", path, headers=signer("GET", self._path(path))).json()
        return [
            TaskBlobInfo(
                checksum=str(item["checksum"]),
                kind=str(item["kind"]),
                size=int(item["size"]),
                recorded_at=int(item["recorded_at"]),
            )
            for item in body["blobs"]
        ]

    def download(
        self,
        checksum: str,
        destination: Path,
        *,
        signer: RequestSigner | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """Download a blob into ``destination`` (temp file + rename) after checking its sha256.

        ``signer`` signs the request: a task's sealed result or logs are served only to the
        task's beneficiary. ``progress(n)`` is called with each chunk's size as it arrives.

        Raises:
            StorageError: ``STORAGE_CHECKSUM_MISMATCH`` if the bytes do not hash to ``checksum``,
                ``STORAGE_PRIVATE``/``STORAGE_NOT_BENEFICIARY`` for a task's blob.
        """
        expected = checksum.removeprefix("0x")
        temporary = destination.with_name(f".{destination.name}.part")
        digest = hashlib.sha256()
        path = f"/v1/blobs/{expected}"
        headers = signer("GET", self._path(path)) if signer is not None else {}
        try:
            with self._client.stream("GET", path, headers=headers) as response:
                if not response.is_success:
                    response.read()
                    raise_for_problem(
                        response, service="store", default=StorageError, default_code="STORAGE_ERROR"
                    )
                with temporary.open("wb") as out:
                    for chunk in response.iter_bytes(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
        except httpx.TransportError as error:
            temporary.unlink(missing_ok=True)
            raise StorageError(f"the store is unreachable: {error}", code="STORAGE_UNREACHABLE") from error
        if digest.hexdigest() != expected:
            temporary.unlink(missing_ok=True)
            raise StorageError(
                "downloaded bytes do not match their checksum", code="STORAGE_CHECKSUM_MISMATCH"
            )
        temporary.replace(destination)
        return destination


def _blob_info(body: Any) -> BlobInfo:
    return BlobInfo(checksum=str(body["checksum"]), size=int(body["size"]), url=str(body["url"]))
