"""Worker-pool benchmark: throughput of a 100-task deal with 1, 2 and 4 worker slots on anvil.

``--mode strict,session`` runs each slot count in each isolation mode (decision 0080):
``strict`` starts and attests one enclave process per task; ``session`` keeps one attested
enclave per slot and runs each task in a fresh sandbox forked from it.

For each slot count it runs the whole pool on loopback (anvil, the store, the SMS, the market,
the scheduler and one worker with that many slots, each a real ``python -m`` process), fills a
deal of ``--tasks`` tasks of ``examples/iexec-python`` through the market, and measures:

- ``first_assignment_s``: from the ``matchOrders`` receipt (``OrdersMatched``) to the first task
  leaving ``pending`` at the scheduler (the scheduler follows the chain every 0.3 s);
- ``last_result_s``: from the receipt to the last task settled on chain (``TaskCompleted``,
  as the scheduler reports it; polled every 0.5 s);
- ``tasks_per_s``: ``tasks / last_result_s``;
- ``cpu_s_per_task``: CPU seconds (user + system) of every process of the pool (all the
  benchmark's descendants: chain, services, worker, enclaves, sandboxes) during the deal,
  divided by the tasks;
- ``task_p50_s``, ``task_p95_s``: each task's time at its worker (the scheduler's attempt, from
  assignment to the ``submitted`` report).

Every task is a real run: the enclave process (simulated TEE) attests to the SMS, receives its
bundle, runs the app under bubblewrap, seals and uploads the result, signs it; the worker then
settles through ``finalizeMany`` in batches (worker defaults: 50 tasks or 2 s, whichever
first) and pays the gas. Reference: ``speedup`` is each run's throughput over the
1-slot run's (linear scaling would be 1, 2, 4; the machine's cores bound it).

Goals (issue 17, 2-core machine, no-op app): ``session`` ≥ 10 tasks/s with 2 slots and ≥ 15
with 4, ``strict`` ≥ 3; each run prints its ratio to its mode's goal.

Run: ``uv run python benchmarks/pool.py [--tasks 100] [--slots 1,2,4] [--mode strict,session]
[--chain anvil] [--json]``.
The pool-on-loopback harness is the tests' (``tests/pool/world.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pool.deals import fill_deal
from tests.pool.world import PoolWorld, build_world, start_services

from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.http.sms import SmsClient
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing.keys import Identity

#: tasks/s goals per mode and slot count (issue 17); strict's holds for any slot count.
GOALS = {
    ("session", 2): 10.0,
    ("session", 4): 15.0,
    ("strict", 1): 3.0,
    ("strict", 2): 3.0,
    ("strict", 4): 3.0,
}
_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system, with reaped children's) of every live descendant of ``root``."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(value) for value in fields[11:15]) / _TICKS  # utime stime cutime cstime
    total = 0.0
    for pid, seconds in times.items():
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, root):
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            total += seconds
    return total


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_deal(world: PoolWorld, tasks: int, *, timeout: float) -> dict[str, Any]:
    """Fill one deal and time it to its first assignment and its last result."""
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    scheduler = SchedulerClient(world.url_of("scheduler"), key=b"\x01" * 32, domain=domain)
    cpu_before = tree_cpu_s(os.getpid())
    deal = fill_deal(world, volume=tasks)
    matched = time.monotonic()
    deal_hex = "0x" + deal.deal_id.hex()
    first: float | None = None
    last: float | None = None
    deadline = matched + timeout
    while time.monotonic() < deadline:
        statuses = [t.status for t in scheduler.tasks(deal_hex)]
        now = time.monotonic()
        if first is None and any(s != "pending" for s in statuses):
            first = now - matched
        if len(statuses) == tasks and all(s in ("completed", "failed", "expired") for s in statuses):
            last = now - matched
            break
        time.sleep(0.05 if first is None else 0.5)
    cpu = tree_cpu_s(os.getpid()) - cpu_before
    listed = scheduler.tasks(deal_hex)
    final = [t.status for t in listed]
    durations = []
    for task in listed:
        ended = [a for a in scheduler.attempts(task.task_id).attempts if a.ended_at is not None]
        if ended:
            durations.append(ended[-1].ended_at - ended[-1].started_at)  # type: ignore[operator]
    scheduler.close()
    p50, p95 = _percentile(durations, 0.5), _percentile(durations, 0.95)
    return {
        "cpu_s_per_task": round(cpu / tasks, 3),
        "task_p50_s": None if p50 is None else round(p50, 3),
        "task_p95_s": None if p95 is None else round(p95, 3),
        "tasks": tasks,
        "completed": final.count("completed"),
        "failed": final.count("failed"),
        "first_assignment_s": round(first, 3) if first is not None else None,
        "last_result_s": round(last, 2) if last is not None else None,
        "tasks_per_s": round(tasks / last, 3) if last else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--slots", default="1,2,4", help="comma-separated slot counts")
    parser.add_argument("--mode", default="strict", help="comma-separated isolation modes: strict, session")
    parser.add_argument("--chain", default="anvil", choices=["anvil", "embedded"])
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per deal")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    slot_counts = [int(s) for s in args.slots.split(",")]
    modes = [m for m in args.mode.split(",") if m]
    if not modes or any(m not in ("strict", "session") for m in modes):
        parser.error("--mode takes strict, session or both")
    world = build_world(workers=1, chain=args.chain)
    runs: list[dict[str, Any]] = []
    try:
        start_services(world, workers=0)
        domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
        sms = SmsClient(world.url_of("sms"), domain=domain)
        sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
        sms.close()
        for mode in modes:
            for slots in slot_counts:
                worker = world.start_worker(0, slots=slots, isolation=mode)
                result = {"mode": mode, "slots": slots, **run_deal(world, args.tasks, timeout=args.timeout)}
                worker.stop()
                goal = GOALS.get((mode, slots))
                result["goal_tasks_per_s"] = goal
                rate = result["tasks_per_s"]
                result["ratio_to_goal"] = round(rate / goal, 3) if goal and rate else None
                runs.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)  # progress, also under --json
    finally:
        world.close()
    for run in runs:
        base = next(
            (
                r["tasks_per_s"]
                for r in runs
                if r["slots"] == 1 and r["mode"] == run["mode"] and r["tasks_per_s"]
            ),
            None,
        )
        run["speedup"] = round(run["tasks_per_s"] / base, 2) if base and run["tasks_per_s"] else None
    report = {"chain": args.chain, "cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0], "runs": runs}
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"pool benchmark on {args.chain}, {args.tasks}-task deals ({os.cpu_count()} cores)")
    header = (
        "mode",
        "slots",
        "done",
        "first asg s",
        "last s",
        "tasks/s",
        "goal",
        "ratio",
        "CPU s/task",
        "p50 s",
        "p95 s",
    )
    print("{:>7} {:>5} {:>5} {:>11} {:>7} {:>8} {:>5} {:>6} {:>10} {:>6} {:>6}".format(*header))
    for run in runs:
        print(
            f"{run['mode']:>7} {run['slots']:>5} {run['completed']:>5} {run['first_assignment_s']!s:>11} "
            f"{run['last_result_s']!s:>7} {run['tasks_per_s']!s:>8} {run['goal_tasks_per_s']!s:>5} "
            f"{run['ratio_to_goal']!s:>6} {run['cpu_s_per_task']!s:>10} "
            f"{run['task_p50_s']!s:>6} {run['task_p95_s']!s:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
