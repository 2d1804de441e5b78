"""Read an app bundle folder from disk: its manifest, its files' digests, its fingerprint.

The hashing is pure (:mod:`sealrun.core.bundles`); this module only walks the folder. It
refuses what would make a measurement ambiguous or let an app reach outside its bundle:
devices, sockets, FIFOs, unreadable entries, and symlinks whose target leaves the bundle,
lexically or on disk, or does not exist (all ``BUNDLE_INVALID``,
:class:`~sealrun.errors.EnclaveError`); a missing manifest is ``BUNDLE_NO_MANIFEST``.
Symlinks inside the bundle (``node_modules/.bin/*``) are kept and measured by their target
text.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sealrun.core.bundles import (
    MANIFEST_NAME,
    AppManifest,
    BundleFile,
    bundle_fingerprint,
    parse_manifest,
    runtime_identity,
)
from sealrun.errors import AppBundleError

__all__ = ["AppBundle", "load_bundle"]

_CHUNK = 1 << 20
_MAX_MANIFEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class AppBundle:
    """A bundle folder read from disk, with its fingerprint (our MRENCLAVE)."""

    root: Path
    manifest: AppManifest
    files: tuple[BundleFile, ...]
    fingerprint: bytes

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint as ``0x``-hex."""
        return "0x" + self.fingerprint.hex()


def _file_digest(path: Path) -> tuple[bytes, int]:
    digest = hashlib.sha256()
    size = 0
    # O_NOFOLLOW: the entry was lstat'ed as a regular file; refuse a swap to a symlink since.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.digest(), size


def _walk(root: Path) -> list[BundleFile]:
    files: list[BundleFile] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as listing:
            found = sorted(listing, key=lambda e: e.name)
        for entry in found:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                pending.append(path)
            elif stat.S_ISREG(mode):
                if relative == MANIFEST_NAME:
                    continue
                sha, size = _file_digest(path)
                files.append(BundleFile(relative, sha, size, executable=bool(mode & 0o111)))
            elif stat.S_ISLNK(mode):
                if relative == MANIFEST_NAME:
                    raise AppBundleError(f"{MANIFEST_NAME} is a symlink", code="BUNDLE_INVALID")
                files.append(_symlink(root, path, relative))
            else:
                raise AppBundleError(f"bundle entry {relative!r} is a special file", code="BUNDLE_INVALID")
    return files


def _symlink(root: Path, path: Path, relative: str) -> BundleFile:
    entry = BundleFile.symlink(relative, os.readlink(path))  # the lexical rule, in core
    # And on disk: through other links, the target must still be an existing entry of the bundle.
    resolved = Path(os.path.realpath(path))
    if not resolved.is_relative_to(root) or not resolved.exists():
        raise AppBundleError(
            f"symlink {relative!r} points outside the bundle or to nothing", code="BUNDLE_INVALID"
        )
    return entry


def load_bundle(root: Path) -> AppBundle:
    """Read and measure the bundle in ``root``.

    Args:
        root: the bundle folder (it holds ``sealrun-app.toml``).

    Returns:
        The :class:`AppBundle` with its manifest, files and fingerprint.

    Raises:
        EnclaveError: ``BUNDLE_NOT_FOUND``, ``BUNDLE_NO_MANIFEST``, ``BUNDLE_INVALID``,
            ``MANIFEST_INVALID`` or ``MANIFEST_NOT_TOML``.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise AppBundleError(f"bundle folder {str(root)!r} does not exist", code="BUNDLE_NOT_FOUND")
    manifest_path = root / MANIFEST_NAME
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise AppBundleError(f"{str(root)!r} has no {MANIFEST_NAME}", code="BUNDLE_NO_MANIFEST")
    raw = manifest_path.read_bytes()
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise AppBundleError(f"{MANIFEST_NAME} is larger than 64 KiB", code="MANIFEST_INVALID")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AppBundleError(f"{MANIFEST_NAME} is not UTF-8", code="MANIFEST_NOT_TOML") from error
    manifest = parse_manifest(text)
    try:
        files = _walk(root)
    except OSError as error:
        raise AppBundleError(f"cannot read the bundle: {error}", code="BUNDLE_INVALID") from error
    fingerprint = bundle_fingerprint(manifest, files, runtime_identity(manifest.runtime))
    return AppBundle(root=root, manifest=manifest, files=tuple(files), fingerprint=fingerprint)
