"""The rules for unpacking an archive found inside sealed data, applied member by member.

Any tar is hostile until proven otherwise (it may come from someone else's app). The
:class:`UnpackRules` check each member *before* anything is written, and the adapter writes
only what they return, under a fresh folder. Refusals (:class:`~sealrun.errors.UnpackError`):

- ``UNPACK_ABSOLUTE_PATH`` — a name starting with ``/`` (or a drive/UNC prefix);
- ``UNPACK_PARENT_PATH`` — a ``..`` part anywhere in a name;
- ``UNPACK_LINK_OUTSIDE`` — a symlink whose target is absolute or has any ``..`` part (only
  links pointing down inside the folder are kept: chained links can never escape then), a
  hard link to anything but a file unpacked before it, or a member whose path goes through
  a symlink;
- ``UNPACK_DEVICE`` — character/block devices and FIFOs;
- ``UNPACK_UNSUPPORTED`` — any other special member type (sparse, volume, unknown);
- ``UNPACK_DUPLICATE`` — a name that appeared before, or a member under a file;
- ``UNPACK_TOO_LARGE`` — the declared sizes add up beyond the limit, or too many members;
- ``UNPACK_BAD_NAME`` — an empty, over-long or NUL/control-character name.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import Literal

from sealrun.errors import UnpackError

__all__ = ["DEFAULT_MAX_MEMBERS", "DEFAULT_MAX_UNPACKED_SIZE", "Member", "UnpackRules", "clean_member_name"]

DEFAULT_MAX_UNPACKED_SIZE = 64 * 1024**3
DEFAULT_MAX_MEMBERS = 1_000_000
_MAX_NAME = 4096


@dataclass(frozen=True)
class Member:
    """A member that passed the rules: a clean relative path and what to make there."""

    path: str
    kind: Literal["file", "dir", "symlink", "hardlink"]
    size: int = 0
    executable: bool = False
    target: str = ""


def clean_member_name(raw: str) -> str:
    """Apply the name rules to one member name and return its clean relative path.

    The enclave's post-compute checks every output path with this same function, so an
    archive it seals is never one the requester's unpacker refuses.

    Returns:
        The path with ``.`` and empty parts dropped and ``\\`` read as ``/`` (``""`` for the root).

    Raises:
        UnpackError: ``UNPACK_BAD_NAME``, ``UNPACK_ABSOLUTE_PATH`` or ``UNPACK_PARENT_PATH``.
    """
    if not raw or len(raw) > _MAX_NAME or any(ord(char) < 0x20 or char == "\x7f" for char in raw):
        raise UnpackError(f"Refusing a member with a bad name {raw[:80]!r}.", code="UNPACK_BAD_NAME")
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        raise UnpackError(f"Refusing the absolute path {raw[:200]!r}.", code="UNPACK_ABSOLUTE_PATH")
    parts = [part for part in raw.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnpackError(
            f"Refusing the path {raw[:200]!r}: it climbs out with '..'.", code="UNPACK_PARENT_PATH"
        )
    return "/".join(parts)


@dataclass
class UnpackRules:
    """Stateful checker for one archive: call :meth:`check` on each member in order.

    Args:
        max_unpacked_size: the most bytes the files may add up to.
        max_members: the most members accepted.
    """

    max_unpacked_size: int = DEFAULT_MAX_UNPACKED_SIZE
    max_members: int = DEFAULT_MAX_MEMBERS
    _seen: dict[str, str] = field(default_factory=dict, repr=False)
    _total: int = 0

    def check(self, info: tarfile.TarInfo) -> Member | None:
        """Admit ``info`` as a :class:`Member`, skip it (None: the root ``.``), or raise.

        Raises:
            UnpackError: see the module docstring for the codes.
        """
        path = clean_member_name(info.name)
        if not path:
            if info.isdir():
                return None
            raise UnpackError("Refusing a non-directory member named '.'.", code="UNPACK_BAD_NAME")
        if len(self._seen) >= self.max_members:
            raise UnpackError(
                f"The archive has more than {self.max_members} members.", code="UNPACK_TOO_LARGE"
            )
        self._check_parents(path)
        if path in self._seen:
            raise UnpackError(f"The archive names {path!r} twice.", code="UNPACK_DUPLICATE")
        member = self._member(info, path)
        self._total += member.size
        if self._total > self.max_unpacked_size:
            raise UnpackError(
                f"The archive unpacks to more than the limit of {self.max_unpacked_size} bytes.",
                code="UNPACK_TOO_LARGE",
            )
        self._seen[path] = member.kind
        parent = posixpath.dirname(path)
        while parent and parent not in self._seen:  # implicit parents are directories too
            self._seen[parent] = "dir"
            parent = posixpath.dirname(parent)
        return member

    def _check_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent:
            kind = self._seen.get(parent)
            if kind == "symlink":
                raise UnpackError(
                    f"Refusing {path!r}: its path goes through a link.", code="UNPACK_LINK_OUTSIDE"
                )
            if kind is not None and kind != "dir":
                raise UnpackError(f"Refusing {path!r}: {parent!r} is a file.", code="UNPACK_DUPLICATE")
            parent = posixpath.dirname(parent)

    def _member(self, info: tarfile.TarInfo, path: str) -> Member:
        if info.isdir():
            return Member(path, "dir")
        if info.isreg():
            return Member(path, "file", size=info.size, executable=bool(info.mode & 0o111))
        if info.issym():
            return Member(path, "symlink", target=self._symlink_target(path, info.linkname))
        if info.islnk():
            target = _clean_link(info.linkname)
            if self._seen.get(target) != "file":
                raise UnpackError(
                    f"Refusing the hard link {path!r}: its target {info.linkname[:200]!r} is not a file "
                    "unpacked before it.",
                    code="UNPACK_LINK_OUTSIDE",
                )
            return Member(path, "hardlink", target=target)
        if info.ischr() or info.isblk() or info.isfifo():
            raise UnpackError(f"Refusing the device or FIFO {path!r}.", code="UNPACK_DEVICE")
        raise UnpackError(
            f"Refusing {path!r}: unsupported member type {info.type!r}.", code="UNPACK_UNSUPPORTED"
        )

    @staticmethod
    def _symlink_target(path: str, link: str) -> str:
        # No '..' at all (not merely "does not climb out lexically"): chained links can turn a
        # lexically-inside '..' into an escape, whereas links that only descend stay inside.
        parts = link.replace("\\", "/").split("/")
        if not link or link.startswith(("/", "\\")) or "\0" in link or ".." in parts:
            raise UnpackError(
                f"Refusing the symlink {path!r} → {link[:200]!r}: only links that point down inside the "
                "folder are allowed.",
                code="UNPACK_LINK_OUTSIDE",
            )
        return link


def _clean_link(link: str) -> str:
    try:
        return clean_member_name(link)
    except UnpackError:
        raise UnpackError(
            f"Refusing a hard link to {link[:200]!r}: it points outside.", code="UNPACK_LINK_OUTSIDE"
        ) from None
