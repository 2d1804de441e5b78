"""Run an app under bubblewrap: no network, no host files, bounded resources.

The sandbox (``bwrap``, Debian ``bubblewrap``) gets:

- every namespace unshared (user, pid, net, ipc, uts, cgroup): no network interface but
  loopback, no view of host processes; nested user namespaces are disabled;
- a root filesystem of the host's ``/usr`` read-only (with the ``/bin``, ``/lib*``
  symlinks of a merged-/usr system), fresh ``/proc`` and ``/dev``, a size-capped private
  tmpfs ``/tmp``, the bundle read-only at ``/app``, the inputs read-only at ``/iexec_in``,
  the output folder writable at ``/iexec_out``; nothing else (no ``/etc``, no ``/root``,
  no ``/home``);
- an environment that is exactly :attr:`SandboxSpec.env` (``--clearenv``), and bwrap
  itself started with an empty environment: ``--clearenv`` clears only the app's, while
  ``/proc/<pid>/environ`` of bwrap's processes (the sandbox's pid 1 among them) shows the
  environment bwrap was started with, which was the worker's (its keys) until it was emptied;
- no privileges: when the runtime is root, ``bwrap`` itself is started as an unprivileged
  host user of its own (by default a fresh uid/gid drawn from [2^20, 2^21) per sandbox
  instance, i.e. per task; no supplementary groups), so bwrap runs unprivileged (no setuid,
  no capabilities) and the app owns nothing on the host but its output folder. One uid per
  task matters twice: the kernel counts processes and user namespaces per host uid, so
  concurrent tasks sharing one user (``nobody``) made each other's sandboxes fail to start
  with EAGAIN; and tasks cannot read each other's group-readable inputs;
- one task cgroup (:mod:`sealrun.adapters.sandbox.cgroups`) holding bwrap and everything
  it starts, limiting the total memory (``memory_bytes``, no swap, /tmp's pages included)
  and tasks (``processes`` plus bwrap's own two) of the whole sandbox: given by the caller
  (``cgroup=``, a cgroup a root parent created and delegated; bwrap joins it between fork
  and exec), or, when we are root and cgroups are available, created per run and removed
  after it (every process left in it killed). Otherwise (not root and no cgroup given, or no
  cgroup controllers) the sandbox falls back to per-process limits only, which a
  multi-process app can exceed in total; the outcome says which
  (:attr:`SandboxOutcome.cgroup_enforced`);
- rlimits inherited by every app process: RLIMIT_NPROC (processes, counted inside the
  sandbox's own user namespace), RLIMIT_FSIZE (file size), no core dumps, and RLIMIT_AS
  (memory) only when no cgroup limits memory (JIT runtimes such as Node.js reserve far more
  address space than they use); the wall-clock limit kills the whole process group (the pid
  namespace dies with its init);
- stdout and stderr drained through pipes into files, each kept up to ``log_size_bytes``.

A write past RLIMIT_FSIZE raises SIGXFSZ (or EFBIG, "File too large", where the app
ignores the signal): the run is reported ``file_size_exceeded``. The output folder's total
size is capped by the launcher, which mounts it as a tmpfs of the allowed size
(:mod:`sealrun.adapters.sandbox.mounts`). A run is reported ``memory_exceeded`` when the
cgroup's OOM killer fired (even if it killed bwrap's own monitor), or when it failed with
the allocation-failure message of Python (``MemoryError``), glibc/C++
(``std::bad_alloc``, ``Cannot allocate memory``, ``out of memory``) in its stderr tail:
under RLIMIT_AS memory exhaustion shows as a failed allocation, not a signal. An app can only
misclassify its own failure that way.

Errors: :class:`~sealrun.errors.SandboxError` ``SANDBOX_FAILED`` when bubblewrap cannot
set the sandbox up (the app never started), ``SANDBOX_UNAVAILABLE`` when bwrap is missing,
``SANDBOX_PATH_UNREACHABLE`` when the unprivileged sandbox cannot reach a folder,
``SANDBOX_CGROUP_JOIN_FAILED`` when bwrap could not join the given cgroup, and the
``SANDBOX_CGROUP_*`` codes of :mod:`~sealrun.adapters.sandbox.cgroups` when the per-run
cgroup could not be created or removed (the run fails closed rather than unlimited).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from sealrun.adapters.sandbox.cgroups import TaskCgroup, cgroups_available
from sealrun.adapters.sandbox.limits import SandboxOutcome, SandboxSpec
from sealrun.errors import SandboxError

__all__ = ["BubblewrapSandbox"]

_MEMORY_MARKERS = (b"MemoryError", b"std::bad_alloc", b"Cannot allocate memory", b"out of memory")
_FILE_SIZE_MARKERS = (b"File too large",)
_TAIL_BYTES = 8192
_CHUNK = 65536
# bwrap's monitor and the sandbox's init are processes of the same (per-task) user too:
# the app itself and everything it starts share the remaining `processes`.
_BWRAP_PROCESSES = 2
# Host ids for sandboxed apps: far above any distribution's system and regular users.
_SANDBOX_IDS_START = 1 << 20
_SANDBOX_IDS_COUNT = 1 << 20


class _Drain(threading.Thread):
    """Copies one pipe into a file up to a cap, then keeps reading so the app never blocks."""

    def __init__(self, source: IO[bytes], target: Path, cap: int) -> None:
        super().__init__(daemon=True)
        self.source, self.target, self.cap = source, target, cap
        self.total = 0
        self.tail = b""

    def run(self) -> None:
        with self.target.open("wb") as sink:
            while chunk := os.read(self.source.fileno(), _CHUNK):
                keep = max(0, min(len(chunk), self.cap - self.total))
                if keep:
                    sink.write(chunk[:keep])
                self.total += len(chunk)
                self.tail = (self.tail + chunk)[-_TAIL_BYTES:]
        self.source.close()


class BubblewrapSandbox:
    """The bubblewrap sandbox runner.

    Args:
        bwrap: path of the ``bwrap`` binary.
        host_uid: the unprivileged host user bwrap runs as when we are root (default: a
            fresh id in [2^20, 2^21) for this instance; see the module docstring).
        host_gid: its group (default: the same number as the uid).
        cgroup: the task cgroup bwrap joins, one a root parent created and delegated
            (``owner_uid`` = the uid bwrap runs as: this process's, or ``host_uid`` when we
            are root); ``None``: one per run when we are root, else rlimits only.
    """

    def __init__(
        self,
        *,
        bwrap: Path = Path("/usr/bin/bwrap"),
        host_uid: int | None = None,
        host_gid: int | None = None,
        cgroup: TaskCgroup | None = None,
    ):
        self.bwrap = bwrap
        self.cgroup = cgroup
        self.drop_privileges = os.geteuid() == 0
        fresh = _SANDBOX_IDS_START + secrets.randbelow(_SANDBOX_IDS_COUNT)
        uid = fresh if host_uid is None else host_uid
        gid = uid if host_gid is None else host_gid
        self.host_uid = uid if self.drop_privileges else os.geteuid()
        self.host_gid = gid if self.drop_privileges else os.getegid()

    def prepare_output(self, folder: Path) -> None:
        """Make ``folder`` writable by the sandboxed app (and by nobody else but us)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.drop_privileges:
            os.chown(folder, self.host_uid, self.host_gid)
        folder.chmod(0o700)

    def _root_filesystem(self) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{name}"]
        return args

    def command(self, spec: SandboxSpec, status_fd: int) -> list[str]:
        """Return the full bwrap argv for ``spec`` (exposed so tests can read the policy)."""
        args = [
            str(self.bwrap),
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--uid",
            "65534",
            "--gid",
            "65534",
        ]
        args += ["--die-with-parent", "--new-session", "--hostname", "sealrun", "--clearenv"]
        args += ["--json-status-fd", str(status_fd)]
        args += self._root_filesystem()
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(spec.limits.tmp_size_bytes), "--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108 - inside the sandbox
        args += ["--ro-bind", str(spec.bundle_dir), "/app"]
        args += ["--ro-bind", str(spec.input_dir), "/iexec_in"]
        args += ["--bind", str(spec.output_dir), "/iexec_out"]
        # The root and /dev are bwrap's own tmpfs: make them read-only so they cannot be
        # filled (memory) or used as scratch space outside the limits.
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/app"]
        # /tmp is the sandbox's private tmpfs, not the host's.
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **spec.env}  # noqa: S108
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        return [*args, "--", *spec.argv]

    def _check_reachable(self, spec: SandboxSpec) -> None:
        if not self.drop_privileges:
            return
        for folder in (spec.bundle_dir, spec.input_dir, spec.output_dir):
            for parent in [folder.resolve(), *folder.resolve().parents]:
                try:
                    st = parent.stat()
                except FileNotFoundError:
                    continue  # bwrap itself reports a missing folder (SANDBOX_FAILED)
                if not (
                    st.st_mode & 0o001
                    or (st.st_uid == self.host_uid and st.st_mode & 0o100)
                    or (st.st_gid == self.host_gid and st.st_mode & 0o010)
                ):
                    raise SandboxError(
                        f"the sandbox user cannot reach {str(folder)!r}: {str(parent)!r} is not "
                        "searchable by it (put the work folder under /tmp or chmod o+x)",
                        code="SANDBOX_PATH_UNREACHABLE",
                    )

    def _task_cgroup(self, spec: SandboxSpec) -> tuple[TaskCgroup | None, bool]:
        """The cgroup this run joins and whether the run owns it (created here, removed after)."""
        if self.cgroup is not None:
            return self.cgroup, False
        if os.geteuid() != 0 or not cgroups_available():
            return None, False
        created = TaskCgroup.create(
            f"sandbox-{secrets.token_hex(8)}",
            memory_bytes=spec.limits.memory_bytes,
            pids=spec.limits.processes + _BWRAP_PROCESSES,
            # bwrap joins after dropping to the task's uid (preexec_fn runs after setuid).
            owner_uid=self.host_uid if self.drop_privileges else None,
            owner_gid=self.host_gid if self.drop_privileges else None,
        )
        return created, True

    def run(self, spec: SandboxSpec) -> SandboxOutcome:
        """Run the app described by ``spec`` to completion or to its limits.

        Returns:
            The :class:`SandboxOutcome` (exit status, signal, timeout, memory, log sizes).

        Raises:
            SandboxError: ``SANDBOX_UNAVAILABLE``, ``SANDBOX_PATH_UNREACHABLE``,
                ``SANDBOX_FAILED`` (bubblewrap could not start the app),
                ``SANDBOX_CGROUP_JOIN_FAILED`` or another ``SANDBOX_CGROUP_*`` code.
        """
        if not self.bwrap.exists():
            raise SandboxError(f"bubblewrap is not installed at {self.bwrap}", code="SANDBOX_UNAVAILABLE")
        self._check_reachable(spec)
        cgroup, owned = self._task_cgroup(spec)
        if not owned or cgroup is None:
            return self._run_in(spec, cgroup)
        try:
            outcome = self._run_in(spec, cgroup)
        except BaseException:
            # The run's own error says more than a failure to clean up after it.
            with contextlib.suppress(SandboxError):
                cgroup.remove()
            raise
        cgroup.remove()
        return outcome

    def _run_in(self, spec: SandboxSpec, cgroup: TaskCgroup | None) -> SandboxOutcome:
        limits = spec.limits
        # A cgroup counts the whole sandbox's memory; RLIMIT_AS would only add a
        # per-process address-space cap that JIT runtimes (Node.js) break without using it.
        # Without one, RLIMIT_AS is the fallback, sized by the caller for its runtime.
        fallback = limits.address_space_bytes or limits.memory_bytes
        address_space = None if cgroup is not None and cgroup.enforces_memory else fallback
        status_read, status_write = os.pipe()

        def restrict() -> None:  # runs in the child between fork and exec
            if cgroup is not None:
                cgroup.join()
            if address_space is not None:
                resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
            nproc = limits.processes + _BWRAP_PROCESSES
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        user = self.host_uid if self.drop_privileges else None
        group = self.host_gid if self.drop_privileges else None
        extra_groups: list[int] | None = [] if self.drop_privileges else None
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                self.command(spec, status_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_write,),
                start_new_session=True,
                preexec_fn=restrict,  # noqa: PLW1509 - cgroup and rlimits must be set in the child before exec
                close_fds=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
                # Nothing of ours: bwrap's processes (the sandbox's pid 1 among them) expose
                # the environment they were started with in /proc/<pid>/environ.
                env={},
            )
        except (OSError, subprocess.SubprocessError) as error:
            os.close(status_read)
            os.close(status_write)
            # A failing preexec_fn surfaces as a bare SubprocessError; joining the cgroup is
            # the step in it that can fail (lowering rlimits cannot).
            joining = cgroup is not None and not isinstance(error, OSError)
            raise SandboxError(
                f"cannot {'join the task cgroup' if joining else 'start bubblewrap'}: {error}",
                code="SANDBOX_CGROUP_JOIN_FAILED" if joining else "SANDBOX_FAILED",
            ) from error
        os.close(status_write)
        assert process.stdout is not None
        assert process.stderr is not None
        out = _Drain(process.stdout, spec.stdout_path, limits.log_size_bytes)
        err = _Drain(process.stderr, spec.stderr_path, limits.log_size_bytes)
        out.start()
        err.start()
        timed_out = False
        try:
            process.wait(timeout=limits.wall_time_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            # bwrap leads its own session; killing the group kills its monitor, and the
            # sandbox's init dies with it (--die-with-parent), taking the pid namespace along.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        elapsed = time.monotonic() - started
        out.join()
        err.join()
        with os.fdopen(status_read, "rb") as status_file:
            status = _parse_status(status_file.read())
        oom_killed = cgroup is not None and cgroup.oom_killed()
        # bwrap writes exit-code only once the app itself ran and exited; the OOM killer
        # may also have picked bwrap's monitor, which then reports nothing.
        if "exit-code" not in status and not timed_out and not oom_killed:
            raise SandboxError(
                "bubblewrap could not set up the sandbox: "
                + err.tail.decode("utf-8", "replace").strip()[-300:],
                code="SANDBOX_FAILED",
            )
        exit_status, killed_by = _decode_exit(status, process.returncode)
        failed = not timed_out and exit_status != 0
        memory = oom_killed or (failed and any(m in err.tail for m in _MEMORY_MARKERS))
        too_large = failed and (killed_by == signal.SIGXFSZ or any(m in err.tail for m in _FILE_SIZE_MARKERS))
        return SandboxOutcome(
            exit_status=None if timed_out else exit_status,
            signal=signal.SIGKILL if timed_out else killed_by,
            timed_out=timed_out,
            memory_exceeded=memory,
            file_size_exceeded=too_large,
            stdout_bytes=out.total,
            stderr_bytes=err.total,
            stdout_truncated=out.total > limits.log_size_bytes,
            stderr_truncated=err.total > limits.log_size_bytes,
            wall_seconds=elapsed,
            cgroup_enforced=cgroup is not None,
            memory_peak_bytes=None if cgroup is None else cgroup.memory_peak(),
        )


def _parse_status(raw: bytes) -> dict[str, int]:
    status: dict[str, int] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            status.update({k: v for k, v in document.items() if isinstance(v, int)})
    return status


def _decode_exit(status: dict[str, int], returncode: int) -> tuple[int | None, int | None]:
    # bwrap reports the app's status as exit-code; a signal shows as 128 + signo.
    code = status.get("exit-code", returncode)
    if code < 0:
        return None, -code
    if code > 128 and code - 128 < 65:
        return None, code - 128
    return code, None
