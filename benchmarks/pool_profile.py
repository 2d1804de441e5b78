"""Where a worker's task time goes: py-spy over a worker (and its enclaves) running a deal.

Builds the pool of ``benchmarks/pool.py`` on loopback (anvil, store, SMS, market, scheduler,
one worker with ``--slots`` slots), attaches ``py-spy record --subprocesses`` to the worker
(so its enclave processes and the apps they run are sampled too), fills one deal of ``--tasks``
no-op tasks, and stops sampling when the last one settles. py-spy samples only threads that
are running (not idle), at ``--rate`` Hz; a sample is 1/rate CPU second of one process.

It prints, per task: the CPU seconds sampled in each kind of process (worker, enclave, app),
the top ten functions by *own* time (the leaf frame of a sample: where the CPU actually is),
and the top ten sealrun functions by *inclusive* time (any frame of a sample), each in ms per
task, next to the deal's throughput. ``--json`` prints one document; ``--raw FILE`` keeps
py-spy's collapsed stacks.

Run: ``uv run --frozen python benchmarks/pool_profile.py [--tasks 100] [--slots 2] [--rate 100] [--json]``.
py-spy comes from PyPI (``uvx py-spy``, or ``--py-spy PATH``); it needs ptrace rights over the
worker (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.pool.world import build_world, start_services

from pool import run_deal
from sealrun.adapters.http.sms import SmsClient
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity

_PROCESS = re.compile(r'^process (\d+):"(.*)"$')
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _kind(command: str) -> str:
    if "sealrun.services.worker" in command:
        return "worker"
    if "sealrun.enclave" in command:
        return "enclave"
    return "app or other"


def _name(frame: str) -> str:
    """``function (file)`` without the line, the file shortened to its package path."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['function']} ({file})"


def summarize(raw: str, *, rate: int, tasks: int) -> dict[str, Any]:
    """Collapsed stacks (``frame;frame;... count``) to per-task costs."""
    per_kind: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # ``process P:"worker";process C:"enclave";...``: the last process frame is the sampled one.
        frames = stack.split(";")
        processes = [m for m in map(_PROCESS.match, frames) if m is not None]
        kind = _kind(processes[-1][2]) if processes else "worker"
        frames = [f for f in frames if _PROCESS.match(f) is None and not f.startswith("thread (")]
        if not frames:
            continue
        per_kind[kind] += count
        own[f"[{kind}] {_name(frames[-1])}"] += count
        for name in {f"[{kind}] {_name(f)}" for f in frames if "sealrun/" in f}:
            inclusive[name] += count

    def ms(samples: int) -> float:
        return round(1000 * samples / rate / tasks, 2)

    return {
        "cpu_s_per_task": {kind: round(n / rate / tasks, 4) for kind, n in per_kind.most_common()},
        "top_own_ms_per_task": [[name, ms(n)] for name, n in own.most_common(10)],
        "top_inclusive_ms_per_task": [[name, ms(n)] for name, n in inclusive.most_common(10)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--chain", default="anvil", choices=["anvil", "embedded"])
    parser.add_argument("--py-spy", default=None, help="py-spy binary (default: `uvx py-spy`)")
    parser.add_argument("--raw", type=Path, default=None, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    spy = [args.py_spy] if args.py_spy else [shutil.which("uvx") or "uvx", "py-spy"]
    load = os.getloadavg()
    world = build_world(workers=1, chain=args.chain)
    folder = Path(tempfile.mkdtemp(prefix="sealrun-pool-profile-"))
    raw_file = args.raw or folder / "stacks.txt"
    try:
        start_services(world, workers=0)
        domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
        sms = SmsClient(world.url_of("sms"), domain=domain)
        sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
        sms.close()
        worker = world.start_worker(0, slots=args.slots)
        assert worker.process is not None
        command = [*spy, "record", "--pid", str(worker.process.pid), "--subprocesses", "--nonblocking"]
        command += ["--rate", str(args.rate), "--format", "raw", "--output", str(raw_file)]
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as recorder:
            deal = run_deal(world, args.tasks, timeout=args.timeout)
            recorder.send_signal(signal.SIGINT)
            _, errors = recorder.communicate(timeout=120)
        if not raw_file.is_file():
            raise SystemExit(f"py-spy wrote nothing: {errors.decode(errors='replace')[-2000:]}")
        worker.stop()
    finally:
        world.close()
    report = {
        "slots": args.slots,
        "rate_hz": args.rate,
        "load_avg_before": [round(x, 2) for x in load],
        "deal": deal,
        **summarize(raw_file.read_text(), rate=args.rate, tasks=args.tasks),
    }
    shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{args.tasks} tasks, {args.slots} slots: {deal['tasks_per_s']} tasks/s "
        f"(load average before {report['load_avg_before']})"
    )
    print("CPU s per task by process:", report["cpu_s_per_task"])
    for title, key in (
        ("own time", "top_own_ms_per_task"),
        ("inclusive, sealrun", "top_inclusive_ms_per_task"),
    ):
        print(f"top ten by {title} (ms per task):")
        for name, value in report[key]:
            print(f"  {value:>8.2f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
