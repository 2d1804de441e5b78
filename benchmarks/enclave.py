"""Enclave runtime benchmark: sandbox start overhead, and pre-compute throughput and memory.

1. **Start overhead** (median of N runs): a no-op app (``python3 app.py`` with ``pass``)
   run three ways:

   * ``direct``: ``python3 app.py`` as a plain subprocess (the reference);
   * ``sandbox``: the same through :class:`~sealrun.adapters.sandbox.BubblewrapSandbox`
     (namespaces, mounts, rlimits, privilege drop, log draining);
   * ``runtime``: the whole :class:`~sealrun.enclave.EnclaveRuntime` task in-process: bundle
     copy and measurement, secrets, sandbox, output archive, result and log sealing, two
     EIP-191 signatures, the report. (The separate enclave *process* adds one Python start
     with sealrun's imports on top; it is reported once as ``enclave_process``.)

2. **Pre-compute** on a sealed dataset of ``--size-mib`` (default 1024 MiB): fetch
   (``file://``, hashed while copied), checksum check, streaming open into ``IEXEC_IN``, in a
   child process so its peak RSS is measured alone. Reference: the Debian ``age`` binary
   (Go) decrypting the same file (``age -d -i key -o out file``), plus ``sha256sum``
   of the ciphertext (what we do besides decrypting).

Run: ``uv run python benchmarks/enclave.py [--iterations 10] [--size-mib 1024] [--json]``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealrun.adapters.sandbox import BubblewrapSandbox, SandboxSpec
from sealrun.adapters.sealedfiles import seal_path, write_identity
from sealrun.adapters.tee import SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.sealing import Identity
from sealrun.core.tasks import SecretsBundle
from sealrun.core.tasks.secretsbundle import DatasetSecret, ResultUpload
from sealrun.enclave import EnclaveRuntime, LocalSecretsFile

MANIFEST = '[app]\nname = "noop"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
PYTHON = "/usr/bin/python3"


def _median_s(function: Callable[[], object], iterations: int) -> float:
    function()  # warm the page cache and imports
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _task(beneficiary: Identity, dataset: DatasetSecret | None = None) -> SecretsBundle:
    return SecretsBundle(
        task_id="0x" + "ab" * 32,
        worker="0x" + "11" * 20,
        enclave_key="0x" + os.urandom(32).hex(),
        beneficiary_recipient=str(beneficiary.recipient),
        result_upload=ResultUpload(url="", token=""),
        max_time=600,
        dataset=dataset,
    )


def start_overhead(root: Path, iterations: int) -> dict[str, Any]:
    bundle = root / "bundle"
    bundle.mkdir()
    (bundle / "sealrun-app.toml").write_text(MANIFEST)
    (bundle / "app.py").write_text("pass\n")
    for path in (bundle, bundle / "app.py", bundle / "sealrun-app.toml"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    inputs, outputs = root / "in", root / "out"
    inputs.mkdir(mode=0o755)
    sandbox = BubblewrapSandbox()
    sandbox.prepare_output(outputs)
    spec = SandboxSpec(
        argv=("python3", "app.py"), bundle_dir=bundle, input_dir=inputs, output_dir=outputs,
        stdout_path=root / "stdout", stderr_path=root / "stderr",
    )  # fmt: skip
    key = SimulatorKey.generate()
    runtime = EnclaveRuntime(sandbox=sandbox, make_quoter=lambda m: SimulatedQuoter(key=key, measurement=m))
    secrets = root / "secrets.json"
    secrets.write_bytes(_task(Identity.generate()).to_json())
    work = root / "work"

    def direct() -> None:
        subprocess.run([PYTHON, "app.py"], cwd=bundle, check=True)

    def sandboxed() -> None:
        assert sandbox.run(spec).exit_status == 0

    def whole() -> None:
        assert runtime.run(bundle, LocalSecretsFile(secrets), work).status == "completed"

    def enclave_process() -> None:
        key_file = root / "sim.pem"
        key_file.write_bytes(key.to_pem())
        subprocess.run(
            [sys.executable, "-m", "sealrun.enclave", "run", "--bundle", str(bundle), "--work", str(work),
             "--simulator-key", str(key_file), "--secrets-file", str(secrets)],
            check=True,
        )  # fmt: skip

    figures = {
        "direct_ms": _median_s(direct, iterations) * 1000,
        "sandbox_ms": _median_s(sandboxed, iterations) * 1000,
        "runtime_ms": _median_s(whole, iterations) * 1000,
        "enclave_process_ms": _median_s(enclave_process, 1) * 1000,
    }
    figures["sandbox_ratio"] = figures["sandbox_ms"] / figures["direct_ms"]
    figures["runtime_ratio"] = figures["runtime_ms"] / figures["direct_ms"]
    return figures


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from sealrun.core.tasks import SecretsBundle
from sealrun.enclave.precompute import prepare_inputs
bundle = SecretsBundle.from_json(Path(sys.argv[1]).read_bytes())
start = time.perf_counter()
prepared = prepare_inputs(bundle, input_dir=Path(sys.argv[2]), fetch_dir=Path(sys.argv[3]), max_bytes=1 << 40)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "fetched": prepared.fetched_bytes,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


_REFERENCE = """
import json, resource, subprocess, sys, time
age, identity, out, sealed = sys.argv[1:]
start = time.perf_counter()
subprocess.run(["sha256sum", sealed], capture_output=True, check=True)
subprocess.run([age, "-d", "-i", identity, "-o", out, sealed], check=True)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def precompute(root: Path, size_mib: int) -> dict[str, Any]:
    plain = root / "dataset.bin"
    block = os.urandom(1 << 20)
    with plain.open("wb") as handle:
        for _ in range(size_mib):
            handle.write(block)
    key = Identity.generate()
    sealed = seal_path(plain, root / "dataset.bin.age", [key.recipient])
    plain.unlink()
    bundle = _task(
        Identity.generate(), DatasetSecret(url=sealed.path.as_uri(), checksum=sealed.checksum, key=str(key))
    )
    secrets = root / "secrets.json"
    secrets.write_bytes(bundle.to_json())
    inputs, fetch = root / "in", root / "fetch"
    inputs.mkdir()
    fetch.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(secrets), str(inputs), str(fetch)],
        capture_output=True,
        text=True,
        check=True,
    )
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(inputs)
    identity_file = write_identity(root / "key.txt", key)
    age = shutil.which("age")
    reference: dict[str, Any] = {"tool": "age -d + sha256sum"}
    if age is not None:
        # In a child of its own, so the RSS figure is age's alone (RUSAGE_CHILDREN is a maximum).
        done = subprocess.run(
            [sys.executable, "-c", _REFERENCE, age, str(identity_file), str(root / "age.out"),
             str(sealed.path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        reference.update(json.loads(done.stdout))
    mib = sealed.plaintext_size / (1 << 20)
    result = {
        "size_mib": round(mib, 1),
        "seconds": ours["seconds"],
        "mib_per_s": mib / ours["seconds"],
        "peak_rss_mib": ours["peak_rss_kib"] / 1024,
        "reference": reference,
    }
    if "seconds" in reference:
        reference["mib_per_s"] = mib / reference["seconds"]
        result["ratio_vs_reference"] = ours["seconds"] / reference["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sealrun-bench-", dir="/tmp"))
    root.chmod(0o711)
    try:
        (root / "start").mkdir(mode=0o711)
        overhead = start_overhead(root / "start", options.iterations)
        (root / "pre").mkdir()
        pre = precompute(root / "pre", options.size_mib)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {"start": overhead, "precompute": pre, "iterations": options.iterations, "cpus": os.cpu_count(),
               "load_average": os.getloadavg()[0]}  # fmt: skip
    if options.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
        return
    s = overhead
    print(f"no-op app start (median of {options.iterations}, load {figures['load_average']:.1f}):")
    print(f"  direct python3        {s['direct_ms']:8.1f} ms   (reference)")
    print(f"  bubblewrap sandbox    {s['sandbox_ms']:8.1f} ms   x{s['sandbox_ratio']:.2f}")
    print(f"  whole runtime task    {s['runtime_ms']:8.1f} ms   x{s['runtime_ratio']:.2f}")
    print(f"  enclave process (1x)  {s['enclave_process_ms']:8.1f} ms")
    ref = pre["reference"]
    print(f"pre-compute of a {pre['size_mib']:.0f} MiB sealed dataset (fetch file://, checksum, open):")
    print(f"  sealrun               {pre['mib_per_s']:8.1f} MiB/s   peak RSS {pre['peak_rss_mib']:.0f} MiB")
    if "mib_per_s" in ref:
        rss = ref["peak_rss_kib"] / 1024
        print(f"  {ref['tool']:<21} {ref['mib_per_s']:8.1f} MiB/s   peak RSS {rss:.0f} MiB")
        print(f"  ratio (time)          x{pre['ratio_vs_reference']:.2f}")


if __name__ == "__main__":
    main()
