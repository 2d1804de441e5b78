"""Run a Python snippet as a hostile app inside the bubblewrap sandbox."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sealrun.adapters.sandbox import BubblewrapSandbox, SandboxLimits, SandboxOutcome, SandboxSpec


@dataclass(frozen=True)
class Ran:
    """A finished sandboxed run: its outcome, its logs and its folders on the host."""

    outcome: SandboxOutcome
    stdout: str
    stderr: str
    output_dir: Path
    input_dir: Path


@pytest.fixture
def run_app(work_root: Path) -> Callable[..., Ran]:
    """Run ``code`` with ``python3 app.py`` under the given limits.

    ``sandbox`` runs it in that sandbox (default: one shared by the test), ``input_dir``
    gives it that folder as its inputs instead of a fresh one.
    """
    default = BubblewrapSandbox()
    counter = iter(range(1000))

    def run(
        code: str,
        *,
        limits: SandboxLimits | None = None,
        env: dict[str, str] | None = None,
        sandbox: BubblewrapSandbox | None = None,
        input_dir: Path | None = None,
    ) -> Ran:
        sandbox = sandbox or default
        base = work_root / f"run-{next(counter)}"
        for name in ("app", "in"):
            (base / name).mkdir(parents=True)
            (base / name).chmod(0o755)
        base.chmod(0o711)
        (base / "app" / "app.py").write_text(textwrap.dedent(code))
        (base / "app" / "app.py").chmod(0o644)
        (base / "in" / "input.txt").write_text("input data\n")
        (base / "in" / "input.txt").chmod(0o644)
        sandbox.prepare_output(base / "out")
        spec = SandboxSpec(
            argv=("python3", "app.py"),
            bundle_dir=base / "app",
            input_dir=input_dir or base / "in",
            output_dir=base / "out",
            stdout_path=base / "stdout.log",
            stderr_path=base / "stderr.log",
            env=env or {},
            limits=limits or SandboxLimits(wall_time_s=60),
        )
        outcome = sandbox.run(spec)
        return Ran(
            outcome,
            spec.stdout_path.read_text(errors="replace"),
            spec.stderr_path.read_text(errors="replace"),
            base / "out",
            base / "in",
        )

    return run
