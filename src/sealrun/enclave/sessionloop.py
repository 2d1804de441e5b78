"""The long-lived session enclave: attested once, one fresh sandbox per task (decision 0080).

``python -m sealrun.enclave session --bundle B --sms URL --worker W ...`` measures the bundle,
then reads one JSON line per task on stdin::

    {"task_id": "0x…", "authorization": "0x…", "work": "/path/to/the/task/folder"}

and answers one JSON line on stdout when the task's ``report.json`` is written (or not)::

    {"ok": true, "attestations": 1}            # the session's attestations so far
    {"ok": false, "code": "RELEASE_…", "message": "…"}

Per task it obtains the secrets over the session (:class:`~sealrun.enclave.sessions.EnclaveSession`)
and then **forks**: the child runs the task exactly as a ``strict`` enclave would (as root, the
isolated launch of :mod:`.isolation`: a fresh task uid, a private mount namespace, a size-capped
output tmpfs, a task cgroup, bwrap's new namespaces; otherwise the runtime in a bwrap sandbox as
the caller's uid) and exits, so nothing of one task stays for the next. The child first zeroes
its copy of the session key.

Evidence for the session is made in a short-lived forked child that alone reads the simulator
key (:func:`quote_in_child`): the session process, and therefore every task forked from it,
never holds the key.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sealrun.adapters.tee import Quoter
from sealrun.api.ids import parse_task_id
from sealrun.core.attestation import Evidence
from sealrun.enclave.runtime import RuntimeSettings
from sealrun.enclave.sessions import EnclaveSession, SessionQuoter, SessionReleased
from sealrun.errors import EnclaveError, SealrunError

__all__ = ["SessionLoop", "quote_in_child"]

_MAX_LINE = 64 * 1024
_EXIT_CRASHED = 70


def quote_in_child(
    make_quoter: Callable[[bytes], Quoter], measurement: bytes, report_data: bytes
) -> Evidence:
    """Make evidence in a forked child that alone loads the quoting key; return it.

    Raises:
        EnclaveError: ``ENCLAVE_CRASHED`` when the child made no evidence.
    """
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        status = _EXIT_CRASHED
        try:
            text = make_quoter(measurement).evidence(report_data).to_json().encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(text)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(wait_status) != 0 or not text:
        raise EnclaveError("the quoting child made no evidence", code="ENCLAVE_CRASHED")
    return Evidence.from_json(text)


@dataclass
class SessionLoop:
    """Serves tasks over one attested session (see the module doc).

    Args:
        session: the session with the SMS.
        bundle_dir: the app bundle (measured at start; each task measures its own copy again).
        tee: the TEE's name (for the task's receipt).
        settings: the runtime's limits.
        simulator_key_file, hardware_quoter: as for the isolated launch (root only).
    """

    session: EnclaveSession
    bundle_dir: Path
    tee: str
    settings: RuntimeSettings
    simulator_key_file: Path | None = None
    hardware_quoter: Callable[[bytes], Quoter] | None = None

    def serve(self, lines: IO[str], answers: IO[str]) -> None:
        """Answer every task line until end of input."""
        _preload()
        while True:
            line = lines.readline(_MAX_LINE)
            if not line:
                return
            try:
                answer: dict[str, object] = {"ok": True, **self.run_task(line)}
            except SealrunError as error:
                answer = {"ok": False, "code": error.code, "message": error.message}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()

    def run_task(self, line: str) -> dict[str, object]:
        """Release one task's secrets over the session and run it in a forked child.

        Raises:
            EnclaveError: ``ENCLAVE_TASK_INVALID`` (a line that is not a task), ``ENCLAVE_CRASHED``.
            ReleaseError, AttestationError, SecretError: the SMS's refusal.
        """
        task_id, authorization, work = _task(line)
        bundle, info = self.session.release(task_id, authorization)
        source = SessionReleased(bundle=bundle, info=info, measurement=self.session.measurement)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the task: nothing of it outlives this child
            status = _EXIT_CRASHED
            try:
                self.session.forget_key()
                status = self._run_child(source, work)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        return {"attestations": self.session.attestations, "exit": code}

    def _run_child(self, source: SessionReleased, work: Path) -> int:
        if os.geteuid() == 0:
            from sealrun.enclave.isolation import IsolatedLaunch, run_isolated

            launch = IsolatedLaunch(
                bundle_dir=self.bundle_dir,
                work_dir=work,
                simulator_key_file=self.simulator_key_file,
                hardware_quoter=self.hardware_quoter,
                secrets=source,
                settings=self.settings,
            )
            return 0 if run_isolated(launch) == 0 else 1
        from sealrun.adapters.sandbox import BubblewrapSandbox
        from sealrun.enclave.runtime import EnclaveRuntime

        runtime = EnclaveRuntime(
            sandbox=BubblewrapSandbox(),
            make_quoter=lambda measured: SessionQuoter(tee=self.tee, measurement=measured),
            settings=self.settings,
        )
        runtime.run(self.bundle_dir, source, work)
        return 0


def _preload() -> None:
    """Import, once, what every task's child needs, so that no fork imports it again."""
    import encodings.idna  # noqa: F401 - httpx encodes host names with it, lazily
    import tarfile  # noqa: F401

    import httpx  # noqa: F401

    import sealrun.adapters.sandbox
    import sealrun.enclave.runtime

    if os.geteuid() == 0:
        import sealrun.enclave.isolation  # noqa: F401


def _task(line: str) -> tuple[bytes, bytes, Path]:
    invalid = EnclaveError("the task line is not {task_id, authorization, work}", code="ENCLAVE_TASK_INVALID")
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise invalid from error
    if not isinstance(data, dict) or set(data) != {"task_id", "authorization", "work"}:
        raise invalid
    task, authorization, work = data["task_id"], data["authorization"], data["work"]
    if (
        not all(isinstance(value, str) for value in (task, authorization, work))
        or not Path(work).is_absolute()
    ):
        raise invalid
    try:
        signature = bytes.fromhex(authorization.removeprefix("0x"))
        task_id = parse_task_id(task)
    except (ValueError, SealrunError) as error:
        raise invalid from error
    if len(signature) != 65:
        raise invalid
    return task_id, signature, Path(work)
