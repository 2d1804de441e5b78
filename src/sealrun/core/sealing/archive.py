"""Deterministic folder archives: a tar stream whose bytes depend only on names and contents.

A sealed folder is this archive, sealed. The same folder always gives the same bytes (so
the same result digest), whoever packs it, wherever:

- a root entry ``./``, then entries sorted by their UTF-8 relative path; directories included
  (empty ones survive);
- mtime 0, uid/gid 0, no user/group names; mode 0644 for files, 0755 for directories and
  for files with any execute bit; no links, devices or other special files;
- ustar headers; a pax extended header (``path``/``size``) only when a name does not fit
  ustar or a file exceeds 8 GiB;
- the first block is a pax *global* header with ``comment=sealrun-archive-v1``: a versioned
  marker that lets :func:`is_archive` recognise a sealed folder, which ``tar`` ignores;
- two zero blocks at the end, nothing more.

It is plain tar: ``age -d -i key sealed | tar -x`` unpacks it. Pure: file contents come from
the ``open`` callables of the :class:`ArchiveEntry` values the caller builds.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from sealrun.errors import SealError

__all__ = ["ARCHIVE_MARKER", "BLOCK", "ArchiveEntry", "ArchiveReader", "is_archive"]

BLOCK = 512
ARCHIVE_MARKER = b"comment=sealrun-archive-v1"
_READ = 1 << 20
_MAX_OCTAL_SIZE = 0o77777777777


def _pax_record(keyword: bytes, value: bytes) -> bytes:
    body = b" " + keyword + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def _header(name: bytes, *, size: int, mode: int, typeflag: bytes, prefix: bytes = b"") -> bytes:
    block = bytearray(BLOCK)
    block[0 : len(name)] = name
    block[100:108] = _octal(mode, 8)
    block[108:116] = _octal(0, 8)
    block[116:124] = _octal(0, 8)
    block[124:136] = _octal(size, 12)
    block[136:148] = _octal(0, 12)
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[329:337] = _octal(0, 8)
    block[337:345] = _octal(0, 8)
    block[345 : 345 + len(prefix)] = prefix
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def _padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


def _split_ustar(name: bytes) -> tuple[bytes, bytes] | None:
    """Split ``name`` into ustar (prefix, name) fields, or None when it cannot fit."""
    if len(name) <= 100:
        return b"", name
    for index in range(len(name) - 1, 0, -1):
        if name[index : index + 1] == b"/" and index <= 155 and len(name) - index - 1 <= 100:
            return name[:index], name[index + 1 :]
    return None


@dataclass(frozen=True)
class ArchiveEntry:
    """One member to pack: a relative POSIX path, its kind, and (for files) a way to read it.

    Args:
        name: relative path with ``/`` separators, no ``.``/``..`` parts, no leading ``/``.
        kind: ``"file"`` or ``"dir"``.
        size: the file's size in bytes (0 for directories); the bytes read must match it.
        executable: whether the file gets mode 0755 instead of 0644.
        open: returns a binary stream of the file's contents (files only).
    """

    name: str
    kind: Literal["file", "dir"]
    size: int = 0
    executable: bool = False
    open: Callable[[], BinaryIO] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = self.name.split("/")
        if not self.name or self.name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise SealError(
                f"Cannot archive the path {self.name!r}: not a clean relative path.", code="SEAL_SOURCE"
            )
        if "\0" in self.name:
            raise SealError("Cannot archive a path containing NUL.", code="SEAL_SOURCE")


def _entry_blocks(entry: ArchiveEntry) -> bytes:
    is_dir = entry.kind == "dir"
    name = entry.name.encode("utf-8", "surrogateescape") + (b"/" if is_dir else b"")
    mode = 0o755 if is_dir or entry.executable else 0o644
    size = 0 if is_dir else entry.size
    typeflag = b"5" if is_dir else b"0"
    split = _split_ustar(name) if name.isascii() else None
    records = b""
    if split is None:
        records += _pax_record(b"path", name)
    if size > _MAX_OCTAL_SIZE:
        records += _pax_record(b"size", str(size).encode())
    head = b""
    if records:
        head = _header(b"././@PaxHeader", size=len(records), mode=0o644, typeflag=b"x")
        head += records + _padding(len(records))
    prefix, short = split if split is not None else (b"", name[:100])
    return head + _header(short, size=min(size, _MAX_OCTAL_SIZE), mode=mode, typeflag=typeflag, prefix=prefix)


def _archive_pieces(entries: Iterable[ArchiveEntry]) -> Generator[bytes, None, None]:
    marker = _pax_record(b"comment", ARCHIVE_MARKER.partition(b"=")[2])
    yield (
        _header(b"pax_global_header", size=len(marker), mode=0o644, typeflag=b"g")
        + marker
        + _padding(len(marker))
    )
    # The root entry "./" (as `tar -C DIR .` writes it) means even an empty folder is a valid
    # tar: readers such as Python's tarfile refuse an archive holding only a global header.
    yield _header(b"./", size=0, mode=0o755, typeflag=b"5")
    for entry in sorted(entries, key=lambda e: e.name.encode("utf-8", "surrogateescape")):
        yield _entry_blocks(entry)
        if entry.kind != "file" or entry.open is None:
            continue
        remaining = entry.size
        with entry.open() as stream:
            while remaining:
                piece = stream.read(min(_READ, remaining))
                if not piece:
                    break
                remaining -= len(piece)
                yield piece
            if remaining or stream.read(1):
                raise SealError(
                    f"{entry.name} changed size while it was being sealed.", code="SEAL_SOURCE_CHANGED"
                )
        yield _padding(entry.size)
    yield bytes(2 * BLOCK)


class ArchiveReader:
    """A read-only binary stream of the deterministic archive of ``entries`` (built lazily).

    Args:
        entries: the members; sorted here, so the caller's order does not matter.
    """

    def __init__(self, entries: Iterable[ArchiveEntry]) -> None:
        self._pieces = _archive_pieces(entries)
        self._buffer = b""
        self._done = False

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes (all that remain when ``size`` < 0); b"" at the end."""
        parts = [self._buffer]
        have = len(self._buffer)
        while (size < 0 or have < size) and not self._done:
            piece = next(self._pieces, None)
            if piece is None:
                self._done = True
                break
            parts.append(piece)
            have += len(piece)
        data = b"".join(parts)
        if size < 0:
            self._buffer = b""
            return data
        self._buffer = data[size:]
        return data[:size]

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pieces.close()


def is_archive(first: bytes) -> bool:
    """Whether ``first`` (the first bytes of a plaintext) starts a sealrun folder archive.

    Used to pick "unpack into a folder" over "write one file" when opening; the marker is a
    format choice, not a security check (the unpacker enforces the rules on any tar).
    """
    if len(first) < 2 * BLOCK or first[156:157] != b"g" or first[257:263] != b"ustar\0":
        return False
    block = first[:148] + b" " * 8 + first[156:BLOCK]
    try:
        checksum = int(first[148:156].split(b"\0")[0].strip(), 8)
        size = int(first[124:136].split(b"\0")[0].strip(), 8)
    except ValueError:
        return False
    if checksum != sum(block):
        return False
    return ARCHIVE_MARKER + b"\n" in first[BLOCK : BLOCK + min(size, BLOCK)]
