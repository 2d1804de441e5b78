"""A small mutation tester for the security core (no extra dependency).

Each mutant is one small change to one line of a source file, made through ``ast``:

- an arithmetic operator swapped (``+``/``-``, ``*``/``//``, ``<<``/``>>``, ``&``/``|``...);
- a comparison flipped (``<``/``>=``, ``==``/``!=``, ``in``/``not in``, ``is``/``is not``);
- ``and``/``or`` swapped, a ``not`` dropped;
- a constant changed (an integer plus one, ``True``/``False`` swapped);
- a ``raise`` replaced by ``pass``, an ``if`` guard whose body raises never taken;
- a ``return`` of a value returning ``None``.

For each mutant the package's covering test files run (``pytest -x``) against a copy of
``src/`` that holds the mutant (the copy comes first on ``PYTHONPATH``, so the worktree is
never modified). A failing run kills the mutant; a passing one lets it survive. The report
gives the kill rate per package and lists the survivors.

The tests that run first are only those that executed the mutant's line: the unmutated run
of a package's tests records, through ``coverage`` (a dynamic context per test), which test
ran which line. A mutant those tests kill is killed; one they let pass (or a line no test
ran in-process: code run in a subprocess, a service started by a fixture, is not seen) is
run again against all the package's tests, so the verdict is always the full run's, and a
killed mutant costs a few tests instead of all of them (``--no-select`` turns this off).

Most of a short run is starting Python and importing web3, cryptography, FastAPI and the
like. So this process imports, once, the third-party modules the package's tests import (a
probe collects the tests in a subprocess and lists them; never ``sealrun``, the tests, or a
pytest plugin's distribution, which pytest must import itself to rewrite its asserts), and
each mutant's run is a ``fork`` of it that puts the mutated copy first on ``sys.path`` and
calls ``pytest.main`` (``--no-fork`` runs a fresh interpreter per mutant instead).

Usage (from the repository root)::

    uv run --frozen python scripts/mutation.py [PACKAGE ...] [--shard I/N] [--max-mutants N]
        [--changed-since REF] [--list] [--json]

Docstrings, ``__all__``, logging calls and type-checking blocks are not mutated.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

# package -> (source files or folders under src/sealrun, covering test files or folders)
PACKAGES: dict[str, tuple[list[str], list[str]]] = {
    "core/requests": (["core/requests"], ["tests/requests"]),
    "core/sealing": (["core/sealing"], ["tests/sealing"]),
    "core/attestation": (["core/attestation"], ["tests/attestation"]),
    # The release decision (moved out of services/sms/release.py, issue 15) and its parameters.
    "core/releases": (["core/releases"], ["tests/releases"]),
    "services/sms": (
        [
            "services/sms/release.py",
            "services/sms/repository.py",
            "services/sms/audit.py",
            "services/sms/vault.py",
            "services/sms/usecases.py",
            "services/sms/enclaveseal.py",
        ],
        ["tests/sms"],
    ),
    "enclave": (
        ["enclave/secrets.py", "enclave/smssecrets.py", "enclave/envelopes.py", "enclave/fetching.py"],
        ["tests/enclave"],
    ),
    "adapters/sandbox": (["adapters/sandbox"], ["tests/sandbox"]),
    "services/store": (["services/store"], ["tests/store/test_api.py", "tests/store/test_tokens.py"]),
}

_BINARY_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitOr, ast.Pow: ast.Mult,
}  # fmt: skip
_COMPARE_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    """One change: the ``index``-th mutation site of ``path`` (relative to the repository)."""

    package: str
    path: str
    index: int
    line: int
    description: str


@dataclass
class Outcome:
    """What the covering tests made of one mutant."""

    mutant: Mutant
    killed: bool
    reason: str
    seconds: float


def _skipped_lines(tree: ast.Module) -> set[int]:
    """Lines never mutated: docstrings, ``__all__``, logging calls, ``TYPE_CHECKING`` blocks."""
    lines: set[int] = set()

    def span(node: ast.AST) -> None:
        lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))  # type: ignore[attr-defined]

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                span(body[0])
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            span(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            span(node)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("log", "logger", "logging")
        ):
            span(node)
    return lines


def _raises(body: list[ast.stmt]) -> bool:
    return any(isinstance(statement, ast.Raise) for statement in body)


class _Sites(ast.NodeTransformer):
    """Walks a module; counts mutation sites and applies the one numbered ``target``."""

    def __init__(self, skipped: set[int], target: int = -1) -> None:
        self.skipped = skipped
        self.target = target
        self.count = 0
        self.found: list[tuple[int, str]] = []
        self.applied = False

    def _site(self, node: ast.AST, description: str) -> bool:
        line = getattr(node, "lineno", 0)
        if line in self.skipped:
            return False
        index = self.count
        self.count += 1
        self.found.append((line, description))
        if index == self.target:
            self.applied = True
            return True
        return False

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BINARY_SWAPS.get(type(node.op))
        if swap is not None and self._site(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for position, op in enumerate(node.ops):
            flip = _COMPARE_FLIPS.get(type(op))
            if flip is not None and self._site(node, f"{type(op).__name__} -> {flip.__name__}"):
                node.ops[position] = flip()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._site(node, f"{type(node.op).__name__} -> {other.__name__}"):
            node.op = other()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, "not dropped"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int) and self._site(node, f"{value} -> {value + 1}"):
            return ast.copy_location(ast.Constant(value + 1), node)
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        self.generic_visit(node)
        if self._site(node, "raise -> pass"):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        if _raises(node.body) and self._site(node, "guard never taken"):
            node.test = ast.copy_location(ast.Constant(False), node.test)
        self.generic_visit(node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if (
            node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
            and self._site(node, "return None")
        ):
            node.value = None
        return node

    # Annotations are not behaviour: never mutate inside them.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.body = [self.visit(statement) for statement in node.body]
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [None if d is None else self.visit(d) for d in node.args.kw_defaults]
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]  # noqa: N815


def _sources(package: str) -> list[Path]:
    files: list[Path] = []
    for entry in PACKAGES[package][0]:
        path = SRC / "sealrun" / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if "migrations" not in f.parts and f.name != "__main__.py"]


def _changed_lines(ref: str) -> dict[str, set[int]]:
    """Lines added or changed since ``ref``, per file (relative to the repository)."""
    diff = subprocess.run(
        ["git", "diff", "--unified=0", ref, "--", "src"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    changed: dict[str, set[int]] = {}
    current = ""
    for line in diff.splitlines():
        if line.startswith("+++ b/"):
            current = line[6:]
        elif line.startswith("@@") and current:
            added = line.split("+", 1)[1].split(" ", 1)[0]
            start, _, count = added.partition(",")
            length = int(count) if count else 1
            changed.setdefault(current, set()).update(range(int(start), int(start) + length))
    return changed


def mutants(packages: list[str], changed: dict[str, set[int]] | None) -> Iterator[Mutant]:
    """Every mutant of the packages (only those on changed lines when ``changed`` is given)."""
    for package in packages:
        for source in _sources(package):
            relative = str(source.relative_to(REPO))
            if changed is not None and relative not in changed:
                continue
            tree = ast.parse(source.read_text(encoding="utf-8"))
            sites = _Sites(_skipped_lines(tree))
            sites.visit(tree)
            for index, (line, description) in enumerate(sites.found):
                if changed is None or line in changed[relative]:
                    yield Mutant(package, relative, index, line, description)


def mutated_source(mutant: Mutant) -> str:
    """The source of the mutant's file with the mutant applied."""
    original = (REPO / mutant.path).read_text(encoding="utf-8")
    tree = ast.parse(original)
    sites = _Sites(_skipped_lines(tree), target=mutant.index)
    tree = ast.fix_missing_locations(sites.visit(tree))
    if not sites.applied:
        raise RuntimeError(f"mutant {mutant} not found")
    return ast.unparse(tree)


# A pytest plugin written into the scratch copy (on PYTHONPATH) for the unmutated run: one
# coverage context per test (its node id), set before its setup so fixtures count, and only
# the package's files measured.
_COVERAGE_PLUGIN = """
import json, os
import coverage
import pytest

_cov = coverage.Coverage(
    data_file=os.environ["SEALRUN_MUTATION_COVERAGE"],
    include=json.loads(os.environ["SEALRUN_MUTATION_INCLUDE"]),
)
_cov.start()

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _cov.switch_context(item.nodeid)
    yield
    _cov.switch_context("")

def pytest_unconfigure(config):
    _cov.stop()
    _cov.save()
"""
_PLUGIN = "sealrun_mutation_coverage"


_PROBE = """
import json, sys
import pytest
pytest.main(["-q", "--co", "-p", "no:cacheprovider", *sys.argv[1:]])
print(json.dumps(sorted(sys.modules)))
"""


def _plugin_top_levels() -> set[str]:
    """Top-level names of the distributions that register a pytest plugin (pytest11)."""
    from importlib.metadata import distributions

    names: set[str] = set()
    for dist in distributions():
        if not any(entry.group == "pytest11" for entry in dist.entry_points):
            continue
        for file in dist.files or []:
            top = file.parts[0] if file.parts else ""
            if top.endswith(".py"):
                names.add(top[:-3])
            elif len(file.parts) > 1 and not top.endswith((".dist-info", ".data", ".pth")):
                names.add(top)
    return names


def preload(tests: list[str], copy: Path) -> int:
    """Import here the third-party modules that collecting ``tests`` imports; how many."""
    environment = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *tests], cwd=REPO, env=environment, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    lines = probe.stdout.strip().splitlines()
    if probe.returncode != 0 or not lines:
        return 0
    skipped = _plugin_top_levels() | {"sealrun", "tests", "conftest", "__main__", _PLUGIN}
    loaded = 0
    for name in json.loads(lines[-1]):
        if name.split(".")[0] in skipped or name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 (a module that fails here is imported by the run itself)
            continue
        loaded += 1
    return loaded


def _forked_pytest(arguments: list[str], copy: Path, timeout: float) -> tuple[int | None, float]:
    """Run ``pytest.main(arguments)`` in a fork of this (pre-loaded) process."""
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setpgrp()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.environ.update({"PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"})
            sys.path.insert(0, str(copy))
            os.chdir(REPO)
            import pytest

            code = int(pytest.main(arguments))
        finally:
            os._exit(code)
    deadline = began + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - began
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.monotonic() - began
        time.sleep(0.02)


def _pytest(
    tests: list[str],
    copy: Path,
    timeout: float,
    extra_env: dict[str, str] | None = None,
    *,
    fork: bool = False,
) -> tuple[int | None, float]:
    plugin = ["-p", _PLUGIN] if extra_env else []
    arguments = ["-x", "-q", "-p", "no:cacheprovider", *plugin, "-m", "not e2e", *tests]
    if fork and not extra_env:
        # A pre-loaded module may have imported a pytest plugin's package (httpx imports anyio):
        # pytest then warns that it cannot rewrite its asserts, and ``filterwarnings = error``
        # would make that warning the run's failure (exit 3) before any test ran.
        return _forked_pytest(["-W", "ignore::pytest.PytestAssertRewriteWarning", *arguments], copy, timeout)
    environment = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1", **(extra_env or {})}
    command = [sys.executable, "-m", "pytest", *arguments]
    began = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=REPO, env=environment, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - began
    return done.returncode, time.monotonic() - began


#: per source file (path relative to the repository): line -> node ids of the tests that ran it
LineTests = dict[str, dict[int, list[str]]]


def _fork_runs(tests: list[str], copy: Path) -> bool:
    """Whether the package's tests pass unmutated in a fork (else a fork's failure says nothing).

    A pre-loaded module can leave state a test trips on in the fork (seen: an asyncio task
    that anyio cannot name); every mutant would then be "killed" by a failure of the fork.
    """
    code, _ = _pytest(tests, copy, timeout=3600, fork=True)
    if code != 0:
        print(f"# the tests exit {code} unmutated in a fork: a fresh interpreter per run", file=sys.stderr)
    return code == 0


def _line_tests(data_file: Path, copy: Path) -> LineTests:
    """Read the unmutated run's coverage contexts back as line -> tests, per file."""
    import coverage  # a dev dependency, only needed when running mutants

    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    found: LineTests = {}
    for measured in data.measured_files():
        relative = "src/" + str(Path(measured).relative_to(copy))
        by_line = data.contexts_by_lineno(measured)
        found[relative] = {line: sorted(c for c in contexts if c) for line, contexts in by_line.items()}
    return found


def _baseline(package: str, copy: Path, *, select: bool) -> tuple[float, LineTests]:
    """Run the package's tests unmutated (recording who runs which line when ``select``)."""
    tests = PACKAGES[package][1]
    extra: dict[str, str] | None = None
    data_file = copy.parent / f"coverage-{package.replace('/', '-')}"
    if select:
        include = [str(copy / path.relative_to(SRC)) for path in _sources(package)]
        extra = {"SEALRUN_MUTATION_COVERAGE": str(data_file), "SEALRUN_MUTATION_INCLUDE": json.dumps(include)}
    code, seconds = _pytest(tests, copy, timeout=3600, extra_env=extra)
    if code != 0:
        raise SystemExit(f"the tests of {package} fail without any mutant (exit {code})")
    return seconds, (_line_tests(data_file, copy) if select else {})


def run(selected: list[Mutant], *, log: bool, select: bool = True, fork: bool = True) -> list[Outcome]:
    """Run each mutant's covering tests against a mutated copy of ``src``."""
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="sealrun-mutation-") as scratch:
        copy = Path(scratch) / "src"
        shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
        (copy / f"{_PLUGIN}.py").write_text(_COVERAGE_PLUGIN, encoding="utf-8")
        baselines: dict[str, float] = {}
        line_tests: LineTests = {}
        for mutant in selected:
            tests = PACKAGES[mutant.package][1]
            if mutant.package not in baselines:
                baselines[mutant.package], found = _baseline(mutant.package, copy, select=select)
                line_tests.update(found)
                loaded = preload(tests, copy) if fork else 0
                # fork() copies one thread: a module that started others would leave them behind.
                fork = fork and threading.active_count() == 1
                if fork and not _fork_runs(tests, copy):
                    fork = False  # a run that fails unmutated would "kill" every mutant
                if log:
                    print(f"# {mutant.package}: tests pass unmutated in {baselines[mutant.package]:.0f} s; "
                          f"{loaded} modules pre-loaded; {'fork' if fork else 'a fresh interpreter'} per run",
                          file=sys.stderr)  # fmt: skip
            target = copy / mutant.path.removeprefix("src/")
            original = target.read_text(encoding="utf-8")
            timeout = max(60.0, 3 * baselines[mutant.package])
            covering = line_tests.get(mutant.path, {}).get(mutant.line, [])
            try:
                target.write_text(mutated_source(mutant), encoding="utf-8")
                code, seconds = _pytest(covering, copy, timeout=timeout, fork=fork) if covering else (0, 0.0)
                # Only "tests failed" (1) or a timeout is a verdict: a usage error (4) from an odd
                # node id, or no test collected (5), says nothing; the full run decides then.
                if code not in (1, None):
                    code, more = _pytest(tests, copy, timeout=timeout, fork=fork)
                    seconds += more
            finally:
                target.write_text(original, encoding="utf-8")
            if code not in (0, 1, None):
                # Not a verdict (an internal error, a usage error, nothing collected): counting it
                # as a kill would report mutants killed that no test ever saw.
                raise SystemExit(
                    f"{mutant.path}:{mutant.line}: the package's tests exited {code}; no verdict"
                )
            reason = "timeout" if code is None else ("survived" if code == 0 else f"exit {code}")
            outcome = Outcome(mutant, killed=code != 0, reason=reason, seconds=seconds)
            outcomes.append(outcome)
            if log:
                mark = "killed  " if outcome.killed else "SURVIVED"
                print(
                    f"{mark} {mutant.path}:{mutant.line} {mutant.description} ({seconds:.0f} s)",
                    file=sys.stderr,
                )
    return outcomes


def report(outcomes: list[Outcome]) -> dict[str, object]:
    """Kill rate per package and the survivors."""
    packages: dict[str, dict[str, object]] = {}
    for outcome in outcomes:
        entry = packages.setdefault(outcome.mutant.package, {"mutants": 0, "killed": 0, "survivors": []})
        entry["mutants"] = int(entry["mutants"]) + 1  # type: ignore[call-overload]
        if outcome.killed:
            entry["killed"] = int(entry["killed"]) + 1  # type: ignore[call-overload]
        else:
            survivors = entry["survivors"]
            assert isinstance(survivors, list)
            survivors.append(f"{outcome.mutant.path}:{outcome.mutant.line} {outcome.mutant.description}")
    for entry in packages.values():
        mutants_, killed = int(entry["mutants"]), int(entry["killed"])  # type: ignore[call-overload]
        entry["kill_rate"] = round(100.0 * killed / mutants_, 1) if mutants_ else 100.0
    return {"packages": packages, "seconds": round(sum(o.seconds for o in outcomes))}


def main(argv: list[str] | None = None) -> int:
    """Select, run and report mutants; exit 1 when a package is under ``--fail-under``."""
    parser = argparse.ArgumentParser(prog="scripts/mutation.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES), metavar="PACKAGE")
    parser.add_argument("--shard", default="1/1", help="run the I-th of N interleaved shards (I/N)")
    parser.add_argument("--max-mutants", type=int, default=0, help="a seeded sample of at most N mutants")
    parser.add_argument("--changed-since", metavar="REF", help="only mutants on lines changed since REF")
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 if a package kills less (%%)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--no-select", action="store_true", help="run all the package's tests for every mutant (no coverage)"
    )
    parser.add_argument("--no-fork", action="store_true", help="a fresh interpreter per run (no pre-loading)")
    args = parser.parse_args(argv)
    for package in args.packages:
        if package not in PACKAGES:
            parser.error(f"unknown package {package!r}; known: {', '.join(PACKAGES)}")
    number, _, total = args.shard.partition("/")
    shard, shards = int(number), int(total or 1)
    if not 1 <= shard <= shards:
        parser.error("--shard must be I/N with 1 <= I <= N")
    changed = _changed_lines(args.changed_since) if args.changed_since else None
    selected = list(mutants(args.packages, changed))
    if args.max_mutants and len(selected) > args.max_mutants:
        selected = sorted(
            random.Random(16).sample(  # noqa: S311 (a reproducible sample, not a secret)
                selected, args.max_mutants
            ),
            key=lambda m: (m.path, m.index),
        )
    selected = selected[shard - 1 :: shards]
    if args.list:
        for mutant in selected:
            print(
                json.dumps(asdict(mutant))
                if args.json
                else f"{mutant.path}:{mutant.line} {mutant.description}"
            )
        return 0
    result = report(run(selected, log=not args.json, select=not args.no_select, fork=not args.no_fork))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for package, entry in result["packages"].items():  # type: ignore[attr-defined]
            print(f"{package}: {entry['killed']}/{entry['mutants']} killed ({entry['kill_rate']}%)")
            for survivor in entry["survivors"]:
                print(f"  survived: {survivor}")
        print(f"({result['seconds']} s of tests)")
    low = [p for p, e in result["packages"].items() if e["kill_rate"] < args.fail_under]  # type: ignore[attr-defined]
    return 1 if low else 0


if __name__ == "__main__":
    raise SystemExit(main())
