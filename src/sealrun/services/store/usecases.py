"""What the store does: authorize an upload, keep the blob, serve it.

Two credentials open the write path (read is public):

- ``Authorization: Bearer sru1....`` — a per-task result upload token minted by the SMS
  (see :mod:`sealrun.adapters.storeclient`); it names a task and expires.
- a signed request from an account (dataset uploads), checked by an injected
  :class:`RequestAuthenticator`; when ``allowed_uploaders`` is set, the signer must be listed.

Errors (:class:`~sealrun.errors.StorageError`): ``STORAGE_UNAUTHORIZED`` (no or unusable
credential), ``STORAGE_FORBIDDEN`` (a valid signer who may not upload), plus the token codes
of :mod:`sealrun.adapters.storeclient` and the disk codes of :mod:`.blobs`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from sealrun.adapters.storeclient import verify_upload_token
from sealrun.errors import StorageError
from sealrun.services.store.blobs import BlobRepository, StoredBlob, parse_checksum

__all__ = ["RequestAuthenticator", "StoreService", "Uploader"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Uploader:
    """Who an upload is attributed to: a task (token) or an account (signed request)."""

    kind: Literal["task", "account"]
    identity: str


class RequestAuthenticator(Protocol):
    """Checks a signed HTTP request and returns the checksummed signer address (or raises)."""

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], *, now: int) -> str: ...


class StoreService:
    """The store's use cases over a :class:`BlobRepository`.

    Args:
        repository: the disk.
        token_key: the secret shared with the SMS, or ``None`` to refuse token uploads.
        authenticator: verifies signed requests, or ``None`` to refuse them.
        allowed_uploaders: accounts that may upload by signed request (empty: any signer).
        clock: returns the current unix time (injected so tests control it).
    """

    def __init__(
        self,
        repository: BlobRepository,
        *,
        token_key: bytes | None,
        authenticator: RequestAuthenticator | None,
        allowed_uploaders: frozenset[str],
        clock: Callable[[], float],
    ) -> None:
        self.repository = repository
        self._token_key = token_key
        self._authenticator = authenticator
        self._allowed = frozenset(address.lower() for address in allowed_uploaders)
        self._clock = clock

    def authorize_upload(self, method: str, path: str, headers: Mapping[str, str]) -> Uploader:
        """Return who may make this upload, or raise.

        Raises:
            StorageError: ``STORAGE_UNAUTHORIZED``, ``STORAGE_FORBIDDEN``, ``UPLOAD_TOKEN_*``.
        """
        now = int(self._clock())
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            if self._token_key is None:
                raise StorageError("this store accepts no result upload tokens", code="STORAGE_UNAUTHORIZED")
            grant = verify_upload_token(self._token_key, authorization[7:].strip(), now=now)
            return Uploader(kind="task", identity="0x" + grant.task_id.hex())
        if self._authenticator is None:
            raise StorageError(
                "uploads need a result upload token (Authorization: Bearer) or a signed request",
                code="STORAGE_UNAUTHORIZED",
            )
        signer = self._authenticator.authenticate(method, path, headers, now=now)
        if self._allowed and signer.lower() not in self._allowed:
            raise StorageError(f"{signer} may not upload to this store", code="STORAGE_FORBIDDEN")
        return Uploader(kind="account", identity=signer)

    async def upload(
        self, checksum: str, body: AsyncIterator[bytes], *, declared_size: int | None, uploader: Uploader
    ) -> StoredBlob:
        """Store a blob under its sha256 (idempotent: an existing blob is kept as is)."""
        blob = await self.repository.put(checksum, body, declared_size=declared_size)
        if blob.created:
            log.info(
                "stored blob 0x%s (%d bytes) for %s %s",
                blob.checksum,
                blob.size,
                uploader.kind,
                uploader.identity,
            )
        return blob

    def locate(self, checksum: str) -> StoredBlob:
        """Find a stored blob for download. Raises ``STORAGE_NOT_FOUND``."""
        return self.repository.find(parse_checksum(checksum))
