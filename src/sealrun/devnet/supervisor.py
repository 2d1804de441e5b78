"""The devnet's supervisor: restarts a devnet process that died.

``devnet up`` starts it last (``python -m sealrun.devnet.supervisor <state dir>``) in its own
process group, recorded in the state file as ``supervisor``; ``devnet down`` stops it first,
so it never restarts what ``down`` is stopping. Once a second it checks each process's group
leader; a dead one is started again with the argv, environment and folder it was started
with (its log is appended to), after whatever is left of its old process group (an enclave,
a sandbox) is killed. Restarts back off (1, 2, 4, ... up to 30 s between two restarts of the
same process) and are capped: a process that needed :data:`MAX_RESTARTS` restarts within
:data:`WINDOW` seconds is given up on (``gave_up`` in the state, ``FAILED`` in ``devnet
status``). Every restart updates the state file (new pid, ``restarts`` + 1): while the devnet
runs, the supervisor is its only writer.

The chain restarts from its journal (embedded) or state file (anvil) on the same port, so
the services' URLs stay valid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

from sealrun.devnet.processes import leader_alive, spawn
from sealrun.devnet.state import STATE_FILE, DevnetState, ProcessRecord
from sealrun.errors import SealrunError

__all__ = ["MAX_RESTARTS", "SUPERVISOR", "WINDOW", "Supervisor", "main"]

SUPERVISOR = "supervisor"
MAX_RESTARTS = 5
WINDOW = 600.0
_MAX_BACKOFF = 30.0


@dataclass
class Supervisor:
    """Restarts the dead processes of the devnet in ``root`` (one :meth:`check` per tick).

    Args:
        root: the state dir.
        clock: monotonic seconds (injected for tests).
        log: where to say what it did (its own log file, through stdout).
    """

    root: Path
    clock: Callable[[], float] = time.monotonic
    log: Callable[[str], None] = lambda line: print(line, flush=True)
    _history: dict[str, list[float]] = field(default_factory=dict)

    def _due(self, name: str, now: float) -> bool:
        recent = self._history.get(name, [])
        if not recent:
            return True
        return now - recent[-1] >= min(_MAX_BACKOFF, 2.0 ** (len(recent) - 1))

    def _restart(self, record: ProcessRecord, now: float) -> ProcessRecord:
        recent = [t for t in self._history.get(record.name, []) if now - t < WINDOW]
        if len(recent) >= MAX_RESTARTS:
            self.log(f"{record.name}: died {len(recent)} times in {WINDOW:.0f} s; giving up")
            return replace(record, gave_up=True)
        # What is left of its group (a worker's enclave, a sandbox) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pgid, signal.SIGKILL)
        fresh = spawn(
            record.name,
            list(record.argv),
            env=record.env,
            log=Path(record.log),
            cwd=Path(record.cwd or self.root),
            url=record.url,
        )
        self._history[record.name] = [*recent, now]
        self.log(
            f"{record.name}: pid {record.pid} died; restarted as pid {fresh.pid} "
            f"(restart {record.restarts + 1})"
        )
        return replace(fresh, restarts=record.restarts + 1)

    def check(self) -> DevnetState | None:
        """Restart what died (and is due); returns the state it saved, or None if nothing changed."""
        state = DevnetState.load(self.root)
        now = self.clock()
        changed = False
        processes = []
        for record in state.processes:
            if (
                record.name == SUPERVISOR
                or record.gave_up
                or not record.argv
                or leader_alive(record)
                or not self._due(record.name, now)
            ):
                processes.append(record)
                continue
            processes.append(self._restart(record, now))
            changed = True
        if not changed:
            return None
        updated = replace(state, processes=tuple(processes))
        updated.save()
        return updated

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        """Check every ``interval`` seconds until ``stop`` is set or the state file is gone."""
        while not stop.wait(interval):
            if not (self.root / STATE_FILE).is_file():
                continue  # `devnet up` has not written it yet, or `down` is removing it
            try:
                self.check()
            except SealrunError as error:
                self.log(f"error [{error.code}]: {error.message}")


def main(argv: list[str] | None = None) -> int:
    """``python -m sealrun.devnet.supervisor STATE_DIR``: supervise until SIGTERM."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sealrun.devnet.supervisor STATE_DIR", file=sys.stderr)
        return 2
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    Supervisor(Path(args[0])).run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
