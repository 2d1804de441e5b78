"""A pre-loaded parent that forks the devnet's services: each Python import paid once, not six times.

``devnet up`` starts ``python -m sealrun.devnet.zygote STATE_DIR MODULE...`` while the chain
boots. The zygote imports each service's app module (``<module>.app``) and uvicorn — the web
stack, web3, eth-account, SQLAlchemy and alembic, about 4 CPU s together on the 2-core machine,
against some 12 CPU s when each of six services imports its own — then reads requests, one JSON
line each on its stdin, and answers each with one JSON line on its stdout:

- request: ``{"module": M, "args": [...], "env": {...}, "cwd": DIR, "log": FILE}``;
- answer: ``{"pid": N}``, or ``{"error": "why"}`` when it cannot fork (the caller then starts
  the process the ordinary way, :func:`sealrun.devnet.processes.spawn`).

The forked child becomes what ``python -m M ARGS`` would be: a new session (its pid is its
process group, like every devnet process), umask 077, stdin from ``/dev/null``, stdout and
stderr appended to ``FILE``, no other inherited descriptor, the working directory ``DIR``,
exactly the environment ``env``, ``sys.argv`` of the module, a fresh seed for :mod:`random`,
then ``runpy`` runs ``M`` as ``__main__``. Its record in the state file names the argv
``[python, -m, M, *args]``: the supervisor restarts it with an ordinary exec.

The zygote never starts a thread (a fork copies only the calling thread); if an import did,
every request is refused and the caller falls back. It auto-reaps its children (SIGCHLD
ignored; restored in each child). ``up`` closes its stdin once the services run; it then stays
their parent until the last one exits (so a stopped service is reaped at once instead of waiting
as a zombie for this machine's init), and exits.

What a forked service shares with its siblings: the interpreter's string-hash seed
(``PYTHONHASHSEED``), fixed at the zygote's start. The services are loopback processes of one
user; a hash-flooding attacker would need to reach them first.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import random
import runpy
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sealrun.devnet.state import ProcessRecord

__all__ = ["Zygote", "main"]

_PRELOAD_ALSO = ("uvicorn",)
# Zygotes whose stdin is closed, still the parent of running services: kept so that their
# Popen is never collected while they run (and reaped once they end).
_LINGERING: list[subprocess.Popen[str]] = []


@dataclass(frozen=True)
class _Request:
    module: str
    args: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    log: str


def _parse(line: str) -> _Request:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a request is a JSON object")
    module, args, env, cwd, log = (data.get(k) for k in ("module", "args", "env", "cwd", "log"))
    if not isinstance(module, str) or not module.startswith("sealrun."):
        raise ValueError("module must name a sealrun module")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args must be a list of strings")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ValueError("env must map strings to strings")
    if not isinstance(cwd, str) or not isinstance(log, str) or not Path(cwd).is_absolute():
        raise ValueError("cwd and log must be paths (cwd absolute)")
    return _Request(module, tuple(args), dict(env), cwd, log)


def _become(request: _Request) -> None:
    """In the forked child: take the shape of ``python -m module args`` (see the module's doc)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own children (an enclave) are waited for
    os.setsid()
    os.umask(0o077)
    log = os.open(request.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # No other descriptor: the zygote's pipes go (the ``shaped`` end tells it we are ready).
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    sys.argv = [request.module, *request.args]
    random.seed()


def _refuse(answers: IO[str], why: str) -> None:
    print(f"zygote: refused: {why}", file=sys.stderr, flush=True)
    answers.write(json.dumps({"error": why}) + "\n")
    answers.flush()


def _serve(requests: IO[str], answers: IO[str]) -> _Request | None:
    """Fork one child per request; return the request in the child, None when stdin closes."""
    threads = threading.active_count()
    for line in requests:
        if not line.strip():
            continue
        try:
            request = _parse(line)
        except ValueError as error:
            _refuse(answers, f"bad request: {error}")
            continue
        if threads != 1:
            _refuse(answers, f"{threads} threads after the imports: no fork")
            continue
        try:
            Path(request.log).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            ready, shaped = os.pipe()
            pid = os.fork()
        except OSError as error:
            _refuse(answers, f"fork failed: {error}")
            continue
        if pid == 0:
            os.close(ready)
            return request
        os.close(shaped)
        # The child closes its end once it is a session of its own (``_become``), so the pid is
        # answered only when a signal to its group reaches it, as after an exec by Popen.
        with os.fdopen(ready, "rb") as waiting:
            waiting.read()
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sealrun.devnet.zygote STATE_DIR MODULE...``: preload, then fork on request."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 1:
        print("usage: python -m sealrun.devnet.zygote STATE_DIR MODULE...", file=sys.stderr)
        return 2
    for name in [*(m + ".app" for m in args[1:]), *_PRELOAD_ALSO]:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    request = _serve(sys.stdin, sys.stdout)
    if request is None:
        # Stay their parent until the last child ends: each is reaped the moment it exits
        # (an orphan's zombie would wait for whatever init this machine has, and would still
        # count as a live member of its group for `devnet down`).
        with contextlib.suppress(ChildProcessError):
            while True:
                os.wait()  # with SIGCHLD ignored: blocks until no child is left, then ECHILD
        # At once: `devnet down` has just seen the last group go, and nothing naming the state
        # dir should outlive it by an interpreter's teardown (nothing is left to flush).
        os._exit(0)
    _become(request)
    runpy.run_module(request.module, run_name="__main__", alter_sys=True)
    return 0


class Zygote:
    """The ``up`` side: start the zygote, ask it for processes, close it.

    Args:
        python: the interpreter.
        root: the state dir (named on the zygote's command line, as on every devnet process's).
        modules: the service modules to preload.
        env: the zygote's environment (the devnet's base environment).
        log: where its own stderr goes.
    """

    def __init__(self, python: str, root: Path, modules: Sequence[str], *, env: Mapping[str, str], log: Path):
        log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as handle:
            self._process: subprocess.Popen[str] | None = subprocess.Popen(
                [python, "-m", "sealrun.devnet.zygote", str(root), *modules],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
                env=dict(env),
                cwd=root,
                text=True,
                umask=0o077,
            )
        self.python = python

    def spawn(
        self,
        name: str,
        module: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        log: Path,
        cwd: Path,
        url: str | None = None,
    ) -> ProcessRecord | None:
        """Fork ``python -m module args`` from the zygote; None if it cannot (start it yourself)."""
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            return None
        request: dict[str, Any] = {
            "module": module,
            "args": list(args),
            "env": dict(env),
            "cwd": str(cwd),
            "log": str(log),
        }
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline() or "{}")
        except (OSError, ValueError):
            self.close()
            return None
        if not isinstance(answer, dict) or not answer:  # it died: no more requests
            self.close()
            return None
        pid = answer.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None  # it refused this one (the answer's "error" says why, in its log too)
        argv = (self.python, "-m", module, *args)
        return ProcessRecord(
            name=name, pid=pid, log=str(log), url=url, argv=argv, env=dict(env), cwd=str(cwd)
        )

    def close(self) -> None:
        """Send no more requests; the zygote exits once its last child has (see the module's doc)."""
        process, self._process = self._process, None
        _LINGERING[:] = [p for p in _LINGERING if p.poll() is None]
        if process is None:
            return
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        if process.poll() is None:
            _LINGERING.append(process)


if __name__ == "__main__":
    raise SystemExit(main())
