"""The worker's side of isolation mode ``session`` (decision 0080): warm, attested enclaves.

:class:`SessionTee` is a :class:`~sealrun.adapters.tee.TeeBackend` that keeps long-lived
``python -m sealrun.enclave session`` processes (:mod:`sealrun.enclave.sessionloop`), one per
task running at once, for each app bundle and worker. Each process attests once and then runs
one task per request, each in a fresh sandbox, writing the same ``report.json`` a ``strict``
enclave writes; so the worker, its journal and its settlement are the same in both modes.

A process that dies, answers nonsense or times out is killed and forgotten (the task ends
``ENCLAVE_CRASHED`` as in ``strict``; the next task starts a fresh one). An SMS refusal comes
back as ``ENCLAVE_CRASHED`` with the enclave's ``error [CODE]: message`` line, as a ``strict``
enclave's stderr would carry it, so the pool's retry rules read the same code.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sealrun.adapters.tee.backend import EnclaveLaunch
from sealrun.adapters.tee.report import RunReport
from sealrun.adapters.tee.simulated import REPORT_NAME, enclave_environment
from sealrun.api.ids import task_id_hex
from sealrun.errors import EnclaveError

__all__ = ["SessionTee", "split_task_arguments"]

_TASK_FLAGS = ("--task-id", "--worker", "--authorization")
_MAX_ANSWER = 64 * 1024
_TAIL = 2000


def split_task_arguments(launch: EnclaveLaunch) -> tuple[str, str, str, tuple[str, ...]]:
    """The task id, worker, authorization and the remaining enclave options of ``launch``.

    The worker names the task in ``extra_args`` (``--task-id``, ``--worker``,
    ``--authorization``) or in the launch's fields; the rest are options every enclave gets.

    Raises:
        EnclaveError: ``ENCLAVE_TASK_INVALID`` when the task is not fully named.
    """
    named: dict[str, str] = {}
    options: list[str] = []
    args = list(launch.extra_args)
    while args:
        flag = args.pop(0)
        if flag in _TASK_FLAGS and args:
            named[flag] = args.pop(0)
        else:
            options.append(flag)
    if launch.task_id is not None:
        named["--task-id"] = task_id_hex(launch.task_id)
    if launch.worker is not None:
        named["--worker"] = launch.worker
    if launch.authorization is not None:
        named["--authorization"] = "0x" + launch.authorization.hex()
    if set(named) != set(_TASK_FLAGS) or launch.sms_url is None:
        raise EnclaveError(
            "a session launch names its task, worker, authorization and SMS", code="ENCLAVE_TASK_INVALID"
        )
    return named["--task-id"], named["--worker"], named["--authorization"], tuple(options)


@dataclass
class _Enclave:
    process: subprocess.Popen[bytes]
    buffer: bytes = b""

    def ask(self, request: dict[str, str], *, timeout_s: float) -> dict[str, object]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout_s
        out = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EnclaveError("the session enclave did not answer in time", code="ENCLAVE_CRASHED")
            ready, _, _ = select.select([out], [], [], left)
            if not ready:
                continue
            chunk = os.read(out, 65536)
            if not chunk:
                raise EnclaveError("the session enclave exited", code="ENCLAVE_CRASHED")
            self.buffer += chunk
            if len(self.buffer) > _MAX_ANSWER:
                raise EnclaveError("the session enclave's answer is too long", code="ENCLAVE_CRASHED")
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            answer = json.loads(line)
        except ValueError as error:
            raise EnclaveError("the session enclave's answer is not JSON", code="ENCLAVE_CRASHED") from error
        if not isinstance(answer, dict):
            raise EnclaveError("the session enclave's answer is not an object", code="ENCLAVE_CRASHED")
        return answer

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@dataclass
class SessionTee:
    """Runs tasks in warm, once-attested simulated enclaves (see the module doc).

    Args:
        simulator_key_file: the deployment's simulator key (PEM), read only by quoting children.
        python: the interpreter that runs ``sealrun.enclave``.
        timeout_s: the longest one task may take in its enclave.
        stderr_dir: where each session process writes its stderr (its error lines; never app
            data); ``None`` discards it.
    """

    simulator_key_file: Path
    python: str = sys.executable
    timeout_s: float = 24 * 3600.0
    stderr_dir: Path | None = None
    name: str = "simulated"
    started: int = 0
    _idle: dict[tuple[str, ...], list[_Enclave]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def command(self, bundle_dir: Path, sms_url: str, worker: str, options: tuple[str, ...]) -> list[str]:
        """The session enclave's argv."""
        argv = [
            self.python,
            "-m",
            "sealrun.enclave",
            "session",
            "--bundle",
            str(bundle_dir),
            "--sms",
            sms_url,
        ]
        return [*argv, "--worker", worker, "--simulator-key", str(self.simulator_key_file), *options]

    def run(self, launch: EnclaveLaunch) -> RunReport:
        """Run one task in a warm session enclave (started and attested if none is idle).

        Raises:
            EnclaveError: ``ENCLAVE_CRASHED`` if no valid report was written (the SMS's refusal
                code in its message), ``ENCLAVE_TASK_INVALID`` for a launch without its task.
        """
        task_id, worker, authorization, options = split_task_arguments(launch)
        assert launch.sms_url is not None  # split_task_arguments checked it
        argv = self.command(launch.bundle_dir, launch.sms_url, worker, options)
        key = tuple(argv)
        launch.work_dir.mkdir(parents=True, exist_ok=True)
        report_path = launch.work_dir / REPORT_NAME
        report_path.unlink(missing_ok=True)
        enclave = self._take(key) or self._start(argv)
        request = {"task_id": task_id, "authorization": authorization, "work": str(launch.work_dir.resolve())}
        try:
            answer = enclave.ask(request, timeout_s=self.timeout_s)
        except (EnclaveError, OSError) as error:
            enclave.stop()
            message = error.message if isinstance(error, EnclaveError) else str(error)
            raise EnclaveError(f"the session enclave failed: {message}", code="ENCLAVE_CRASHED") from error
        self._give_back(key, enclave)
        if answer.get("ok") is not True:
            raise EnclaveError(
                f"the session enclave ran no task: error [{answer.get('code')}]: {answer.get('message')}",
                code="ENCLAVE_CRASHED",
            )
        if not report_path.is_file():
            raise EnclaveError(
                f"the session enclave's task exited {answer.get('exit')} without a report",
                code="ENCLAVE_CRASHED",
            )
        return RunReport.from_json(report_path.read_bytes())

    def close(self) -> None:
        """Stop every idle session enclave."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for enclaves in idle.values():
            for enclave in enclaves:
                enclave.stop()

    def _take(self, key: tuple[str, ...]) -> _Enclave | None:
        with self._lock:
            enclaves = self._idle.get(key, [])
            while enclaves:
                enclave = enclaves.pop()
                if enclave.process.poll() is None:
                    return enclave
                enclave.stop()
        return None

    def _give_back(self, key: tuple[str, ...], enclave: _Enclave) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(enclave)

    def _start(self, argv: list[str]) -> _Enclave:
        log_file = None if self.stderr_dir is None else self._stderr_file()
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL if log_file is None else log_file,
                env=enclave_environment(os.environ),
                cwd="/",  # `-m` puts the working folder on sys.path: the worker's is private
            )
        except OSError as error:
            raise EnclaveError(
                f"cannot start the session enclave: {error}", code="ENCLAVE_CRASHED"
            ) from error
        finally:
            if log_file is not None:
                log_file.close()
        self.started += 1
        return _Enclave(process)

    def _stderr_file(self) -> BinaryIO:
        assert self.stderr_dir is not None
        self.stderr_dir.mkdir(parents=True, exist_ok=True)
        return (self.stderr_dir / f"session-{os.getpid()}-{self.started}.log").open("ab")
