"""Worker-pool benchmark: throughput of a 100-task deal with 1, 2 and 4 worker slots on anvil.

For each slot count it runs the whole pool on loopback (anvil, the store, the SMS, the market,
the scheduler and one worker with that many slots, each a real ``python -m`` process), fills a
deal of ``--tasks`` tasks of ``examples/iexec-python`` through the market, and measures:

- ``first_assignment_s``: from the ``matchOrders`` receipt (``OrdersMatched``) to the first task
  leaving ``pending`` at the scheduler (the scheduler follows the chain every 0.3 s);
- ``last_result_s``: from the receipt to the last task settled on chain (``TaskCompleted``,
  as the scheduler reports it; polled every 0.5 s);
- ``tasks_per_s``: ``tasks / last_result_s``.

Every task is a real run: the enclave process (simulated TEE) attests to the SMS, receives its
bundle, runs the app under bubblewrap, seals and uploads the result, signs it; the worker then
settles through ``finalizeMany`` in batches (worker defaults: 50 tasks or 2 s, whichever
first) and pays the gas. Reference: ``speedup`` is each run's throughput over the
1-slot run's (linear scaling would be 1, 2, 4; the machine's cores bound it).

Run: ``uv run python benchmarks/pool.py [--tasks 100] [--slots 1,2,4] [--chain anvil] [--json]``.
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


def run_deal(world: PoolWorld, tasks: int, *, timeout: float) -> dict[str, Any]:
    """Fill one deal and time it to its first assignment and its last result."""
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    scheduler = SchedulerClient(world.url_of("scheduler"), key=b"\x01" * 32, domain=domain)
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
    final = [t.status for t in scheduler.tasks(deal_hex)]
    scheduler.close()
    return {
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
    parser.add_argument("--chain", default="anvil", choices=["anvil", "embedded"])
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per deal")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    slot_counts = [int(s) for s in args.slots.split(",")]
    world = build_world(workers=1, chain=args.chain)
    runs: list[dict[str, Any]] = []
    try:
        start_services(world, workers=0)
        domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
        sms = SmsClient(world.url_of("sms"), domain=domain)
        sms.set_result_recipient(bytes(world.requester.key), str(Identity.generate().recipient))
        sms.close()
        for slots in slot_counts:
            worker = world.start_worker(0, slots=slots)
            result = {"slots": slots, **run_deal(world, args.tasks, timeout=args.timeout)}
            worker.stop()
            runs.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)  # progress, also under --json
    finally:
        world.close()
    base = next((r["tasks_per_s"] for r in runs if r["slots"] == 1 and r["tasks_per_s"]), None)
    for run in runs:
        run["speedup"] = round(run["tasks_per_s"] / base, 2) if base and run["tasks_per_s"] else None
    report = {"chain": args.chain, "cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0], "runs": runs}
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"pool benchmark on {args.chain}, {args.tasks}-task deals ({os.cpu_count()} cores)")
    header = ("slots", "done", "first assignment s", "last result s", "tasks/s", "speedup")
    print("{:>5} {:>6} {:>19} {:>14} {:>8} {:>8}".format(*header))
    for run in runs:
        print(
            f"{run['slots']:>5} {run['completed']:>6} {run['first_assignment_s']!s:>19} "
            f"{run['last_result_s']!s:>14} {run['tasks_per_s']!s:>8} {run['speedup']!s:>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
