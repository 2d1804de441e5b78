"""``sealrun demo --local``: a local seal → open round trip of a sample folder (no marketplace).

It makes a sample folder (text, JSON, a random binary of ``--size-mib``), a result key pair,
seals the folder (age v1, deterministic archive), opens it again, checks every byte, and —
when the ``age`` command is installed — checks that ``age -d`` opens the same sealed file.
Each step prints its timing and paths; ``--json`` prints one object with ``status``,
``outputs`` and ``timings``. ``sealrun demo`` without ``--local`` runs the whole marketplace
journey (see :mod:`sealrun.cli.demo`).
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

from sealrun.adapters.sealedfiles import open_path, read_identity, seal_path, write_identity
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.core.sealing import Identity
from sealrun.errors import DemoError, UsageError

__all__ = ["local_demo"]

_MARKER = ".sealrun-demo"
_WORKDIR = typer.Option(Path("sealrun-demo"), "--workdir", help="Folder for the demo's files (recreated).")
_SIZE = typer.Option(64, "--size-mib", min=0, max=65536, help="Size of the sample's random binary file.")

T = TypeVar("T")


def _prepare(workdir: Path) -> None:
    if workdir.exists():
        if any(workdir.iterdir()) and not (workdir / _MARKER).exists():
            raise UsageError(
                f"{workdir} exists and is not a sealrun demo folder; choose --workdir.", code="USAGE"
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / _MARKER).write_text("made by `sealrun demo`; deleted and recreated by it\n", encoding="utf-8")


def _sample(folder: Path, size_mib: int) -> None:
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "readme.txt").write_text(
        "Private data: only the key holder reads this.\n", encoding="utf-8"
    )
    records = [{"patient": index, "reading": index * 7 % 113} for index in range(1000)]
    (folder / "records.json").write_text(json.dumps(records), encoding="utf-8")
    with (folder / "scan.bin").open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(1 << 20))


def _age_interop(sealed: Path, key: Path) -> str:
    """``age -d`` the sealed folder and compare the tar's sha256 with ours, or say why not."""
    if shutil.which("age") is None:
        return "skipped (age not installed)"
    digest = hashlib.sha256()
    with subprocess.Popen(["age", "-d", "-i", str(key), str(sealed)], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        while chunk := process.stdout.read(1 << 20):
            digest.update(chunk)
    if process.returncode != 0:
        raise DemoError("`age -d` could not open the sealed folder.", code="DEMO_AGE_INTEROP")
    return "0x" + digest.hexdigest()


def local_demo(
    workdir: Path = _WORKDIR,
    size_mib: int = _SIZE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Seal a sample folder and open it again, with timings (the quick start's main job)."""
    out = Output(json_out)
    timings: dict[str, float] = {}

    def step(name: str, action: Callable[[], T], detail: Callable[[T], str]) -> T:
        started = time.perf_counter()
        value = action()
        timings[name] = round(time.perf_counter() - started, 4)
        out.info(f"[bold]{name:<12}[/bold] {timings[name]:8.3f} s  {detail(value)}")
        return value

    workdir = workdir.resolve()
    _prepare(workdir)
    inputs, sealed_path = workdir / "inputs", workdir / "sealed" / "inputs.age"
    key_path, opened_path = workdir / "keys" / "result.key", workdir / "outputs" / "inputs"
    sealed_path.parent.mkdir()
    opened_path.parent.mkdir()
    step("sample", lambda: _sample(inputs, size_mib), lambda _: f"{inputs} ({size_mib} MiB random + text)")
    identity = step(
        "keys",
        lambda: read_identity(write_identity(key_path, Identity.generate())),
        lambda ident: f"{key_path} (0600) → {ident.recipient}",
    )
    sealed = step(
        "seal",
        lambda: seal_path(inputs, sealed_path, [identity.recipient]),
        lambda s: f"{s.path} ({s.ciphertext_size} bytes, checksum {s.checksum})",
    )
    opened = step(
        "open",
        lambda: open_path(sealed_path, opened_path, [identity]),
        lambda o: f"{o.path} ({o.files} files, {o.plaintext_size} bytes)",
    )
    same = step(
        "verify", lambda: _same_tree(inputs, opened_path), lambda ok: "identical" if ok else "DIFFERENT"
    )
    if not same:
        raise DemoError("The opened folder differs from the original.", code="DEMO_MISMATCH")
    interop = step(
        "age -d", lambda: _age_interop(sealed_path, key_path), lambda digest: f"tar sha256 {digest}"
    )
    rates = {
        name: round(sealed.plaintext_size / timings[name] / 1e6, 1)
        for name in ("seal", "open")
        if timings[name] > 0
    }
    result: dict[str, object] = {
        "status": "ok",
        "outputs": {
            "inputs": str(inputs),
            "identity_file": str(key_path),
            "recipient": str(identity.recipient),
            "sealed": str(sealed.path),
            "checksum": sealed.checksum,
            "opened": str(opened.path),
            "age_interop": interop,
        },
        "sizes": {"plaintext": sealed.plaintext_size, "ciphertext": sealed.ciphertext_size},
        "throughput_mb_s": rates,
        "timings": timings,
    }
    out.result(
        result,
        lambda console: console.print(f"[green]ok[/green]: sealed and opened {inputs} → {opened.path}"),
    )


def _same_tree(left: Path, right: Path) -> bool:
    comparison = filecmp.dircmp(left, right)
    pending = [comparison]
    while pending:
        current = pending.pop()
        if current.left_only or current.right_only or current.funny_files:
            return False
        _, mismatch, errors = filecmp.cmpfiles(
            current.left, current.right, current.common_files, shallow=False
        )
        if mismatch or errors:
            return False
        pending.extend(current.subdirs.values())
    return True
