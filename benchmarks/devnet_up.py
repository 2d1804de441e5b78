"""Devnet start-up benchmark: cold ``sealrun devnet up``, ``down``, and the resuming ``up``.

Each run makes a fresh project folder and runs the CLI as a user would, each command a fresh
process (``python -m sealrun.cli devnet ... --json``, what the ``sealrun`` script runs):

1. ``up`` on a new state dir (cold: chain, deployment, keys, funding, every service);
2. ``down``;
3. ``up`` again (it resumes: the chain replays its journal, the services start on their data);
4. ``down``, then the folder is deleted.

Wall seconds of each command, and ``up_cpu_s``: the CPU seconds (user + system) that the cold
``up`` cost in all processes — the CLI itself (``os.wait4``) plus every devnet process and the
service zygote, read from ``/proc/<pid>/stat`` right after ``up`` returns. CPU seconds count less
of the noise of other processes on a shared machine than wall time does. ``ratio`` is the median
cold ``up`` over the goal of issue 17 (5 s on the quiet 2-core machine): at most 1 meets it.
The load average before the runs is printed with the figures.

Run: ``uv run --frozen python benchmarks/devnet_up.py [--runs 3] [--chain embedded|anvil] [--json]``.
Run it with another checkout's interpreter to measure that checkout (it only drives the CLI).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_S = 5.0
_TICKS = os.sysconf("SC_CLK_TCK")


def _run(args: list[str], cwd: Path) -> float:
    """Run ``python -m sealrun.cli *args``; its wall seconds (it must succeed)."""
    begun = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "sealrun.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        out, err = child.communicate()
        wall = time.perf_counter() - begun
    if child.returncode != 0:
        raise SystemExit(f"sealrun {' '.join(args)} exited {child.returncode}:\n{out}\n{err}")
    return wall


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _zygotes(state_dir: Path) -> list[int]:
    """Pids whose command line is the service zygote's of this state dir (it and its forks)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sealrun.devnet.zygote" in command and str(state_dir).encode() in command:
            found.append(int(proc.name))
    return found


def one_run(chain: str) -> dict[str, float]:
    """One cold up, down, resumed up, down; the figures of this run."""
    folder = Path(tempfile.mkdtemp(prefix="sealrun-devnet-up-"))
    state_dir = folder / "devnet"
    common = ["--state-dir", str(state_dir), "--json"]
    try:
        before = os.times()
        up_s = _run(["devnet", "up", "--chain", chain, *common], folder)
        after = os.times()
        cli_cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        state = json.loads((state_dir / "state.json").read_text())
        # The zygote's forks carry its command line too: each pid is counted once.
        pids = {int(p["pid"]) for p in state["processes"]} | set(_zygotes(state_dir))
        up_cpu = cli_cpu + sum(_cpu_of(pid) for pid in pids)
        down_s = _run(["devnet", "down", *common], folder)
        resume_s = _run(["devnet", "up", *common], folder)
        down2_s = _run(["devnet", "down", *common], folder)
    finally:
        if (state_dir / "state.json").is_file():
            subprocess.run(
                [sys.executable, "-m", "sealrun.cli", "devnet", "down", *common],
                cwd=folder,
                capture_output=True,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "up_s": round(up_s, 2),
        "up_cpu_s": round(up_cpu, 2),
        "down_s": round(down_s, 2),
        "resume_up_s": round(resume_s, 2),
        "resume_down_s": round(down2_s, 2),
    }


def measure(runs: int, chain: str) -> dict[str, Any]:
    """``runs`` runs; each figure's median and the cold up's ratio to the goal."""
    load = os.getloadavg()
    samples = [one_run(chain) for _ in range(runs)]
    medians = {key: round(statistics.median(s[key] for s in samples), 2) for key in samples[0]}
    return {
        "chain": chain,
        "runs": samples,
        "median": medians,
        "goal_up_s": GOAL_S,
        "ratio_up_to_goal": round(medians["up_s"] / GOAL_S, 2),
        "cores": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in load],
        "python": sys.executable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chain", default="embedded", choices=["embedded", "anvil"])
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    args = parser.parse_args()
    report = measure(args.runs, args.chain)
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return
    m = report["median"]
    print(
        f"devnet on {report['chain']}, {args.runs} runs, {report['cores']} cores, "
        f"load average before {report['load_avg_before']}"
    )
    print(f"{'':<22}{'median':>8}{'goal':>8}{'ratio':>8}")
    print(f"{'cold up (wall s)':<22}{m['up_s']:>8.2f}{GOAL_S:>8.2f}{report['ratio_up_to_goal']:>8.2f}")
    print(f"{'cold up (CPU s, all)':<22}{m['up_cpu_s']:>8.2f}")
    print(f"{'down (wall s)':<22}{m['down_s']:>8.2f}")
    print(f"{'resumed up (wall s)':<22}{m['resume_up_s']:>8.2f}")
    print(f"{'down again (wall s)':<22}{m['resume_down_s']:>8.2f}")


if __name__ == "__main__":
    main()
