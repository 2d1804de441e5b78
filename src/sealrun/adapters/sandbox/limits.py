"""What a sandboxed run is given and what came out of it (plain data, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["SandboxLimits", "SandboxOutcome", "SandboxRunner", "SandboxSpec"]


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one run (bytes and seconds).

    ``memory_bytes`` is the memory of the whole sandbox together (a cgroup's limit, /tmp's
    pages included), or, where no cgroup can be had, the address-space limit of every app
    process (RLIMIT_AS); ``processes`` the number of tasks the app may run (a cgroup's
    pids limit, plus RLIMIT_NPROC inside its own user and pid namespaces);
    ``file_size_bytes`` the largest file it may write (RLIMIT_FSIZE);
    ``tmp_size_bytes`` the size of the private tmpfs /tmp; ``log_size_bytes`` how much of
    stdout and of stderr is kept (the rest is drained and dropped); ``wall_time_s`` the
    wall-clock limit, after which the whole sandbox is killed. ``address_space_bytes`` is the
    RLIMIT_AS used instead of ``memory_bytes`` where no cgroup limits memory: a JIT runtime
    (Node.js reserves ~700 MiB of address space at start and uses ~40 MiB) needs room to
    reserve beyond what it may use; None means ``memory_bytes``.
    """

    memory_bytes: int = 512 << 20
    processes: int = 64
    file_size_bytes: int = 256 << 20
    tmp_size_bytes: int = 64 << 20
    log_size_bytes: int = 1 << 20
    wall_time_s: float = 3600.0
    address_space_bytes: int | None = None


@dataclass(frozen=True)
class SandboxSpec:
    """One app run: its argv, its three folders, its environment and limits.

    ``bundle_dir`` is mounted read-only at ``/app`` (the working directory), ``input_dir``
    read-only at ``/iexec_in``, ``output_dir`` writable at ``/iexec_out``. ``env`` is the
    whole environment the app sees (nothing is inherited). stdout and stderr are written
    to ``stdout_path`` and ``stderr_path``.
    """

    argv: tuple[str, ...]
    bundle_dir: Path
    input_dir: Path
    output_dir: Path
    stdout_path: Path
    stderr_path: Path
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    limits: SandboxLimits = SandboxLimits()


@dataclass(frozen=True)
class SandboxOutcome:
    """How a run ended.

    ``exit_status`` is the app's exit status (``None`` if it was killed by a signal, then
    ``signal`` says which); ``timed_out`` is set when the wall-clock limit killed it;
    ``memory_exceeded`` when the app ran out of its memory limit (see
    :mod:`sealrun.adapters.sandbox.bubblewrap` for how that is detected);
    ``file_size_exceeded`` when a write hit RLIMIT_FSIZE (SIGXFSZ, or EFBIG for apps that
    ignore the signal, as Python does);
    ``*_bytes`` are the sizes the app wrote, ``*_truncated`` whether the kept log was cut;
    ``cgroup_enforced`` whether a task cgroup held the sandbox's total memory and tasks
    (``False``: rlimits only, per process), ``memory_peak_bytes`` the most memory that
    cgroup held at once (``None`` without one, or where the kernel does not record it).
    """

    exit_status: int | None
    signal: int | None
    timed_out: bool
    memory_exceeded: bool
    file_size_exceeded: bool
    stdout_bytes: int
    stderr_bytes: int
    stdout_truncated: bool
    stderr_truncated: bool
    wall_seconds: float
    cgroup_enforced: bool = False
    memory_peak_bytes: int | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the app exited 0 within its limits."""
        return self.exit_status == 0 and not self.timed_out


class SandboxRunner(Protocol):
    """What the enclave runtime needs from a sandbox (bubblewrap today; see decision 0003).

    ``drop_privileges`` says whether the app runs as another host user, ``host_uid`` and
    ``host_gid`` which (the runtime gives that user access to the task's folders).
    """

    drop_privileges: bool
    host_uid: int
    host_gid: int

    def run(self, spec: SandboxSpec) -> SandboxOutcome:
        """Run one app to completion or to its limits.

        Raises:
            SandboxError: the sandbox could not be set up (the app never ran).
        """
        ...
