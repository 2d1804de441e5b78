"""CLI start-up benchmark: CPU seconds (user + sys of the child) of help screens and ``--version``.

Each case runs ``--runs`` times as a fresh process (``python -m sealrun.cli ...``, what the
``sealrun`` script runs); the CPU time of each child comes from ``os.wait4``, so the noise of
other processes on a shared machine counts less than wall time would. ``python -c pass`` runs
in the same session as the floor; ``ratio`` is each case's median over that floor's median.
Goal (issue 14, 2-core machine): ``sealrun --help`` < 0.3 CPU s, every ``--help`` < 0.5 CPU s.

Run: ``uv run --frozen python benchmarks/cli_startup.py [--runs 10] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

CASES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "sealrun --help": ["-m", "sealrun.cli", "--help"],
    "sealrun --version": ["-m", "sealrun.cli", "--version"],
    "sealrun task show --help": ["-m", "sealrun.cli", "task", "show", "--help"],
    "sealrun order fill --help": ["-m", "sealrun.cli", "order", "fill", "--help"],
}
FLOOR = "python -c pass"


def cpu_seconds(args: list[str]) -> float:
    """Run ``python *args`` once; return the child's user + system CPU seconds."""
    with subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as child:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{args} exited {child.returncode}")
    return usage.ru_utime + usage.ru_stime


def measure(runs: int) -> dict[str, Any]:
    """Best and median CPU seconds per case (runs interleaved), and each median / the floor's."""
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):  # interleaved, so a burst of load hits every case alike
        for name, args in CASES.items():
            samples[name].append(cpu_seconds(args))
    floor = statistics.median(samples[FLOOR])
    return {
        "runs": runs,
        "python": sys.version.split()[0],
        "cases": {
            name: {
                "best": round(min(values), 4),
                "median": round(statistics.median(values), 4),
                "ratio": round(statistics.median(values) / floor, 1) if floor else None,
            }
            for name, values in samples.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    args = parser.parse_args()
    report = measure(args.runs)
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return
    print(f"CPU seconds (user+sys), {report['runs']} runs, Python {report['python']}")
    print(f"{'case':<28}{'best':>8}{'median':>8}{'x floor':>9}")
    for name, row in report["cases"].items():
        print(f"{name:<28}{row['best']:>8.3f}{row['median']:>8.3f}{row['ratio']:>9}")


if __name__ == "__main__":
    main()
