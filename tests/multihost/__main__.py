"""``python -m tests.multihost up|test|down``: the multi-host pool rig (``scripts/multihost.sh``).

- ``up``: build the rig (namespaces, bridge, CA, anvil, PostgreSQL, the services, two
  workers) and leave it running; ``rig.json`` in ``/tmp/sealrun-multihost`` records it.
- ``test [--tasks N] [--json] [--compare | --no-compare]``: build the rig, run a deal of N
  tasks (default 200) across both worker hosts while the faults are injected (worker-a's link
  down 30 s, worker-b killed whole, PostgreSQL restarted, the SMS restarted), print the
  report (JSON with ``--json``), then remove everything. ``--compare`` (the default under
  ``--json``) then runs two clean deals of N tasks (``--compare-tasks``), on two worker hosts
  and on one, and reports the ratio of their tasks/s. Exit status 1 when a task is lost,
  settled twice, or escrow is not conserved; the processes' logs are then kept in
  ``--keep-logs`` (``/tmp/sealrun-multihost-logs``), the one thing left behind.
- ``down``: stop and remove everything the rig made (also after a failed or killed run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tests.multihost import rig as rigs


def _report(args: argparse.Namespace) -> dict[str, Any]:
    from tests.multihost.pool import run_deal, single_host, start

    began = time.monotonic()
    pool = start(slots=args.slots)
    print(f"multihost: rig up in {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    report: dict[str, Any] = {
        "hosts": {host: rigs.address(host) for host in rigs.HOSTS},
        "tls": True,
        "cores": os.cpu_count(),
        "slots_per_worker": args.slots,
        "faulted_run": run_deal(pool, args.tasks, faults=True, timeout=args.timeout),
    }
    if args.compare:
        tasks = args.compare_tasks or args.tasks
        two = run_deal(pool, tasks, faults=False, timeout=args.timeout)
        single_host(pool)
        one = run_deal(pool, tasks, faults=False, timeout=args.timeout)
        ratio = round(two["tasks_per_s"] / one["tasks_per_s"], 2) if one["tasks_per_s"] else None
        report["scaling"] = {"two_hosts": two, "one_host": one, "speedup": ratio, "goal": 1.8}
    report["load_avg_1m"] = round(os.getloadavg()[0], 2)
    report["total_s"] = round(time.monotonic() - began, 1)
    return report


def _passed(report: dict[str, Any]) -> bool:
    runs = [report["faulted_run"], *report.get("scaling", {}).values()]
    runs = [r for r in runs if isinstance(r, dict)]
    return (
        all(
            r["lost"] == 0 and r["settled_twice"] == 0 and r["escrow_conserved"] and not r.get("fault_error")
            for r in runs
        )
        and len(report["faulted_run"]["faults"]) == 4
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.multihost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up")
    commands.add_parser("down")
    test = commands.add_parser("test")
    test.add_argument("--tasks", type=int, default=200)
    test.add_argument("--slots", type=int, default=1, help="task slots per worker")
    test.add_argument("--timeout", type=float, default=780.0, help="seconds per deal")
    test.add_argument(
        "--keep-logs",
        type=Path,
        default=Path("/tmp/sealrun-multihost-logs"),
        help="where the processes' logs are copied when the run fails (removed when it passes)",
    )
    test.add_argument("--json", action="store_true")
    test.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None)
    test.add_argument(
        "--compare-tasks", type=int, default=None, help="tasks per comparison deal (default: --tasks)"
    )
    args = parser.parse_args(argv)
    if args.command == "down":
        print(json.dumps(rigs.down()))
        return 0
    reason = rigs.netns_available()
    if reason is not None:
        print(f"multihost: cannot run: {reason}", file=sys.stderr)
        return 2
    if (rigs.ROOT / rigs.RIG_FILE).exists() or rigs.ROOT.exists():
        print(f"multihost: {rigs.ROOT} exists: `scripts/multihost.sh down` first", file=sys.stderr)
        return 2
    if args.command == "up":
        from tests.multihost.pool import start

        start(slots=1)
        print(json.dumps({"up": str(rigs.ROOT), "hosts": {h: rigs.address(h) for h in rigs.HOSTS}}))
        return 0
    if args.compare is None:
        args.compare = args.json
    shutil.rmtree(args.keep_logs, ignore_errors=True)
    report: dict[str, Any] = {}
    try:
        report = _report(args)
    finally:
        report["passed"] = bool(report) and _passed(report)
        if not report["passed"] and (rigs.ROOT / "logs").is_dir():
            shutil.copytree(rigs.ROOT / "logs", args.keep_logs)
            report["logs"] = str(args.keep_logs)
        rigs.down()
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
