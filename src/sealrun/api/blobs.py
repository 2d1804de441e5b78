"""The blob URL grammar, parsed and built here only.

A blob in the store is named by the sha256 of its bytes (content addressing)::

    <store>/v1/blobs/<sha256>        e.g. http://127.0.0.1:8701/v1/blobs/9f86d0...0a08

``<store>`` is the store's public base URL (``http`` or ``https``, possibly with a path
prefix behind a proxy); ``<sha256>`` is written as 64 lower-case hex digits (a ``0x``
prefix and upper case are accepted on the way in). The blob *collection* ``<store>/v1/blobs``
is what the SMS hands an enclave as its result upload URL; the store's root is accepted
there too. A dataset's on-chain URI and a task's ``resultURI`` are blob URLs.

Errors (:class:`~sealrun.errors.StorageError`): ``STORAGE_BAD_CHECKSUM`` for a name that is
not a sha256, ``STORAGE_URI_INVALID`` for a URL that is not a blob URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sealrun.errors import StorageError

__all__ = [
    "BLOBS_PATH",
    "BlobRef",
    "blob_path",
    "blob_url",
    "collection_url",
    "parse_blob_checksum",
    "parse_blob_url",
    "store_of_upload_url",
]

#: The path of the blob collection under a store's base URL.
BLOBS_PATH = "/v1/blobs"
_HEX = frozenset("0123456789abcdef")
_SCHEMES = ("http", "https")


def parse_blob_checksum(value: str) -> str:
    """Return a blob's name: the 64 lower-case hex digits of a sha256 (``0x`` optional).

    Raises:
        StorageError: ``STORAGE_BAD_CHECKSUM`` if it is not a sha256 hex digest.
    """
    digest = value.removeprefix("0x").lower() if isinstance(value, str) else ""
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise StorageError(f"{str(value)[:80]!r} is not a sha256 hex digest", code="STORAGE_BAD_CHECKSUM")
    return digest


def blob_path(checksum: str) -> str:
    """The path of a blob on its store (what a signed request signs, under the store's prefix)."""
    return f"{BLOBS_PATH}/{parse_blob_checksum(checksum)}"


def blob_url(store: str, checksum: str) -> str:
    """The URL a blob with sha256 ``checksum`` has (or will have) on ``store``."""
    return store.rstrip("/") + blob_path(checksum)


def collection_url(store: str) -> str:
    """The store's blob collection (the SMS's result upload URL for enclaves)."""
    return store.rstrip("/") + BLOBS_PATH


@dataclass(frozen=True)
class BlobRef:
    """A parsed blob URL: the store's base URL and the blob's sha256 (64 lower-case hex)."""

    store: str
    checksum: str

    @property
    def url(self) -> str:
        """The canonical blob URL."""
        return blob_url(self.store, self.checksum)


def parse_blob_url(url: str) -> BlobRef:
    """Split a blob URL into its store and checksum.

    Raises:
        StorageError: ``STORAGE_URI_INVALID`` if ``url`` is not ``http(s)://…/v1/blobs/<sha256>``.
    """
    invalid = StorageError(f"{url[:200]!r} is not a blob store URL", code="STORAGE_URI_INVALID")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in _SCHEMES or not parts.netloc or parts.query or parts.fragment:
        raise invalid
    prefix, marker, name = parts.path.rpartition(BLOBS_PATH + "/")
    if not marker:
        raise invalid
    try:
        checksum = parse_blob_checksum(name)
    except StorageError:
        raise invalid from None
    return BlobRef(store=f"{parts.scheme}://{parts.netloc}{prefix}", checksum=checksum)


def store_of_upload_url(url: str) -> str | None:
    """The store's base URL from an upload URL (the collection or the root).

    Returns ``None`` when ``url`` is not ``http(s)`` (a ``file:`` or empty URL: keep the
    result local, the developer loop).
    """
    if urlsplit(url).scheme not in _SCHEMES:
        return None
    return url.rstrip("/").removesuffix(BLOBS_PATH)
