"""Download one input (http, https or file URL) to a local file, hashing it on the way.

Every failure is a :class:`~sealrun.enclave.failure.TaskFailedError` with
``INPUT_FETCH_FAILED``: an unsupported scheme, an unreachable host, an HTTP error status,
a missing file, or more bytes than ``max_bytes``. The download goes to a temporary name and
is renamed into place only when complete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from sealrun.core.tasks import FailureCode
from sealrun.enclave.failure import TaskFailedError

__all__ = ["Fetched", "fetch_url", "url_basename"]

_CHUNK = 1 << 20
_TIMEOUT = httpx.Timeout(60.0, connect=15.0)


@dataclass(frozen=True)
class Fetched:
    """A fetched input: where it is, its sha256 and size."""

    path: Path
    sha256: bytes
    size: int


def _fail(url: str, why: str) -> TaskFailedError:
    return TaskFailedError(FailureCode.INPUT_FETCH_FAILED, f"cannot fetch {url}: {why}")


def url_basename(url: str, fallback: str) -> str:
    """Return a safe file name for ``url`` (its last path segment), or ``fallback``."""
    name = unquote(urlparse(url).path.rsplit("/", 1)[-1])
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".")
    return cleaned[:128] or fallback


def fetch_url(url: str, target: Path, *, max_bytes: int, client: httpx.Client | None = None) -> Fetched:
    """Download ``url`` to ``target``.

    Args:
        url: an ``http``, ``https`` or ``file`` URL.
        target: the file to create (its folder must exist).
        max_bytes: refuse inputs larger than this.
        client: the HTTP client (a default one is made per call).

    Returns:
        The :class:`Fetched` file.

    Raises:
        TaskFailedError: ``INPUT_FETCH_FAILED``.
    """
    scheme = urlparse(url).scheme
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as sink:

            def write(chunk: bytes) -> None:
                nonlocal size
                size += len(chunk)
                if size > max_bytes:
                    raise _fail(url, f"larger than {max_bytes} bytes")
                digest.update(chunk)
                sink.write(chunk)

            if scheme == "file":
                with Path(unquote(urlparse(url).path)).open("rb") as source:
                    while chunk := source.read(_CHUNK):
                        write(chunk)
            elif scheme in ("http", "https"):
                _download(url, write, client)
            else:
                raise _fail(url, f"unsupported URL scheme {scheme!r}")
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise _fail(url, error.strerror or str(error)) from error
    except TaskFailedError:
        partial.unlink(missing_ok=True)
        raise
    return Fetched(path=target, sha256=digest.digest(), size=size)


def _download(url: str, write: Callable[[bytes], None], client: httpx.Client | None) -> None:
    own = client is None
    http = client or httpx.Client(timeout=_TIMEOUT, follow_redirects=True)
    try:
        with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise _fail(url, f"HTTP {response.status_code}")
            for chunk in response.iter_bytes(_CHUNK):
                write(chunk)
    except httpx.HTTPError as error:
        raise _fail(url, type(error).__name__) from error
    finally:
        if own:
            http.close()
