"""What the store does: authorize an upload, keep the blob, serve it.

Two credentials open the write path:

- ``Authorization: Bearer sru1....`` — a per-task result upload token minted by the SMS
  (see :mod:`sealrun.core.uploads`); it names a task and expires. The upload says
  what it is in ``X-Sealrun-Blob-Kind: result|logs`` (``result`` when absent) and the store
  records the blob as that task's (:mod:`.taskblobs`) before publishing it.
- a signed request from an account (dataset uploads), checked by an injected
  :class:`RequestAuthenticator`, naming the asset in ``X-Sealrun-Asset: 0x<dataset>``: the
  signer must own that dataset on chain and its registered checksum must be this blob's
  sha256. So a dataset is registered first (its URI is the blob's predictable URL) and
  uploaded second; nobody can fill the store with bytes no registered asset names. When
  ``allowed_uploaders`` is set, the signer must also be listed.

Reading: a dataset's blob is public ciphertext. A task's blob (its sealed result or logs) is
served only on a signed request (``GET``/``HEAD /v1/blobs/<sha256>``, empty body) from the
beneficiary of the task's deal, read from the chain; ``GET /v1/tasks/<task id>/blobs``
(signed the same way) lists them, so a requester finds the logs of a COMPLETED task too.

Uploads in progress are capped per client address (``STORAGE_BUSY``).

Errors (:class:`~sealrun.errors.StorageError`): ``STORAGE_UNAUTHORIZED`` (no or unusable
credential, or no chain to check owners), ``STORAGE_ASSET_INVALID`` (no or malformed asset
header), ``STORAGE_FORBIDDEN`` (a valid signer who does not own a dataset naming this blob, or
is not listed), ``STORAGE_KIND_INVALID`` (a blob kind other than ``result``/``logs``),
``STORAGE_PRIVATE`` (a task's blob asked for without a signature), ``STORAGE_NOT_BENEFICIARY``
(a signer who is not the task's beneficiary, or a task the chain does not know), ``STORAGE_BUSY``,
plus the token codes of :mod:`sealrun.core.uploads`,
the request codes of :mod:`sealrun.core.requests` and the disk codes of :mod:`.blobs`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from sealrun.api.ids import task_id_hex
from sealrun.api.store import ASSET_HEADER, KIND_HEADER
from sealrun.core.chainstate import ChainReader
from sealrun.core.uploads import verify_upload_token
from sealrun.errors import StorageError
from sealrun.services.store.blobs import BlobRepository, StoredBlob, parse_checksum
from sealrun.services.store.taskblobs import BlobKind, TaskBlob, TaskBlobIndex, parse_blob_kind

__all__ = ["ASSET_HEADER", "RequestAuthenticator", "StoreService", "Uploader"]

_SIGNATURE_HEADERS = ("sealrun-timestamp", "sealrun-nonce", "sealrun-signature")

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Uploader:
    """Who an upload is attributed to: a task (token) or an account (signed request).

    A task's upload also carries the task id and what the blob is (``result`` or ``logs``).
    """

    kind: Literal["task", "account"]
    identity: str
    task_id: bytes | None = None
    blob_kind: BlobKind | None = None


class RequestAuthenticator(Protocol):
    """Checks a signed HTTP request and returns the checksummed signer address (or raises)."""

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], *, now: int) -> str: ...


class StoreService:
    """The store's use cases over a :class:`BlobRepository`.

    Args:
        repository: the disk.
        token_key: the secret shared with the SMS, or ``None`` to refuse token uploads.
        authenticator: verifies signed requests, or ``None`` to refuse them.
        allowed_uploaders: if not empty, the only accounts that may upload by signed request.
        clock: returns the current unix time (injected so tests control it).
        chain: the registry reader that says who owns which dataset, or ``None`` to refuse
            signed uploads.
        idle_timeout: seconds an upload may send nothing before it is abandoned.
        max_uploads_per_client: uploads in progress at once from one client address.
        tasks: the record of which task each token-uploaded blob belongs to (default: in the
            repository's root).
    """

    def __init__(
        self,
        repository: BlobRepository,
        *,
        token_key: bytes | None,
        authenticator: RequestAuthenticator | None,
        allowed_uploaders: frozenset[str],
        clock: Callable[[], float],
        chain: ChainReader | None = None,
        idle_timeout: float | None = None,
        max_uploads_per_client: int = 8,
        tasks: TaskBlobIndex | None = None,
    ) -> None:
        self.repository = repository
        self.tasks = tasks or TaskBlobIndex(repository.root)
        self._token_key = token_key
        self._authenticator = authenticator
        self._allowed = frozenset(address.lower() for address in allowed_uploaders)
        self._clock = clock
        self._chain = chain
        self._idle_timeout = idle_timeout
        self._max_per_client = max_uploads_per_client
        self._active: Counter[str] = Counter()

    def authorize_upload(
        self, method: str, path: str, headers: Mapping[str, str], *, checksum: str
    ) -> Uploader:
        """Return who may make this upload of the blob ``checksum``, or raise.

        Blocking (a signed upload reads the chain): call it from a worker thread.

        Raises:
            StorageError: ``STORAGE_UNAUTHORIZED``, ``STORAGE_ASSET_INVALID``,
                ``STORAGE_FORBIDDEN``, ``UPLOAD_TOKEN_*``, ``STORAGE_BAD_CHECKSUM``;
            RequestError: ``REQUEST_*`` for a signature that does not verify.
        """
        digest = parse_checksum(checksum)
        now = int(self._clock())
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            if self._token_key is None:
                raise StorageError("this store accepts no result upload tokens", code="STORAGE_UNAUTHORIZED")
            grant = verify_upload_token(self._token_key, authorization[7:].strip(), now=now)
            kind = parse_blob_kind(_header(headers, KIND_HEADER))
            return Uploader(
                kind="task", identity=task_id_hex(grant.task_id), task_id=grant.task_id, blob_kind=kind
            )
        if self._authenticator is None:
            raise StorageError(
                "uploads need a result upload token (Authorization: Bearer) or a signed request",
                code="STORAGE_UNAUTHORIZED",
            )
        signer = self._authenticator.authenticate(method, path, headers, now=now)
        if self._allowed and signer.lower() not in self._allowed:
            raise StorageError(f"{signer} may not upload to this store", code="STORAGE_FORBIDDEN")
        asset = self._owned_asset(signer, headers, digest)
        return Uploader(kind="account", identity=f"{signer} for {asset}")

    def _owned_asset(self, signer: str, headers: Mapping[str, str], digest: str) -> str:
        """The dataset ``signer`` owns whose registered checksum is ``digest``, or raise."""
        if self._chain is None:
            raise StorageError(
                "this store cannot check who owns a dataset (no chain): signed uploads are refused",
                code="STORAGE_UNAUTHORIZED",
            )
        asset = headers.get(ASSET_HEADER.lower()) or headers.get(ASSET_HEADER)
        if asset is None or not _ADDRESS.match(asset):
            raise StorageError(
                f"a signed upload names its registered dataset in {ASSET_HEADER}: 0x<address>",
                code="STORAGE_ASSET_INVALID",
            )
        dataset = self._chain.dataset(asset)
        if dataset is None:
            raise StorageError(f"no dataset is registered at {asset}", code="STORAGE_FORBIDDEN")
        if dataset.owner.lower() != signer.lower():
            raise StorageError(
                f"dataset {asset} belongs to {dataset.owner}, not {signer}", code="STORAGE_FORBIDDEN"
            )
        if dataset.checksum.hex() != digest:
            raise StorageError(
                f"dataset {asset} is registered with checksum 0x{dataset.checksum.hex()}, not 0x{digest}",
                code="STORAGE_FORBIDDEN",
            )
        return dataset.address

    @contextmanager
    def upload_slot(self, client: str) -> Iterator[None]:
        """Hold one of ``client``'s upload slots for the duration (``STORAGE_BUSY`` when none is free)."""
        if self._active[client] >= self._max_per_client:
            raise StorageError(
                f"{client} already has {self._max_per_client} uploads in progress", code="STORAGE_BUSY"
            )
        self._active[client] += 1
        try:
            yield
        finally:
            self._active[client] -= 1
            if not self._active[client]:
                del self._active[client]

    async def upload(
        self, checksum: str, body: AsyncIterator[bytes], *, declared_size: int | None, uploader: Uploader
    ) -> StoredBlob:
        """Store a blob under its sha256 (idempotent: an existing blob is kept as is).

        A task's blob is recorded as the task's first, so it is never served publicly.
        """
        if uploader.task_id is not None and uploader.blob_kind is not None:
            self.tasks.record(
                uploader.task_id, parse_checksum(checksum), uploader.blob_kind, at=int(self._clock())
            )
        blob = await self.repository.put(
            checksum, body, declared_size=declared_size, idle_timeout=self._idle_timeout
        )
        if blob.created:
            log.info(
                "stored blob 0x%s (%d bytes) for %s %s",
                blob.checksum,
                blob.size,
                uploader.kind,
                uploader.identity,
                # A task's blob: the line names its task (the store does not know the deal).
                extra={} if uploader.task_id is None else {"task_id": task_id_hex(uploader.task_id)},
            )
        return blob

    def locate(self, checksum: str) -> StoredBlob:
        """Find a stored blob for download. Raises ``STORAGE_NOT_FOUND``."""
        return self.repository.find(parse_checksum(checksum))

    def authorize_download(
        self, method: str, path: str, headers: Mapping[str, str], *, checksum: str
    ) -> bytes | None:
        """Return the task a blob belongs to (after checking the beneficiary signed), or ``None``
        for a public blob.

        Blocking (it reads the chain): call it from a worker thread.

        Raises:
            StorageError: ``STORAGE_BAD_CHECKSUM``, ``STORAGE_PRIVATE``, ``STORAGE_NOT_BENEFICIARY``,
                ``STORAGE_UNAUTHORIZED`` (no chain to read the beneficiary from);
            RequestError: ``REQUEST_*`` for a signature that does not verify.
        """
        digest = parse_checksum(checksum)
        task_id = self.tasks.task_of(digest)
        if task_id is None or self.tasks.is_receipt(digest):
            return None  # a dataset, or a task receipt: public
        if not any(name in {key.lower() for key in headers} for name in _SIGNATURE_HEADERS):
            raise StorageError(
                f"blob 0x{digest} is sealed output of task {task_id_hex(task_id)}: only the task's "
                "beneficiary downloads it, with a signed request",
                code="STORAGE_PRIVATE",
            )
        self._check_beneficiary(method, path, headers, task_id)
        return task_id

    def task_blobs(
        self, method: str, path: str, headers: Mapping[str, str], *, task_id: bytes
    ) -> list[tuple[TaskBlob, int]]:
        """The stored blobs of ``task_id`` with their sizes, for its beneficiary only.

        Blocking (it reads the chain): call it from a worker thread.

        Raises:
            StorageError: ``STORAGE_NOT_BENEFICIARY``, ``STORAGE_UNAUTHORIZED``;
            RequestError: ``REQUEST_*`` (``REQUEST_UNSIGNED`` without a signature).
        """
        self._check_beneficiary(method, path, headers, task_id)
        found = []
        for blob in self.tasks.blobs_of(task_id):
            try:
                found.append((blob, self.repository.find(blob.checksum).size))
            except StorageError:
                continue  # recorded, but its upload never completed
        return found

    def task_receipts(self, task_id: bytes) -> list[tuple[TaskBlob, int]]:
        """The stored receipts of ``task_id`` with their sizes: public, for anyone."""
        found = []
        for blob in self.tasks.blobs_of(task_id):
            if blob.kind != "receipt":
                continue
            try:
                found.append((blob, self.repository.find(blob.checksum).size))
            except StorageError:
                continue  # recorded, but its upload never completed
        return found

    def _check_beneficiary(self, method: str, path: str, headers: Mapping[str, str], task_id: bytes) -> str:
        """Verify the signed request and that its signer is ``task_id``'s beneficiary; return it."""
        if self._authenticator is None or self._chain is None:
            raise StorageError(
                "this store cannot check who may read a task's output (no chain): it serves none",
                code="STORAGE_UNAUTHORIZED",
            )
        signer = self._authenticator.authenticate(method, path, headers, now=int(self._clock()))
        task = self._chain.task(task_id)
        deal = None if task is None else self._chain.deal(task.deal_id)
        if deal is None:
            raise StorageError(
                f"task {task_id_hex(task_id)} is not on chain: nobody can prove to be its beneficiary",
                code="STORAGE_NOT_BENEFICIARY",
            )
        if deal.beneficiary.lower() != signer.lower():
            raise StorageError(
                f"the output of task {task_id_hex(task_id)} is for its beneficiary {deal.beneficiary}, "
                f"not {signer}",
                code="STORAGE_NOT_BENEFICIARY",
            )
        return signer


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (Starlette's headers are case-insensitive already)."""
    return headers.get(name.lower()) or headers.get(name)
