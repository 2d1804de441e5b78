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

Everything the task side imports later must be readable by the task uid; the parent imports
and warms the whole runtime before the fork (:func:`_warm_up`), so a project whose folders
the task uid cannot enter still runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.bundlefiles import AppBundle, load_bundle
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import SimulatedQuoter, load_simulator_key
from sealrun.adapters.tee.quoting import RemoteQuoter, serve_quotes
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
        simulator_key_file: the simulator key (PEM, 0600): read by the parent only.
        secrets: the secrets source (built before the fork; it holds no key material).
        settings: the runtime's limits.
    """

    bundle_dir: Path
    work_dir: Path
    simulator_key_file: Path
    secrets: SecretsSource
    settings: RuntimeSettings


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


def _prepare_outputs(task: Path, size_bytes: int, uid: int) -> None:
    out = task / "out"
    out.mkdir(mode=0o700, exist_ok=True)
    os.chown(out, uid, uid)
    try:
        from sealrun.adapters.sandbox.mounts import enter_private_mount_namespace, mount_tmpfs

        enter_private_mount_namespace()
        mount_tmpfs(out, size_bytes=size_bytes, uid=uid, gid=uid, mode=0o700)
    except SealrunError as error:
        log.warning("outputs are not size-capped by a file system here: %s", error.message)


def _make_cgroup(name: str, bundle: AppBundle | None, uid: int) -> object | None:
    if bundle is None:
        return None
    try:
        from sealrun.adapters.sandbox.cgroups import TaskCgroup, cgroups_available

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


def _task_side(
    launch: IsolatedLaunch, task: Path, uid: int, sock: socket.socket, cgroup: object | None
) -> int:
    """The child: drop to the task uid for good, run the task, return its exit status."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    os.chdir(task)
    quoter = RemoteQuoter(sock)
    sandbox = BubblewrapSandbox(cgroup=cgroup)  # type: ignore[arg-type]
    runtime = EnclaveRuntime(sandbox=sandbox, make_quoter=lambda _measured: quoter, settings=launch.settings)
    try:
        runtime.run(launch.work_dir / "bundle", launch.secrets, task)
    except SealrunError as error:
        sys.stderr.write(f"error [{error.code}]: {error.message}\n")
        return 1
    finally:
        quoter.close()
    return 0


def _quoting_side(launch: IsolatedLaunch, sock: socket.socket, measurement: bytes) -> None:
    key = load_simulator_key(launch.simulator_key_file)
    serve_quotes(sock, SimulatedQuoter(key=key, measurement=measurement))


def run_isolated(launch: IsolatedLaunch, *, task_uid: Callable[[], int] = fresh_task_id) -> int:
    """Run one task with the task side as a fresh uid; return the task side's exit status.

    Must be called as root, from a single-threaded process (it forks).

    Raises:
        EnclaveError: ``ENCLAVE_NOT_ROOT`` when not root; ``ENCLAVE_CRASHED`` if the fork failed.
    """
    if os.geteuid() != 0:
        raise EnclaveError("an isolated launch needs root", code="ENCLAVE_NOT_ROOT")
    work = Path(launch.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o711)
    (work / "report.json").unlink(missing_ok=True)
    bundle = _copy_and_measure(launch.bundle_dir, work / "bundle")
    uid = task_uid()
    task = work / "task"
    shutil.rmtree(task, ignore_errors=True)
    task.mkdir(mode=0o700)
    os.chown(task, uid, uid)
    output_cap = bundle.manifest.resources.output_size_bytes if bundle else 1 << 20
    _prepare_outputs(task, output_cap, uid)
    cgroup = _make_cgroup(f"task-{os.getpid()}-{uid}", bundle, uid)
    _warm_up()
    parent_end, child_end = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the task side
        status = _EXIT_CRASHED
        try:
            parent_end.close()
            status = _task_side(launch, task, uid, child_end, cgroup)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(status)
    child_end.close()
    try:
        _quoting_side(launch, parent_end, bundle.fingerprint if bundle else UNMEASURED)
    finally:
        parent_end.close()
        _, wait_status = os.waitpid(pid, 0)
        remove = getattr(cgroup, "remove", None)
        if remove is not None:
            remove()
    report = task / "report.json"
    if report.is_file():
        os.replace(report, work / "report.json")
    return os.waitstatus_to_exitcode(wait_status)
