"""Size-capped output folders: a tmpfs in a private mount namespace.

Checking the output's size after the run lets an app write 80 MiB under a 1 MiB limit
first. Mounting the task's output folder as a tmpfs of exactly the allowed size makes the
kernel stop the writes at the cap (ENOSPC); the tmpfs's pages are memory, so they also count
against the sandbox's memory cgroup when the app touches them.

The mount is made in a private mount namespace (:func:`enter_private_mount_namespace`,
for the single-threaded launcher process before it runs the sandbox): the host never sees
it, and it disappears with the namespace when the last process in it exits.

Python 3.11 has no ``os.unshare`` nor ``os.mount``: these are ``ctypes`` calls into libc,
with ``errno`` checked. Every failure is a :class:`~sealrun.errors.SandboxError`
``SANDBOX_MOUNT_FAILED`` (the kernel refused: not root, busy, missing folder, ...), or
``SANDBOX_MOUNT_INVALID`` for arguments that make no sense.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from sealrun.errors import SandboxError

__all__ = ["bind_mount", "enter_private_mount_namespace", "mount_tmpfs", "output_full", "unmount"]

# <sched.h> and <sys/mount.h>; the same on every Linux architecture.
_CLONE_NEWNS = 0x00020000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_UMOUNT_NOFOLLOW = 8
_MNT_DETACH = 2
# tmpfs allocates whole pages: one file holding data costs at least one.
_PAGE = 4096
_MIN_FILES = 4096


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare.argtypes = [ctypes.c_int]
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(number)} (errno {number})", code="SANDBOX_MOUNT_FAILED")


def enter_private_mount_namespace() -> None:
    """Give the calling process a mount namespace of its own, with no propagation to the host.

    ``unshare(CLONE_NEWNS)``, then ``/`` is made recursively private, so later mounts are
    invisible to the host and vanish with the namespace. Call it in a single-threaded
    process: the kernel moves only the calling thread to the new namespace.

    Raises:
        SandboxError: ``SANDBOX_MOUNT_FAILED`` (for example EPERM when not root).
    """
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWNS), "cannot create a private mount namespace")
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "cannot make / private")


def mount_tmpfs(
    target: Path,
    *,
    size_bytes: int,
    uid: int,
    gid: int,
    mode: int = 0o700,
    max_files: int | None = None,
) -> None:
    """Mount a tmpfs of at most ``size_bytes`` on ``target`` (``nosuid``, ``nodev``).

    Args:
        target: an existing folder (call :func:`enter_private_mount_namespace` first).
        size_bytes: the capacity; writes past it fail with ENOSPC.
        uid: owner of the tmpfs's root folder.
        gid: its group.
        mode: its permissions.
        max_files: the most files and folders it may hold (tmpfs inodes cost kernel memory
            that ``size`` does not count); default one per page of ``size_bytes``, at
            least 4096.

    Raises:
        SandboxError: ``SANDBOX_MOUNT_INVALID`` (size, ids or mode out of range),
            ``SANDBOX_MOUNT_FAILED`` (the kernel refused).
    """
    files = max(_MIN_FILES, size_bytes // _PAGE) if max_files is None else max_files
    if size_bytes < _PAGE or files < 1 or uid < 0 or gid < 0 or not 0 <= mode <= 0o7777:
        raise SandboxError(
            f"invalid tmpfs for {str(target)!r}: size {size_bytes} (at least {_PAGE}), "
            f"{files} files, uid {uid}, gid {gid}, mode {mode:o}",
            code="SANDBOX_MOUNT_INVALID",
        )
    options = f"size={size_bytes},nr_inodes={files},uid={uid},gid={gid},mode={mode:04o}"
    result = _libc().mount(b"tmpfs", os.fsencode(target), b"tmpfs", _MS_NOSUID | _MS_NODEV, options.encode())
    _check(result, f"cannot mount a tmpfs on {str(target)!r}")


def bind_mount(source: Path, target: Path, *, readonly: bool = True) -> None:
    """Bind ``source`` (recursively) on ``target``, read-only unless told otherwise.

    Raises:
        SandboxError: ``SANDBOX_MOUNT_FAILED`` (the kernel refused).
    """
    libc = _libc()
    flags = _MS_BIND | _MS_REC
    _check(
        libc.mount(os.fsencode(source), os.fsencode(target), None, flags, None),
        f"cannot bind {str(source)!r}",
    )
    if readonly:
        # A bind mount takes read-only only on a remount of the bind itself.
        remount = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        _check(
            libc.mount(None, os.fsencode(target), None, remount, None),
            f"cannot make {str(target)!r} read-only",
        )


def unmount(target: Path, *, detach: bool = False) -> None:
    """Unmount ``target`` (``detach``: lazily, even while busy).

    Raises:
        SandboxError: ``SANDBOX_MOUNT_FAILED`` (not a mount point, busy, not root).
    """
    flags = _UMOUNT_NOFOLLOW | (_MNT_DETACH if detach else 0)
    _check(_libc().umount2(os.fsencode(target), flags), f"cannot unmount {str(target)!r}")


def output_full(folder: Path) -> bool:
    """Whether the filesystem of ``folder`` has no block or no file left: the app hit the cap.

    On a tmpfs of :func:`mount_tmpfs` a write that passed the cap stopped with the last
    page used, so "no free block" means the app tried to write more than allowed.
    """
    stats = os.statvfs(folder)
    # Some file systems (btrfs, overlay on it) report no inode counts at all: f_files == 0.
    no_blocks = stats.f_blocks > 0 and stats.f_bavail == 0
    no_files = stats.f_files > 0 and stats.f_favail == 0
    return no_blocks or no_files
