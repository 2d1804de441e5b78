"""Run one task as its own unprivileged uid, the quoting key kept where the task cannot reach.

Everything a requester or an app chooses (input URLs, params, output names, archive members)
is hostile input to the worker host. On a simulated TEE the "enclave" is a host process, so
the simulation must keep the boundary it simulates: the task holds no more than a real
enclave would. When the enclave process starts as root (the worker's launch), it splits:

::

    <work>/              0711 root        the worker's task folder
      bundle/            root, 0755/0644  the app bundle, copied and measured by the parent
      task/              task uid, 0700   the runtime's workspace (see :mod:`.workspace`)
        out/             tmpfs            size-capped outputs, in a private mount namespace
      report.json        root             moved here once the task side exited

1. The parent copies the bundle into ``bundle/`` (owned by root: the task side can read it,
   never change it) and measures it: that measurement is the only one it will ever quote.
2. It draws a fresh host uid for the task, enters a private mount namespace and mounts the
   output folder as a tmpfs of the manifest's output size (writes stop at the cap), and
   makes a cgroup with the manifest's memory and process limits, delegated to that uid.
3. It forks. The child drops to the task uid (no supplementary groups, no way back) and runs
   the whole task: SMS handshake, fetching, pre-compute, the sandbox (bwrap as the same
   uid, joining the cgroup), post-compute. It asks the parent for evidence over a socket pair
   (:class:`~sealrun.adapters.tee.quoting.RemoteQuoter`).
4. Only after the fork does the parent load the simulator key, so the child never had it in
   memory; the key file is 0600 and the child is another uid, so it cannot read it, the
   parent's memory or its environment. The parent answers quote requests with its own
   measurement until the child exits, then removes the cgroup and publishes the report.

Python itself must stay readable by the task uid, which imports lazily after the fork. When
Python, its packages or sealrun live under a folder other users cannot enter (a 0700 home:
pyenv, a project under ``~``), the parent, in its private mount namespace, covers the
highest closed folder with an empty tmpfs (0711) and binds back, read-only, exactly the
folders Python loads from (:func:`_expose_python`): the task side then reaches the
interpreter and the packages, and nothing else of that home. The parent also imports and
warms the runtime before the fork (:func:`_warm_up`).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.bundlefiles import AppBundle, load_bundle
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.sandbox.cgroups import TaskCgroup, cgroups_available
from sealrun.adapters.tee import Quoter, SimulatedQuoter
from sealrun.adapters.tee.quoting import RemoteQuoter, serve_quotes
from sealrun.adapters.tee.simulated import enclave_environment
from sealrun.core.attestation import SimulatorKey
from sealrun.enclave.runtime import UNMEASURED, EnclaveRuntime, RuntimeSettings
from sealrun.enclave.secrets import SecretsSource
from sealrun.enclave.workspace import copy_bundle
from sealrun.errors import EnclaveError, SealrunError

__all__ = ["IsolatedLaunch", "fresh_task_id", "run_isolated"]

log = logging.getLogger(__name__)

# Host ids for tasks: far above any distribution's system and regular users, and apart from
# the ids BubblewrapSandbox draws when the runtime itself is root.
_TASK_IDS_START = 3 << 20
_TASK_IDS_COUNT = 1 << 20
# bwrap's monitor and the sandbox's init count against the pids limit too.
_BWRAP_PROCESSES = 2
_EXIT_CRASHED = 70


def fresh_task_id() -> int:
    """A fresh unprivileged host uid (and gid) for one task."""
    return _TASK_IDS_START + secrets.randbelow(_TASK_IDS_COUNT)


@dataclass(frozen=True)
class IsolatedLaunch:
    """One task to run isolated.

    Attributes:
        bundle_dir: the app bundle as the worker fetched it (the task uid never reads it).
        work_dir: the task's folder (created 0711, owned by the caller).
        simulator_key_file: the simulator key (PEM, 0600): read by the parent only (simulated
            TEE; None with ``hardware_quoter``).
        secrets: the secrets source (built before the fork; it holds no key material).
        settings: the runtime's limits.
        hardware_quoter: a hardware TEE's quoter for a measurement: the parent (quoting side)
            quotes with it instead of the simulator key.
    """

    bundle_dir: Path
    work_dir: Path
    simulator_key_file: Path | None
    secrets: SecretsSource
    settings: RuntimeSettings
    hardware_quoter: Callable[[bytes], Quoter] | None = None


def _public(path: Path, mode: int) -> None:
    # Readable (never writable) by the task uid: folders and executables 0755, files 0644.
    path.chmod(mode | (0o005 if mode & 0o100 else 0o004))


def _copy_and_measure(source: Path, target: Path) -> AppBundle | None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    try:
        copy_bundle(load_bundle(source), target, _public)
        return load_bundle(target)
    except (SealrunError, OSError) as error:
        # The task side measures again, fails the same way and signs BUNDLE_INVALID.
        log.warning("the app bundle is invalid: %s", error)
        return None


def _warm_up() -> None:
    """Import and exercise, as root, what the task side will need after the fork."""
    import encodings.idna  # noqa: F401 - httpx encodes host names with it, lazily
    import tarfile  # noqa: F401
    import zlib  # noqa: F401

    import httpx

    from sealrun.core.sealing import Identity, open_bytes, seal_bytes

    identity = Identity.generate()
    open_bytes(seal_bytes(b"warm", [identity.recipient]), [identity])
    httpx.Client().close()  # loads the CA bundle's module and the TLS context machinery
    httpx.create_ssl_context(trust_env=False)


def _open_to_others(folder: Path) -> bool:
    return bool(os.stat(folder).st_mode & 0o001)


def _closed_ancestor(path: Path) -> Path | None:
    """The highest folder on the way to ``path`` that other users cannot enter, if any."""
    for folder in [*reversed(path.parents), path]:
        if not _open_to_others(folder):
            return folder
    return None


def _python_folders() -> list[Path]:
    """The folders this interpreter loads code from (the working folder excepted)."""
    named = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path}
    here = Path.cwd().resolve()
    folders = set()
    for name in named:
        if not name:
            continue
        folder = Path(name).resolve()
        if folder.is_dir() and folder != here:
            folders.add(folder)
    # Keep the outermost of nested folders: a bind covers what is inside it.
    return sorted(f for f in folders if not any(o != f and o in f.parents for o in folders))


def _expose_python(stage_root: Path) -> list[Path]:
    """Make this interpreter's folders reachable by other uids in this mount namespace only.

    Returns:
        The closed folders that are now covered (the host's view is unchanged).
    """
    from sealrun.adapters.sandbox.mounts import bind_mount, mount_tmpfs, unmount

    groups: dict[Path, list[Path]] = {}
    for folder in _python_folders():
        closed = _closed_ancestor(folder)
        if closed is not None:
            groups.setdefault(closed, []).append(folder)
    for number, (closed, folders) in enumerate(sorted(groups.items())):
        staged = []
        for index, folder in enumerate(folders):
            stage = stage_root / f"{number}-{index}"
            stage.mkdir()
            bind_mount(folder, stage, readonly=True)
            staged.append((folder, stage))
        mount_tmpfs(closed, size_bytes=1 << 20, uid=0, gid=0, mode=0o711)
        for folder, stage in staged:
            for step in [*reversed(folder.relative_to(closed).parents[:-1]), folder.relative_to(closed)]:
                (closed / step).mkdir(exist_ok=True)
                # Explicitly: mkdir's mode passes through the umask (077 for devnet services).
                (closed / step).chmod(0o711)
            bind_mount(stage, folder, readonly=True)
            unmount(stage, detach=True)
    return sorted(groups)


def _prepare_outputs(task: Path, size_bytes: int, uid: int) -> bool:
    """Mount ``task/out`` as a tmpfs of ``size_bytes``; return whether it was mounted."""
    out = task / "out"
    out.mkdir(mode=0o700, exist_ok=True)
    os.chown(out, uid, uid)
    try:
        from sealrun.adapters.sandbox.mounts import mount_tmpfs

        mount_tmpfs(out, size_bytes=size_bytes, uid=uid, gid=uid, mode=0o700)
    except SealrunError as error:
        log.warning("outputs are not size-capped by a file system here: %s", error.message)
        return False
    return True


def _release_outputs(task: Path) -> None:
    from sealrun.adapters.sandbox.mounts import unmount

    try:
        unmount(task / "out")
    except SealrunError as error:
        log.warning("cannot unmount the task's outputs: %s", error.message)


def _make_cgroup(name: str, bundle: AppBundle | None, uid: int) -> TaskCgroup | None:
    if bundle is None:
        return None
    try:
        if not cgroups_available():
            return None
        resources = bundle.manifest.resources
        return TaskCgroup.create(
            name,
            memory_bytes=resources.memory_bytes,
            pids=resources.processes + _BWRAP_PROCESSES,
            owner_uid=uid,
            owner_gid=uid,
        )
    except SealrunError as error:
        log.warning("the sandbox gets no cgroup here: %s", error.message)
        return None


def _task_side(launch: IsolatedLaunch, ready: _Prepared, sock: socket.socket) -> int:
    """The child: drop to the task uid for good, run the task, return its exit status."""
    uid, task = ready.uid, ready.task
    # Whatever the launcher was given, the task side keeps nothing of it but the basics.
    kept = enclave_environment(os.environ)
    os.environ.clear()
    os.environ.update(kept)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    os.chdir(task)
    quoter = RemoteQuoter(sock)
    sandbox = BubblewrapSandbox(cgroup=ready.cgroup)
    runtime = EnclaveRuntime(sandbox=sandbox, make_quoter=lambda _measured: quoter, settings=launch.settings)
    try:
        runtime.run(launch.work_dir / "bundle", launch.secrets, task)
    except SealrunError as error:
        sys.stderr.write(f"error [{error.code}]: {error.message}\n")
        return 1
    finally:
        quoter.close()
    return 0


def _quoting_side(
    key_fd: int, sock: socket.socket, measurement: bytes, hardware: Callable[[bytes], Quoter] | None
) -> None:
    if hardware is not None:
        serve_quotes(sock, hardware(measurement))
        return
    with os.fdopen(key_fd, "rb") as handle:
        key = SimulatorKey.parse(handle.read())
    serve_quotes(sock, SimulatedQuoter(key=key, measurement=measurement))


def _enter_namespace() -> bool:
    from sealrun.adapters.sandbox.mounts import enter_private_mount_namespace

    try:
        enter_private_mount_namespace()
    except SealrunError as error:
        log.warning("no private mount namespace here: %s", error.message)
        return False
    return True


@dataclass(frozen=True)
class _Prepared:
    """What the root side set up before the fork."""

    work: Path
    task: Path
    uid: int
    key_fd: int
    measurement: bytes
    cgroup: TaskCgroup | None
    outputs_mounted: bool


def _open_key(path: Path) -> int:
    try:
        # Opened now, read only after the fork by the quoting side; the task side closes it.
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise EnclaveError(
            f"cannot read the simulator key: {error}", code="SIMULATOR_KEY_UNREADABLE"
        ) from error


def _prepare(launch: IsolatedLaunch, uid: int) -> _Prepared:
    work = Path(launch.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o711)
    if _closed_ancestor(work) is not None:
        raise EnclaveError(
            f"the task uid cannot reach {str(work)!r}: put task folders under an open folder (/tmp)",
            code="ENCLAVE_WORK_UNREACHABLE",
        )
    key_fd = -1 if launch.simulator_key_file is None else _open_key(launch.simulator_key_file)
    (work / "report.json").unlink(missing_ok=True)
    bundle = _copy_and_measure(launch.bundle_dir, work / "bundle")
    task = work / "task"
    shutil.rmtree(task, ignore_errors=True)
    task.mkdir(mode=0o700)
    os.chown(task, uid, uid)
    namespaced = _enter_namespace()
    if namespaced:
        stage = Path(tempfile.mkdtemp(prefix="sealrun-stage-"))
        try:
            _expose_python(stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    output_cap = bundle.manifest.resources.output_size_bytes if bundle else 1 << 20
    return _Prepared(
        work=work,
        task=task,
        uid=uid,
        key_fd=key_fd,
        measurement=bundle.fingerprint if bundle else UNMEASURED,
        cgroup=_make_cgroup(f"task-{os.getpid()}-{uid}", bundle, uid),
        outputs_mounted=namespaced and _prepare_outputs(task, output_cap, uid),
    )


def run_isolated(launch: IsolatedLaunch, *, task_uid: Callable[[], int] = fresh_task_id) -> int:
    """Run one task with the task side as a fresh uid; return the task side's exit status.

    Must be called as root, from a single-threaded process (it forks).

    Raises:
        EnclaveError: ``ENCLAVE_NOT_ROOT`` when not root, ``ENCLAVE_WORK_UNREACHABLE`` when
            the task uid could not reach the work folder, ``SIMULATOR_KEY_UNREADABLE``.
    """
    if os.geteuid() != 0:
        raise EnclaveError("an isolated launch needs root", code="ENCLAVE_NOT_ROOT")
    ready = _prepare(launch, task_uid())
    _warm_up()
    parent_end, child_end = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the task side
        status = _EXIT_CRASHED
        try:
            if ready.key_fd >= 0:
                os.close(ready.key_fd)
            parent_end.close()
            status = _task_side(launch, ready, child_end)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(status)
    child_end.close()
    try:
        _quoting_side(ready.key_fd, parent_end, ready.measurement, launch.hardware_quoter)
    finally:
        parent_end.close()
        _, wait_status = os.waitpid(pid, 0)
        if ready.cgroup is not None:
            ready.cgroup.remove()
        if ready.outputs_mounted:
            # The namespace dies with this process anyway; a caller that lives on (tests,
            # a long-lived launcher) must not keep a mount per task.
            _release_outputs(ready.task)
    report = ready.task / "report.json"
    if report.is_file():
        os.chown(report, 0, 0)  # the task uid no longer owns what the worker will read
        os.replace(report, ready.work / "report.json")
    return os.waitstatus_to_exitcode(wait_status)
