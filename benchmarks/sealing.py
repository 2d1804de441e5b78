"""Sealing throughput side by side: sealrun vs the `age` CLI vs the iExec SDK, and openssl's limit.

On the same N MiB file (default 1 GiB), in one run:

- sealrun ``seal_path`` (checksum included) and ``open_path`` (checksum included, and
  ``checksum=False`` as ``open_nock``: age computes none), file to file;
- the ``age`` CLI (Go), ``age -e -r`` and ``age -d -i``, file to file;
- the iExec SDK's dataset encryption (npm ``iexec``: AES-256-CBC in memory + sha256 checksum),
  installed with ``npm ci --prefix benchmarks/node`` (benchmark-only; needs node);
- ``openssl speed -evp chacha20-poly1305`` at 64 KiB blocks: one core's cipher limit;
- peak RSS of sealing and opening a ``--rss-size-mib`` file (default 4 GiB) in a child process.

Each sealrun/age measurement is repeated ``--repeat`` times (default 5), interleaved, and the
best, the median and the spread (slowest and fastest run, MB/s) are reported (the machine may
be shared; best-of is fair to both). Throughput is
plaintext bytes per second, in MB/s (10^6). Every sealrun and age run is a child process, and
its CPU time (user + system seconds per GiB of plaintext, from ``getrusage``) is reported
next to the wall time: on a loaded machine, CPU time moves far less than throughput. For
sealrun the child measures only the ``seal_path``/``open_path`` call (not the interpreter
start and imports); for age the whole process. **CPU seconds per wall second** (median) says
how many cores a tool kept busy: 2.0 is both cores of a 2-core machine. The ratios to the age
CLI are given for the best and the median runs, and as a spread (the lowest and highest ratio
of runs paired in the order they ran). The 1-minute load average is taken before and after
the timed runs. ``--sizes 256,1024`` measures several sizes in one run; ``--json`` prints one
JSON object (for several sizes: ``{"results": [...]}``, one object per size).

Usage: ``uv run python benchmarks/sealing.py [--sizes N[,N...]] [--repeat R] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sealrun.adapters.sealedfiles import write_identity
from sealrun.core.sealing import Identity

NODE_DIR = Path(__file__).resolve().parent / "node"
MB = 1e6


def make_file(path: Path, size_mib: int) -> None:
    """Random bytes: a fresh 64 MiB random block repeated (incompressible for every tool)."""
    block = os.urandom(64 * 1024 * 1024)
    with path.open("wb") as out:
        left = size_mib * 1024 * 1024
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))


Run = dict[str, float]
"""A measured run: ``seconds`` (wall), ``user`` and ``sys`` (CPU seconds)."""

# The sealrun side runs in a child, like age, and measures around the call only (imports
# excluded). Wall from perf_counter; CPU from getrusage of the whole process (all threads).
_RUN_CHILD = """
import json, resource, sys, time
from pathlib import Path
from sealrun.adapters.sealedfiles import open_path, read_identity, seal_path
mode, source, out, key = sys.argv[1:]
identity = read_identity(Path(key))
before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
if mode == "seal":
    seal_path(Path(source), Path(out), [identity.recipient])
else:
    open_path(Path(source), Path(out), [identity], checksum=mode == "open")
seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
print(json.dumps({"seconds": seconds, "user": user, "sys": system}))
"""


def run_sealrun(mode: str, source: Path, out: Path, key: Path) -> Run:
    """Wall and CPU time of one ``seal_path``/``open_path`` call in a child process."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CHILD, mode, str(source), str(out), str(key)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: Run = json.loads(done.stdout)
    return result


def run_command(command: list[str]) -> Run:
    """Wall and CPU time of one child process (RUSAGE_CHILDREN grows by exactly that child)."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, check=True)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "user": after.ru_utime - before.ru_utime,
        "sys": after.ru_stime - before.ru_stime,
    }


def summary(size: int, runs: list[Run]) -> dict[str, float]:
    """Throughput (best, median, spread), CPU s per GiB (best, median, user, sys), CPU per wall s."""
    seconds = [r["seconds"] for r in runs]
    gib = size / 2**30
    cpu = [(r["user"] + r["sys"]) / gib for r in runs]
    return {
        "worst_mb_s": round(size / max(seconds) / MB, 1),
        "cpu_per_wall_median": round(
            statistics.median((r["user"] + r["sys"]) / r["seconds"] for r in runs), 2
        ),
        "best_mb_s": round(size / min(seconds) / MB, 1),
        "median_mb_s": round(size / statistics.median(seconds) / MB, 1),
        "best_s": round(min(seconds), 3),
        "cpu_s_per_gib_best": round(min(cpu), 3),
        "cpu_s_per_gib_median": round(statistics.median(cpu), 3),
        "user_s_per_gib_median": round(statistics.median(r["user"] for r in runs) / gib, 3),
        "sys_s_per_gib_median": round(statistics.median(r["sys"] for r in runs) / gib, 3),
    }


def openssl_speed() -> float | None:
    """openssl's single-core ChaCha20-Poly1305 rate at 64 KiB blocks, MB/s."""
    if shutil.which("openssl") is None:
        return None
    done = subprocess.run(
        ["openssl", "speed", "-evp", "chacha20-poly1305", "-bytes", "65536", "-seconds", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"^ChaCha20-Poly1305\s+([\d.]+)k", done.stdout, re.MULTILINE)
    return round(float(match.group(1)) * 1000 / MB, 1) if match else None


def iexec_encrypt(source: Path, out: Path) -> dict[str, Any] | str:
    script = NODE_DIR / "iexec-encrypt.mjs"
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "iexec").is_dir():
        return "not measured: run `npm ci --prefix benchmarks/node` (needs node) to install the iExec SDK"
    done = subprocess.run(
        ["node", "--max-old-space-size=16384", str(script), str(source), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    out.unlink(missing_ok=True)
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# VmHWM (this process image's peak RSS), not getrusage: Linux carries ru_maxrss across
# execve, so a child would report the benchmark parent's own peak.
_RSS_CHILD = """
import re, sys
from pathlib import Path
from sealrun.adapters.sealedfiles import open_path, read_identity, seal_path
mode, source, out, key = sys.argv[1:]
identity = read_identity(Path(key))
if mode == "seal":
    seal_path(Path(source), Path(out), [identity.recipient])
else:
    open_path(Path(source), Path(out), [identity])
status = open("/proc/self/status").read()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
"""


def peak_rss(workdir: Path, size_mib: int, key: Path) -> dict[str, float]:
    """Seal then open a ``size_mib`` file in child processes; their peak RSS in MB."""
    big = workdir / "rss.bin"
    make_file(big, size_mib)
    sealed, opened = workdir / "rss.age", workdir / "rss.out"
    result: dict[str, float] = {"size_mib": size_mib}
    try:
        for mode, source, out in (("seal", big, sealed), ("open", sealed, opened)):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _RSS_CHILD, mode, str(source), str(out), str(key)],
                capture_output=True,
                text=True,
                check=True,
            )
            result[f"{mode}_peak_rss_mb"] = round(int(done.stdout.strip()) * 1024 / MB, 1)
            result[f"{mode}_mb_s"] = round(size_mib * 1024 * 1024 / (time.perf_counter() - started) / MB, 1)
        same = subprocess.run(["cmp", "-s", str(big), str(opened)], check=False).returncode == 0
        result["round_trip_identical"] = same
    finally:
        for path in (big, sealed, opened):
            path.unlink(missing_ok=True)
    return result


def run(args: argparse.Namespace, size_mib: int, *, rss: bool) -> dict[str, Any]:
    """Every measurement at ``size_mib`` (and the peak-RSS run if ``rss``), in one temp folder."""
    workdir = Path(tempfile.mkdtemp(prefix="sealrun-bench-", dir=args.dir))
    try:
        identity = Identity.generate()
        key = write_identity(workdir / "key.txt", identity)
        source = workdir / "data.bin"
        make_file(source, size_mib)
        size = size_mib * 1024 * 1024
        sealed, opened = workdir / "ours.age", workdir / "ours.out"
        age_sealed, age_opened = workdir / "age.age", workdir / "age.out"
        times: dict[str, list[Run]] = {
            "seal": [],
            "open": [],
            "open_nock": [],
            "age_seal": [],
            "age_open": [],
        }
        load_before = round(os.getloadavg()[0], 2)
        for _ in range(args.repeat):
            for path in (sealed, opened, age_sealed, age_opened):
                path.unlink(missing_ok=True)
            times["seal"].append(run_sealrun("seal", source, sealed, key))
            times["age_seal"].append(
                run_command(["age", "-e", "-r", str(identity.recipient), "-o", str(age_sealed), str(source)])
            )
            times["open"].append(run_sealrun("open", sealed, opened, key))
            opened.unlink()
            times["open_nock"].append(run_sealrun("open_nock", sealed, opened, key))
            times["age_open"].append(
                run_command(["age", "-d", "-i", str(key), "-o", str(age_opened), str(age_sealed)])
            )
        if subprocess.run(["cmp", "-s", str(source), str(opened)], check=False).returncode != 0:
            raise SystemExit("round trip mismatch")
        for path in (sealed, opened, age_sealed, age_opened):
            path.unlink(missing_ok=True)
        result: dict[str, Any] = {
            "size_mib": size_mib,
            "repeat": args.repeat,
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "load_average_1m_before": load_before,
            "sealrun": {op: summary(size, times[op]) for op in ("seal", "open", "open_nock")},
            "age_cli": {"seal": summary(size, times["age_seal"]), "open": summary(size, times["age_open"])},
            "openssl_chacha20_poly1305_mb_s": openssl_speed(),
        }
        iexec = (
            iexec_encrypt(source, workdir / "iexec.enc") if not args.skip_iexec else "skipped (--skip-iexec)"
        )
        if isinstance(iexec, dict):
            iexec["mb_s"] = round(iexec["plaintext_size"] / iexec["seconds"] / MB, 2)
            iexec["peak_rss_mb"] = round(iexec["peak_rss_kb"] * 1024 / MB, 1)
        result["iexec_sdk"] = iexec
        source.unlink()
        result["ratios"] = ratios(result)
        result["ratio_spread"] = ratio_spread(times)
        if rss and args.rss_size_mib:
            result["peak_rss"] = peak_rss(workdir, args.rss_size_mib, key)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    ours = result["sealrun"]
    out: dict[str, float | None] = {}
    for op in ("seal", "open"):
        out[f"{op}_vs_age_best"] = round(ours[op]["best_mb_s"] / result["age_cli"][op]["best_mb_s"], 2)
        out[f"{op}_vs_age_median"] = round(ours[op]["median_mb_s"] / result["age_cli"][op]["median_mb_s"], 2)
        # CPU ratio: sealrun's CPU seconds per GiB over age's (below 1 = sealrun uses less).
        out[f"{op}_cpu_vs_age_median"] = round(
            ours[op]["cpu_s_per_gib_median"] / result["age_cli"][op]["cpu_s_per_gib_median"], 2
        )
        limit = result["openssl_chacha20_poly1305_mb_s"]
        out[f"{op}_vs_openssl_one_core"] = round(ours[op]["best_mb_s"] / limit, 2) if limit else None
    nock, age_open = ours["open_nock"], result["age_cli"]["open"]
    out["open_nock_vs_age_best"] = round(nock["best_mb_s"] / age_open["best_mb_s"], 2)
    out["open_nock_vs_age_median"] = round(nock["median_mb_s"] / age_open["median_mb_s"], 2)
    out["open_nock_cpu_vs_age_median"] = round(
        nock["cpu_s_per_gib_median"] / age_open["cpu_s_per_gib_median"], 2
    )
    iexec = result["iexec_sdk"]
    out["seal_vs_iexec"] = (
        round(ours["seal"]["best_mb_s"] / iexec["mb_s"], 1) if isinstance(iexec, dict) else None
    )
    return out


def ratio_spread(times: dict[str, list[Run]]) -> dict[str, list[float]]:
    """Lowest and highest sealrun/age speed ratio over runs paired in the order they ran."""
    out: dict[str, list[float]] = {}
    for op, age_op in (("seal", "age_seal"), ("open", "age_open"), ("open_nock", "age_open")):
        pairs = [a["seconds"] / o["seconds"] for o, a in zip(times[op], times[age_op], strict=True)]
        out[f"{op}_vs_age"] = [round(min(pairs), 2), round(max(pairs), 2)]
    return out


def render(result: dict[str, Any]) -> str:
    lines = [
        f"sealing benchmark: {result['size_mib']} MiB file, best/median of {result['repeat']}, "
        f"{result['cpus']} CPUs, load {result['load_average_1m_before']} before, "
        f"{result['load_average_1m']} after",
        f"{'':28}{'best MB/s':>12}{'median MB/s':>14}{'worst':>8}"
        f"{'CPU s/GiB best':>16}{'median':>8}{'(user':>8}{'+ sys)':>8}{'CPU/wall':>10}",
    ]
    rows = [
        ("sealrun seal", "sealrun", "seal"),
        ("sealrun open", "sealrun", "open"),
        ("sealrun open (no checksum)", "sealrun", "open_nock"),
        ("age CLI seal", "age_cli", "seal"),
        ("age CLI open", "age_cli", "open"),
    ]
    for label, tool, op in rows:
        e = result[tool][op]
        lines.append(
            f"{label:28}{e['best_mb_s']:>12}{e['median_mb_s']:>14}{e['worst_mb_s']:>8}"
            f"{e['cpu_s_per_gib_best']:>16}{e['cpu_s_per_gib_median']:>8}"
            f"{e['user_s_per_gib_median']:>8}{e['sys_s_per_gib_median']:>8}{e['cpu_per_wall_median']:>10}"
        )
    iexec = result["iexec_sdk"]
    if isinstance(iexec, dict):
        label = "iExec SDK encrypt " + iexec["iexec_version"]
        lines.append(f"{label:28}{iexec['mb_s']:>12}  (peak RSS {iexec['peak_rss_mb']} MB)")
    else:
        lines.append(f"{'iExec SDK encrypt':28}  {iexec}")
    limit = result["openssl_chacha20_poly1305_mb_s"]
    lines.append(f"{'openssl chacha20-poly1305':28}{limit!s:>12}  (one core, 64 KiB blocks)")
    lines.append("ratios: " + ", ".join(f"{k} {v}" for k, v in result["ratios"].items()))
    lines.append(
        "ratio spread (paired runs, min-max): "
        + ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in result["ratio_spread"].items())
    )
    if "peak_rss" in result:
        rss = result["peak_rss"]
        lines.append(
            f"peak RSS at {rss['size_mib']} MiB: seal {rss['seal_peak_rss_mb']} MB "
            f"({rss['seal_mb_s']} MB/s), open {rss['open_peak_rss_mb']} MB ({rss['open_mb_s']} MB/s), "
            f"identical: {rss['round_trip_identical']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated sizes in MiB (default: --size-mib)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rss-size-mib", type=int, default=4096, help="0 to skip the peak-RSS run")
    parser.add_argument("--skip-iexec", action="store_true")
    parser.add_argument("--dir", default=None, help="work folder (default: the system temp folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("age") is None:
        raise SystemExit("the age CLI is required (scripts/setup.sh installs it)")
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else [args.size_mib]
    results = [run(args, size, rss=index == 0) for index, size in enumerate(sizes)]
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else {"results": results}, indent=2))
    else:
        print("\n\n".join(render(result) for result in results))


if __name__ == "__main__":
    main()
