"""The on-disk collateral cache: one file per URL, safe against another local user.

The folder is created mode 0700 and, before every use, opened with ``O_NOFOLLOW`` and checked:
a real directory (not a symlink), owned by this user, no access for group or others; otherwise
``ATTEST_COLLATERAL_UNAVAILABLE`` and nothing is read or written. Entries are opened relative to
that folder's descriptor with ``O_NOFOLLOW`` (a planted symlink is never followed), must be
regular files owned by this user, and are written to a fresh ``O_EXCL`` temp file (0600),
fsynced, then renamed over the old one: a reader sees the old entry or the new one, never half.

An entry is JSON: the URL, the answer's body (base64) and the headers that matter, its ETag, and
the :class:`~sealrun.core.attestation.freshness.CacheFacts`. A corrupt entry is a miss. The cache
is not trusted: the fetcher checks every entry again (signatures to the pinned roots) on read.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sealrun.core.attestation.codes import ATTEST_COLLATERAL_UNAVAILABLE
from sealrun.core.attestation.collateral import MAX_COLLATERAL_BYTES
from sealrun.core.attestation.freshness import CacheFacts
from sealrun.errors import AttestationError

__all__ = ["CachedAnswer", "CollateralCache", "default_cache_dir"]

_ENTRY_LIMIT = 2 * MAX_COLLATERAL_BYTES
_ENTRY_VERSION = 1


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sealrun/collateral`` (default ``~/.cache/sealrun/collateral``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sealrun" / "collateral"


@dataclass(frozen=True)
class CachedAnswer:
    """One stored answer: body, the headers kept, its ETag and its freshness facts."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    etag: str | None
    facts: CacheFacts


def _unsafe(message: str) -> AttestationError:
    return AttestationError(f"collateral cache: {message}", code=ATTEST_COLLATERAL_UNAVAILABLE)


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an int")
    return value


class CollateralCache:
    """Stores collateral answers under ``folder`` (see the module docs).

    Args:
        folder: the cache folder (created 0700 if missing; its parent must exist or be creatable).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def _open_folder(self) -> Iterator[int]:
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.folder, 0o700)
            descriptor = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as error:
            raise _unsafe(f"cannot open {self.folder} ({error.strerror}; a symlink is refused)") from None
        try:
            info = os.fstat(descriptor)
            if info.st_uid != os.geteuid():
                raise _unsafe(f"{self.folder} is owned by another user")
            if stat.S_IMODE(info.st_mode) & 0o077:
                raise _unsafe(f"{self.folder} is open to other users (mode {stat.S_IMODE(info.st_mode):o})")
            yield descriptor
        finally:
            os.close(descriptor)

    @staticmethod
    def _name(url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40] + ".json"

    def load(self, url: str) -> CachedAnswer | None:
        """The stored answer for ``url``, or None (missing, corrupt, not ours, not a regular file).

        Raises:
            AttestationError: ``ATTEST_COLLATERAL_UNAVAILABLE`` if the folder is unsafe.
        """
        with self._open_folder() as folder:
            try:
                descriptor = os.open(self._name(url), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
            except OSError:
                return None
            with os.fdopen(descriptor, "rb") as handle:
                info = os.fstat(handle.fileno())
                if (
                    not stat.S_ISREG(info.st_mode)
                    or info.st_uid != os.geteuid()
                    or info.st_size > _ENTRY_LIMIT
                ):
                    return None
                data = handle.read(_ENTRY_LIMIT + 1)
        return self._decode(url, data)

    @staticmethod
    def _decode(url: str, data: bytes) -> CachedAnswer | None:
        try:
            document = json.loads(data)
            if document["version"] != _ENTRY_VERSION or document["url"] != url:
                return None
            headers = {str(name): str(value) for name, value in dict(document["headers"]).items()}
            etag = document["etag"]
            facts = CacheFacts(
                fetched_at=int(document["fetched_at"]),
                http_expires_at=_optional_int(document["http_expires_at"]),
                issued_at=_optional_int(document["issued_at"]),
                next_update=_optional_int(document["next_update"]),
            )
            return CachedAnswer(
                url=url,
                body=base64.b64decode(document["body"], validate=True),
                headers=MappingProxyType(headers),
                etag=etag if isinstance(etag, str) else None,
                facts=facts,
            )
        except (ValueError, KeyError, TypeError, RecursionError):
            return None

    def store(self, answer: CachedAnswer) -> None:
        """Write ``answer`` (temp file 0600, fsync, rename).

        Raises:
            AttestationError: ``ATTEST_COLLATERAL_UNAVAILABLE`` if the folder is unsafe or unwritable.
        """
        document = {
            "version": _ENTRY_VERSION,
            "url": answer.url,
            "etag": answer.etag,
            "headers": dict(answer.headers),
            "fetched_at": answer.facts.fetched_at,
            "http_expires_at": answer.facts.http_expires_at,
            "issued_at": answer.facts.issued_at,
            "next_update": answer.facts.next_update,
            "body": base64.b64encode(answer.body).decode("ascii"),
        }
        data = json.dumps(document, sort_keys=True).encode("utf-8")
        name = self._name(answer.url)
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        with self._open_folder() as folder:
            try:
                descriptor = os.open(
                    temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder
                )
                try:
                    with os.fdopen(descriptor, "wb") as handle:
                        handle.write(data)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary, dir_fd=folder)
                    raise
            except OSError as error:
                raise _unsafe(f"cannot write to {self.folder}: {error.strerror}") from None

    def entries(self) -> list[CachedAnswer]:
        """Every readable entry (for ``collateral show``), sorted by URL."""
        with self._open_folder() as folder:
            names = [
                name for name in os.listdir(folder) if name.endswith(".json") and not name.startswith(".")
            ]
        found = []
        for name in names:
            with self._open_folder() as folder:
                try:
                    descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
                except OSError:
                    continue
                with os.fdopen(descriptor, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    if not stat.S_ISREG(info.st_mode) or info.st_size > _ENTRY_LIMIT:
                        continue
                    data = handle.read(_ENTRY_LIMIT + 1)
            try:
                url = json.loads(data)["url"]
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
            if isinstance(url, str) and self._name(url) == name and (entry := self._decode(url, data)):
                found.append(entry)
        return sorted(found, key=lambda entry: entry.url)
