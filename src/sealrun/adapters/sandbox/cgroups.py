"""Memory and process limits for a whole sandbox: one cgroup per task (v2 or v1).

RLIMIT_AS and RLIMIT_NPROC are per process (or per user): ten processes each under a
128 MiB address-space limit held 869 MiB together. A cgroup counts every task of the
sandbox (bwrap, its init, the app and all it starts, threads included) against one memory
limit and one pids limit; past the memory limit the kernel reclaims and then OOM-kills
inside the cgroup, past the pids limit ``fork``/``clone`` fail with EAGAIN.

Layouts. Each controller (``memory``, ``pids``) is looked up on its own, because on a
hybrid system a controller bound to a v1 hierarchy is absent from the unified one (this
machine: both on v1, the unified mount without them):

- **v2** (unified hierarchy, controller listed in its root ``cgroup.controllers``): one
  folder with ``memory.max``, ``memory.swap.max = 0`` (when swap is accounted) and
  ``pids.max``;
- **v1** (one hierarchy per controller, or co-mounted): a folder per hierarchy with
  ``memory.limit_in_bytes`` (then ``memory.memsw.limit_in_bytes`` at the same value when
  swap is accounted, otherwise ``memory.swappiness = 0``) and ``pids.max``.

Where. A task cgroup is created under the current process's own cgroup of each hierarchy
(from ``/proc/self/cgroup``) when that folder is writable, so every limit set around us
still applies; otherwise (and when we sit at the hierarchy's root) under a ``sealrun``
folder at the hierarchy's root. On v2 our own cgroup only qualifies when it already
delegates ``memory`` and ``pids`` to its children (the kernel's "no internal processes"
rule forbids enabling them while we are in it), so v2 usually uses the ``sealrun`` folder.

Delegation. A root parent can create the cgroup with ``owner_uid``/``owner_gid``: only the
files a process writes to join it (``cgroup.procs``, and ``tasks`` on v1) are handed over,
never the limits or the folder, so the owner can move itself in but cannot raise a limit or
create sub-cgroups. On v1 that is enough for an unprivileged process to :meth:`TaskCgroup.join`.
On v2 the kernel also requires write access to ``cgroup.procs`` of the common ancestor of
the source and destination cgroups, so an unprivileged process can only join from inside
a subtree delegated to it: on v2 the root parent should start that process inside it.

Errors (:class:`~sealrun.errors.SandboxError`): ``SANDBOX_CGROUP_UNAVAILABLE`` (no usable
hierarchy, not writable, or the folder could not be set up), ``SANDBOX_CGROUP_INVALID``
(bad name or limits), ``SANDBOX_CGROUP_JOIN_FAILED`` (a process could not move itself in),
``SANDBOX_CGROUP_BUSY`` (processes survived the kill and the folder could not be removed).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.errors import SandboxError

__all__ = ["TaskCgroup", "cgroups_available"]

_CONTROLLERS = ("memory", "pids")
_SHARED_FOLDER = "sealrun"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_REMOVE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class _Hierarchy:
    """One mounted cgroup hierarchy and where this process sits in it."""

    mount: Path
    version: int  # 1 or 2
    own: str  # our cgroup inside it, "/" or "/a/b"


def _unescape(text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), text)


def _parse_mounts(mountinfo: str) -> tuple[dict[str, tuple[Path, str]], tuple[Path, str] | None]:
    """Return the v1 mounts by controller and the v2 mount, each as (mount point, mount root)."""
    v1: dict[str, tuple[Path, str]] = {}
    v2: tuple[Path, str] | None = None
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if dash < 5 or len(fields) < dash + 4:
            continue
        root, point = _unescape(fields[3]), Path(_unescape(fields[4]))
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        if fstype == "cgroup2" and v2 is None:
            v2 = (point, root)
        elif fstype == "cgroup":
            for controller in _CONTROLLERS:
                if controller in options:
                    v1.setdefault(controller, (point, root))
    return v1, v2


def _parse_own(proc_cgroup: str) -> tuple[dict[str, str], str | None]:
    """Return our v1 cgroup path by controller and our v2 path, from ``/proc/self/cgroup``."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if parts[0] == "0" and controllers == "":
            v2 = path
            continue
        for controller in controllers.split(","):
            v1[controller] = path
    return v1, v2


def _relative(own: str, mount_root: str) -> str:
    # /proc/self/cgroup is relative to our cgroup namespace, the mount to its own root:
    # strip the mount's root when it is a prefix, otherwise we cannot place ourselves.
    if mount_root in ("", "/"):
        return own or "/"
    if own == mount_root or own.startswith(mount_root.rstrip("/") + "/"):
        return own[len(mount_root.rstrip("/")) :] or "/"
    return "/"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="surrogateescape")


def _locate() -> dict[str, _Hierarchy]:
    """Find the hierarchy holding each controller we need.

    Raises:
        SandboxError: ``SANDBOX_CGROUP_UNAVAILABLE`` when a controller is not mounted.
    """
    try:
        v1_mounts, v2_mount = _parse_mounts(_read(Path("/proc/self/mountinfo")))
        v1_own, v2_own = _parse_own(_read(Path("/proc/self/cgroup")))
        v2_controllers = set(_read(v2_mount[0] / "cgroup.controllers").split()) if v2_mount else set()
    except OSError as error:
        raise SandboxError(
            f"cannot read the cgroup layout: {error}", code="SANDBOX_CGROUP_UNAVAILABLE"
        ) from error
    found: dict[str, _Hierarchy] = {}
    for controller in _CONTROLLERS:
        if controller in v1_mounts:
            point, root = v1_mounts[controller]
            found[controller] = _Hierarchy(point, 1, _relative(v1_own.get(controller, "/"), root))
        elif v2_mount is not None and controller in v2_controllers:
            found[controller] = _Hierarchy(v2_mount[0], 2, _relative(v2_own or "/", v2_mount[1]))
        else:
            raise SandboxError(
                f"the {controller} cgroup controller is not mounted", code="SANDBOX_CGROUP_UNAVAILABLE"
            )
    return found


def _parent(hierarchy: _Hierarchy) -> Path:
    """The folder task cgroups of this hierarchy are created in (see the module docstring)."""
    shared = hierarchy.mount / _SHARED_FOLDER
    if hierarchy.own == "/":
        return shared
    own = hierarchy.mount / hierarchy.own.lstrip("/")
    if not (own.is_dir() and os.access(own, os.W_OK)):
        return shared
    if hierarchy.version == 2:
        try:
            delegated = set(_read(own / "cgroup.subtree_control").split())
        except OSError:
            return shared
        if not delegated.issuperset(_CONTROLLERS):
            return shared
    return own


def _plan() -> dict[Path, tuple[_Hierarchy, frozenset[str]]]:
    """Group the controllers by hierarchy: one task folder per mount."""
    plan: dict[Path, tuple[_Hierarchy, frozenset[str]]] = {}
    for controller, hierarchy in _locate().items():
        _, controllers = plan.get(hierarchy.mount, (hierarchy, frozenset[str]()))
        plan[hierarchy.mount] = (hierarchy, controllers | {controller})
    return plan


def cgroups_available() -> bool:
    """Whether :meth:`TaskCgroup.create` can work here (controllers mounted, folders writable).

    Creates nothing; a ``True`` answer can still be followed by a creation failure (for
    example a v2 root that refuses to enable a controller).
    """
    try:
        plan = _plan()
    except SandboxError:
        return False
    for hierarchy, _ in plan.values():
        parent = _parent(hierarchy)
        where = parent if parent.exists() else parent.parent
        if not os.access(where, os.W_OK):
            return False
    return True


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode("ascii"))
    finally:
        os.close(fd)


def _prepare_parent(hierarchy: _Hierarchy, controllers: frozenset[str]) -> Path:
    parent = _parent(hierarchy)
    if parent.name == _SHARED_FOLDER and parent.parent == hierarchy.mount:
        if hierarchy.version == 2:
            # The root may always enable controllers for its children; the shared folder
            # holds no process, so it may enable them for the task folders.
            wanted = " ".join(f"+{c}" for c in sorted(controllers))
            _write(hierarchy.mount / "cgroup.subtree_control", wanted)
            with contextlib.suppress(FileExistsError):
                parent.mkdir(mode=0o755)
            parent.chmod(0o755)  # mkdir's mode passes through the umask (077 for services)
            _write(parent / "cgroup.subtree_control", wanted)
        else:
            with contextlib.suppress(FileExistsError):
                parent.mkdir(mode=0o755)
            parent.chmod(0o755)  # mkdir's mode passes through the umask (077 for services)
    return parent


def _limit(folder: Path, version: int, controllers: frozenset[str], memory_bytes: int, pids: int) -> None:
    if "memory" in controllers:
        if version == 2:
            _write(folder / "memory.max", str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "0")
        else:
            # memsw (memory + swap) may never be below the memory limit: set it second.
            _write(folder / "memory.limit_in_bytes", str(memory_bytes))
            if (folder / "memory.memsw.limit_in_bytes").exists():
                _write(folder / "memory.memsw.limit_in_bytes", str(memory_bytes))
            else:
                # Swap is not accounted: keep the cgroup's anonymous memory out of swap.
                _write(folder / "memory.swappiness", "0")
    if "pids" in controllers:
        _write(folder / "pids.max", str(pids))


def _keyed(path: Path) -> dict[str, int] | None:
    """Read a flat ``key value`` cgroup file; ``None`` when it does not exist."""
    try:
        text = _read(path)
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isascii() and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


def _number(path: Path) -> int:
    """Read a one-number cgroup file; 0 when it does not exist."""
    try:
        return int(_read(path).strip())
    except (OSError, ValueError):
        return 0


def _members(folder: Path) -> set[int]:
    return {int(pid) for pid in _read(folder / "cgroup.procs").split() if pid.isascii() and pid.isdigit()}


def _kill_members(folder: Path) -> None:
    # A pidfd pins one process: a pid that exited and was reused after the first read is
    # either no longer listed (not ours: left alone) or listed again (in our cgroup: killed).
    handles: dict[int, int] = {}
    try:
        for pid in _members(folder):
            with contextlib.suppress(ProcessLookupError):
                handles[pid] = os.pidfd_open(pid)
        still = _members(folder)
        for pid, handle in handles.items():
            if pid in still:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(handle, signal.SIGKILL)
    finally:
        for handle in handles.values():
            os.close(handle)


def _remove_folder(folder: Path, deadline: float) -> None:
    kill = folder / "cgroup.kill"
    while True:
        try:
            if kill.exists():
                _write(kill, "1")
            else:
                _kill_members(folder)
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                raise SandboxError(
                    f"cannot remove the task cgroup {str(folder)!r}: {error}", code="SANDBOX_CGROUP_BUSY"
                ) from error
            time.sleep(0.02)  # killed tasks leave the cgroup once they have exited


@dataclass(frozen=True)
class TaskCgroup:
    """The cgroup (one folder per hierarchy) one sandbox runs in.

    Made by :meth:`create` (we set the limits) or :meth:`attach` (another process set
    them and delegated the cgroup to us). ``paths`` are its folders.
    """

    paths: tuple[Path, ...]
    # Prepared once so that join() only opens and writes (safe between fork and exec).
    _procs: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_procs", tuple(os.fsencode(p / "cgroup.procs") for p in self.paths))

    @classmethod
    def create(
        cls,
        name: str,
        *,
        memory_bytes: int,
        pids: int,
        owner_uid: int | None = None,
        owner_gid: int | None = None,
    ) -> TaskCgroup:
        """Create a task cgroup with a total memory limit and a task (pids) limit.

        Args:
            name: the folder name, unique per task (letters, digits, ``_.-``).
            memory_bytes: the memory limit of all its processes together (no swap).
            pids: the most tasks (processes and threads) it may hold at once.
            owner_uid: hand the join files (``cgroup.procs``, v1 ``tasks``) to this user,
                so a process of that uid can move itself in (see the module docstring).
            owner_gid: their group.

        Returns:
            The created cgroup; the caller must :meth:`remove` it.

        Raises:
            SandboxError: ``SANDBOX_CGROUP_INVALID`` (bad name or limits),
                ``SANDBOX_CGROUP_UNAVAILABLE`` (it cannot be created here).
        """
        if not _NAME.fullmatch(name):
            raise SandboxError(f"invalid task cgroup name {name!r}", code="SANDBOX_CGROUP_INVALID")
        if memory_bytes < 1 << 20 or pids < 1:
            raise SandboxError(
                f"task cgroup limits must be at least 1 MiB and 1 task "
                f"(got {memory_bytes} bytes, {pids} tasks)",
                code="SANDBOX_CGROUP_INVALID",
            )
        made: list[Path] = []
        try:
            for hierarchy, controllers in _plan().values():
                folder = _prepare_parent(hierarchy, controllers) / name
                folder.mkdir(mode=0o755)
                made.append(folder)
                # Readable by the delegated owner (its runner reads the limits and events);
                # mkdir's mode passes through the umask, 077 for services.
                folder.chmod(0o755)
                _limit(folder, hierarchy.version, controllers, memory_bytes, pids)
                if owner_uid is not None or owner_gid is not None:
                    uid, gid = -1 if owner_uid is None else owner_uid, -1 if owner_gid is None else owner_gid
                    for join_file in ("cgroup.procs", "tasks"):
                        if (folder / join_file).exists():
                            os.chown(folder / join_file, uid, gid)
        except (OSError, SandboxError) as error:
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if isinstance(error, SandboxError):
                raise
            raise SandboxError(
                f"cannot create the task cgroup {name!r}: {error}", code="SANDBOX_CGROUP_UNAVAILABLE"
            ) from error
        return cls(tuple(made))

    @classmethod
    def attach(cls, paths: Sequence[Path]) -> TaskCgroup:
        """Use a cgroup another process created (and delegated to us).

        Raises:
            SandboxError: ``SANDBOX_CGROUP_UNAVAILABLE`` when a path is not a cgroup folder.
        """
        if not paths:
            raise SandboxError("no task cgroup folders given", code="SANDBOX_CGROUP_UNAVAILABLE")
        try:
            v1, v2 = _parse_mounts(_read(Path("/proc/self/mountinfo")))
        except OSError as error:
            raise SandboxError(
                f"cannot read the mounts: {error}", code="SANDBOX_CGROUP_UNAVAILABLE"
            ) from error
        mounts = [point for point, _ in v1.values()] + ([v2[0]] if v2 is not None else [])
        for path in paths:
            inside = any(path.is_relative_to(mount) and path != mount for mount in mounts)
            if not (inside and (path / "cgroup.procs").is_file()):
                raise SandboxError(
                    f"{str(path)!r} is not a task cgroup folder", code="SANDBOX_CGROUP_UNAVAILABLE"
                )
        return cls(tuple(paths))

    @property
    def enforces_memory(self) -> bool:
        """Whether one of its folders limits memory (then RLIMIT_AS is not needed)."""
        return any((p / "memory.max").exists() or (p / "memory.limit_in_bytes").exists() for p in self.paths)

    def join(self) -> None:
        """Move the calling process into the cgroup (all its folders).

        Only opens and writes files, so it is safe in a ``preexec_fn`` between fork and exec.

        Raises:
            SandboxError: ``SANDBOX_CGROUP_JOIN_FAILED``.
        """
        pid = b"%d" % os.getpid()
        for procs in self._procs:
            try:
                fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)
            except OSError as error:
                raise SandboxError(
                    f"cannot join the task cgroup: {error}", code="SANDBOX_CGROUP_JOIN_FAILED"
                ) from error

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this cgroup (its limit was hit)."""
        for folder in self.paths:
            events = _keyed(folder / "memory.events")
            if events is not None:
                if events.get("oom_kill", 0) > 0:
                    return True
                continue
            control = _keyed(folder / "memory.oom_control")
            if control is None:
                continue
            if "oom_kill" in control:
                if control["oom_kill"] > 0:
                    return True
            elif control.get("under_oom", 0) > 0 or _number(folder / "memory.failcnt") > 0:
                # Kernels before 4.13 do not count kills: a hit limit is the best sign left.
                return True
        return False

    def memory_peak(self) -> int | None:
        """The most memory the cgroup held at once (bytes), where the kernel records it."""
        for folder in self.paths:
            for name in ("memory.peak", "memory.max_usage_in_bytes"):
                if (folder / name).exists():
                    return _number(folder / name)
        return None

    def remove(self) -> None:
        """Kill every process left in the cgroup, then delete its folders.

        An already removed folder is not an error.

        Raises:
            SandboxError: ``SANDBOX_CGROUP_BUSY`` if a folder still cannot be removed.
        """
        deadline = time.monotonic() + _REMOVE_TIMEOUT_S
        for folder in self.paths:
            _remove_folder(folder, deadline)
