"""Start, health-check and stop the devnet's processes, each in its own process group.

Every process starts a new session (``start_new_session``), so its pid is also its process
group id and everything it starts (a worker's enclave processes, their sandboxes) belongs to
the same group. :func:`stop_all` signals whole groups, SIGTERM first and SIGKILL after a grace
period, and waits until no member of any group is left: ``devnet down`` leaves no orphan.

Error codes (:class:`~sealrun.errors.ServiceError`): ``DEVNET_START_FAILED`` (a process exited
or never became healthy; the message quotes the tail of its log).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx

from sealrun.devnet.state import ProcessRecord
from sealrun.errors import ServiceError

__all__ = ["group_alive", "healthy", "leader_alive", "log_tail", "spawn", "stop_all", "wait_healthy"]

_TAIL_BYTES = 1500
# The processes this interpreter started (``devnet up`` in-process: the demo, the benchmark),
# kept so they are reaped through their Popen and never reported as leaked.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(
    name: str, argv: list[str], *, env: Mapping[str, str], log: Path, cwd: Path, url: str | None = None
) -> ProcessRecord:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log``.

    Args:
        name: the process's name in the state file and in ``devnet logs``.
        argv: the command.
        env: its whole environment.
        log: the log file (created; appended to).
        cwd: its working directory.
        url: its HTTP base URL, if it serves one.

    Returns:
        The record to keep in the state file.
    """
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as handle:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            umask=0o077,  # its databases, logs and blobs are the devnet user's alone
        )
    _CHILDREN[process.pid] = process
    return ProcessRecord(
        name=name, pid=process.pid, log=str(log), url=url, argv=tuple(argv), env=dict(env), cwd=str(cwd)
    )


def _reap(pid: int) -> None:
    # Our own children become zombies until waited for; others were reparented to init.
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def group_alive(record: ProcessRecord) -> bool:
    """Whether any process of the record's group is still running."""
    _reap(record.pid)
    try:
        os.killpg(record.pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leader_alive(record: ProcessRecord) -> bool:
    """Whether the record's own process (the group leader) is still running."""
    _reap(record.pid)
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    try:
        # A zombie still answers kill(0); /proc says whether it is one.
        stat = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def healthy(record: ProcessRecord) -> bool:
    """Alive and, if it serves HTTP, answering its ``/openapi.json``."""
    if not leader_alive(record):
        return False
    if record.url is None:
        return True
    try:
        return httpx.get(record.url.rstrip("/") + "/openapi.json", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(record: ProcessRecord, size: int = _TAIL_BYTES) -> str:
    """The last ``size`` bytes of the record's log, decoded."""
    try:
        with open(record.log, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def wait_healthy(
    record: ProcessRecord, *, timeout: float, check: Callable[[ProcessRecord], bool] = healthy
) -> None:
    """Wait until ``check(record)`` holds.

    Raises:
        ServiceError: ``DEVNET_START_FAILED`` if the process exits or the time runs out.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(record):
            return
        if not leader_alive(record):
            raise ServiceError(
                f"{record.name} exited while starting; its log ({record.log}) ends with:\n{log_tail(record)}",
                code="DEVNET_START_FAILED",
            )
        time.sleep(0.1)
    raise ServiceError(
        f"{record.name} was not healthy after {timeout:.0f} s; its log ({record.log}) ends with:\n"
        f"{log_tail(record)}",
        code="DEVNET_START_FAILED",
    )


def _signal(record: ProcessRecord, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pgid, signum)


def stop_all(records: Iterable[ProcessRecord], *, grace: float = 10.0) -> list[str]:
    """Stop every record's process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    Groups are signalled in reverse start order (workers before the chain they use). Returns
    the names of the groups that had to be killed.
    """
    ordered = list(records)[::-1]
    for record in ordered:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_alive(r) for r in ordered):
        time.sleep(0.1)
    killed = []
    for record in ordered:
        if group_alive(record):
            killed.append(record.name)
            _signal(record, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(group_alive(r) for r in ordered):
        time.sleep(0.05)
    return killed
