"""Compile the Vyper contracts into the JSON artifacts the chain client loads.

Usage::

    uv run python scripts/compile_contracts.py           # (re)write the artifacts
    uv run python scripts/compile_contracts.py --check   # exit 1 if they are stale

Each of ``Hub.json``, ``Registry.json`` and ``Token.json`` in
``src/sealrun/adapters/chain/artifacts/`` holds ``abi``, ``bytecode`` (deployment code,
0x-hex), ``vyper_version``, ``evm_version`` and ``sources_sha256``: the sha256 over every
``contracts/*.vy`` file (sorted by name, each as ``name NUL content NUL``), so any source
change makes every artifact stale. ``revert_reasons.json`` is written from
:mod:`sealrun.core.orders.reasons`, after checking that the reasons used by the sources and
the table are the same set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "contracts"
ARTIFACTS = REPO / "src" / "sealrun" / "adapters" / "chain" / "artifacts"
DEPLOYABLES = ("Hub", "Registry", "Token")
EVM_VERSION = "prague"
# `assert <condition>, "reason"` on one line, as every contract writes it.
_REASON = re.compile(r'^\s*assert .*, "([^"]+)"\s*$', re.MULTILINE)


def sources_sha256() -> str:
    """Return the sha256 (hex) over every contract source, in name order."""
    digest = hashlib.sha256()
    for path in sorted(CONTRACTS.glob("*.vy")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def source_reasons() -> set[str]:
    """Return every revert reason string the contract sources use."""
    return {match for path in CONTRACTS.glob("*.vy") for match in _REASON.findall(path.read_text())}


def vyper_version() -> str:
    import vyper

    return str(vyper.__version__)


def compile_one(name: str) -> dict[str, Any]:
    """Compile ``contracts/<name>.vy`` and return its artifact."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vyper",
            "--evm-version",
            EVM_VERSION,
            "-p",
            str(CONTRACTS),
            "-f",
            "abi,bytecode",
            str(CONTRACTS / f"{name}.vy"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if result.returncode != 0:
        raise SystemExit(f"vyper failed on {name}.vy:\n{result.stderr}")
    abi_line, bytecode = result.stdout.strip().splitlines()
    return {
        "contract": name,
        "abi": json.loads(abi_line),
        "bytecode": bytecode.strip(),
        "vyper_version": vyper_version(),
        "evm_version": EVM_VERSION,
        "sources_sha256": sources_sha256(),
    }


def reasons_artifact() -> dict[str, Any]:
    """Return the revert reasons table, checked against the sources."""
    from sealrun.core.orders.reasons import REVERT_REASONS

    used, known = source_reasons(), set(REVERT_REASONS)
    if used != known:
        raise SystemExit(
            f"revert reasons out of sync: missing from the table {sorted(used - known)}, "
            f"unused by the contracts {sorted(known - used)}"
        )
    return {
        "sources_sha256": sources_sha256(),
        "reasons": {
            entry.reason: {"code": entry.code, "sentence": entry.sentence, "contract": entry.contract}
            for entry in REVERT_REASONS.values()
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def expected_files() -> dict[str, str]:
    """Return file name -> content of every artifact, freshly built."""
    files = {f"{name}.json": render(compile_one(name)) for name in DEPLOYABLES}
    files["revert_reasons.json"] = render(reasons_artifact())
    return files


def write_atomically(path: Path, content: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the artifacts are stale")
    args = parser.parse_args(argv)
    files = expected_files()
    if args.check:
        stale = [
            name
            for name, content in files.items()
            if not (ARTIFACTS / name).is_file() or (ARTIFACTS / name).read_text() != content
        ]
        if stale:
            print(f"stale artifacts: {', '.join(stale)}; run scripts/compile_contracts.py", file=sys.stderr)
            return 1
        print("artifacts are in sync with contracts/")
        return 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        write_atomically(ARTIFACTS / name, content)
        print(f"wrote {ARTIFACTS.relative_to(REPO) / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
