"""The bundle fingerprint: sealrun's MRENCLAVE.

The fingerprint is registered on chain with the app; the SMS releases keys only to an
enclave whose attested measurement equals it. It is ``sha256`` over these bytes, in order
(``u8/u16/u32/u64`` are big-endian unsigned integers; ``docs/enclave.md`` has an example)::

    b"sealrun-bundle-v1\\0"                       18 bytes, domain and version
    u32(len(M)) ‖ M                               M = AppManifest.canonical()
    u32(n)                                        n = number of files
    n × ( u16(len(P)) ‖ P ‖ u8(mode) ‖ u64(size) ‖ sha256(content) )
                                                  P = UTF-8 relative path with '/' separators,
                                                  entries sorted by P's bytes; mode = 1 if the
                                                  file is executable, 0 if not, 2 for a
                                                  symlink, whose content is its target text
    u16(len(R)) ‖ R                               R = the runtime identity, UTF-8

The manifest file itself is not in the file list: its meaning is hashed through M, so
comments and key order do not change the fingerprint but every setting does. A symlink
(``node_modules/.bin/*``) is measured by its target *text*, so re-pointing it changes the
fingerprint; a bundle without symlinks measures exactly as before they were allowed. Its
target must be relative and stay inside the bundle (:func:`check_link_target`, lexically;
the adapter that walks the folder also resolves it on disk); special files are never allowed.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from sealrun.core.bundles.manifest import MANIFEST_NAME, AppManifest
from sealrun.errors import AppBundleError, EnclaveError

__all__ = [
    "ENCLAVE_VERSION",
    "FINGERPRINT_DOMAIN",
    "BundleFile",
    "bundle_fingerprint",
    "check_link_target",
    "runtime_identity",
]

FINGERPRINT_DOMAIN = b"sealrun-bundle-v1\0"
# The enclave runtime's version enters every fingerprint: a new runtime is a new measurement.
ENCLAVE_VERSION = "1"
MAX_BUNDLE_FILES = 100_000
_SEGMENT = re.compile(r"^[^/\0]+$")
_MAX_LINK_BYTES = 4096
_MODE_SYMLINK = 2


def _invalid(message: str) -> EnclaveError:
    return AppBundleError(message, code="BUNDLE_INVALID")


def check_link_target(path: str, target: str) -> str:
    """Return ``target`` if a symlink at ``path`` pointing there stays inside the bundle.

    Raises:
        EnclaveError: ``BUNDLE_INVALID``: an empty, absolute, non-UTF-8 or too long target,
            or one that leaves the bundle (``../..``, ``/etc/shadow``).
    """
    try:
        size = len(target.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise _invalid(f"symlink {path!r} has a target that is not UTF-8") from error
    if not target or size > _MAX_LINK_BYTES or "\0" in target:
        raise _invalid(f"symlink {path!r} has an empty or too long target")
    if target.startswith("/"):
        raise _invalid(f"symlink {path!r} points outside the bundle ({target!r} is absolute)")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise _invalid(f"symlink {path!r} points outside the bundle ({target!r})")
    return target


@dataclass(frozen=True)
class BundleFile:
    """One entry of a bundle: its relative path, mode bit, size and content digest.

    A symlink has ``link`` set (its target text), ``sha256`` and ``size`` of that text, and
    is never executable; make one with :meth:`symlink`.
    """

    path: str
    sha256: bytes
    size: int
    executable: bool = False
    link: str | None = None

    @classmethod
    def symlink(cls, path: str, target: str) -> BundleFile:
        """The entry of a symlink at ``path`` to ``target`` (checked by :func:`check_link_target`)."""
        raw = check_link_target(path, target).encode()
        return cls(path, hashlib.sha256(raw).digest(), len(raw), link=target)

    def __post_init__(self) -> None:
        if self.link is not None:
            raw = check_link_target(self.path, self.link).encode()
            if self.executable or self.size != len(raw) or self.sha256 != hashlib.sha256(raw).digest():
                raise _invalid(f"symlink {self.path!r} is not measured by its target text")
        parts = self.path.split("/")
        if not self.path or any(not _SEGMENT.match(p) or p in (".", "..") for p in parts):
            raise _invalid(f"bundle file path {self.path!r} is not a plain relative path")
        if len(self.path.encode()) > 0xFFFF:
            raise _invalid("bundle file path is too long")
        if len(self.sha256) != 32:
            raise _invalid("a bundle file digest must be 32 bytes")
        if not 0 <= self.size < 1 << 64:
            raise _invalid("bundle file size is out of range")


def runtime_identity(runtime: str, enclave_version: str = ENCLAVE_VERSION) -> str:
    """Return the runtime identity string hashed into the fingerprint.

    Args:
        runtime: the manifest's runtime name (``python3``, ``native``).
        enclave_version: the version of the enclave runtime that runs the app.

    Returns:
        ``"sealrun-enclave/<version>;sandbox=bubblewrap;runtime=<runtime>"``.
    """
    return f"sealrun-enclave/{enclave_version};sandbox=bubblewrap;runtime={runtime}"


def bundle_fingerprint(manifest: AppManifest, files: Iterable[BundleFile], runtime: str) -> bytes:
    """Return the 32-byte fingerprint of a bundle (byte layout in the module docstring).

    Args:
        manifest: the validated manifest.
        files: the bundle's regular files except the manifest file, in any order.
        runtime: the runtime identity (see :func:`runtime_identity`).

    Returns:
        ``sha256`` of the layout.

    Raises:
        EnclaveError: ``BUNDLE_INVALID`` on a duplicate path, the manifest file in the list,
            or more than 100 000 files.
    """
    ordered = sorted(files, key=lambda f: f.path.encode())
    if len(ordered) > MAX_BUNDLE_FILES:
        raise _invalid("a bundle holds at most 100000 files")
    digest = hashlib.sha256(FINGERPRINT_DOMAIN)
    canonical = manifest.canonical()
    digest.update(struct.pack(">I", len(canonical)) + canonical)
    digest.update(struct.pack(">I", len(ordered)))
    previous: bytes | None = None
    for item in ordered:
        path = item.path.encode()
        if path == previous:
            raise _invalid(f"bundle lists {item.path!r} twice")
        if item.path == MANIFEST_NAME:
            raise _invalid("the manifest is hashed canonically, not as a file")
        previous = path
        digest.update(struct.pack(">H", len(path)) + path)
        mode = _MODE_SYMLINK if item.link is not None else 1 if item.executable else 0
        digest.update(struct.pack(">BQ", mode, item.size) + item.sha256)
    identity = runtime.encode()
    if len(identity) > 0xFFFF:
        raise _invalid("runtime identity is too long")
    digest.update(struct.pack(">H", len(identity)) + identity)
    return digest.digest()
