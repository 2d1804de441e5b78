"""The one place where the CLI turns results and errors into text.

Every command takes ``--json``; with it, the command prints exactly one JSON document on
stdout (the result, or ``{"error": {"code", "message"}}``) and nothing else, so scripts can
parse it. Without it, results are rendered for humans with Rich. Errors are one line,
``error [CODE]: message``, on stderr, and the exit status is non-zero.

Exit statuses (README.md, "Exit statuses"): 0 success; 1 an error; 2 a usage error (bad
options); 3 the task a command waited for ended FAILED (or was CLAIMED: refunded without a
result); 4 the wait for a task timed out. With 3 and 4, ``--json`` still prints the whole
result document (the task, its failure, its steps).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sealrun.errors import SealrunError

__all__ = [
    "EXIT_ERROR",
    "EXIT_TASK_FAILED",
    "EXIT_TIMED_OUT",
    "EXIT_USAGE",
    "JSON_OPTION",
    "Output",
    "fail",
]

EXIT_ERROR = 1
EXIT_USAGE = 2
#: The task a command waited for ended FAILED or CLAIMED.
EXIT_TASK_FAILED = 3
#: The wait for a task ran out (``--timeout``).
EXIT_TIMED_OUT = 4
#: Errors that mean one of the statuses above rather than a plain error.
_EXIT_BY_CODE = {"TASK_WATCH_TIMEOUT": EXIT_TIMED_OUT}

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document for scripts.")

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _default(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class Output:
    """Renders one command's result as JSON or as text.

    Args:
        as_json: whether the user asked for ``--json``.
    """

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def result(self, data: Mapping[str, Any], human: Callable[[Console], None] | None = None) -> None:
        """Print the command's result: JSON as-is, or through ``human`` (default: key: value lines)."""
        if self.as_json:
            sys.stdout.write(json.dumps(data, default=_default, sort_keys=True) + "\n")
            sys.stdout.flush()
            return
        if human is not None:
            human(stdout)
            return
        for key, value in data.items():
            stdout.print(f"[bold]{key}[/bold]: {value}")

    def info(self, message: str) -> None:
        """A progress line for humans (silent under ``--json``)."""
        if not self.as_json:
            stderr.print(message)

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask before spending; ``--yes`` answers for the user. Refusal exits non-zero."""
        if yes:
            return
        if self.as_json or not sys.stdin.isatty():
            raise SealrunError(
                f"{question} Refusing without confirmation: pass --yes to proceed non-interactively.",
                code="CONFIRMATION_REQUIRED",
            )
        if not typer.confirm(question, default=False, err=True):
            raise SealrunError("Cancelled by the user.", code="CANCELLED")

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A byte progress bar on stderr; yields ``advance(n)``. Silent under ``--json``."""
        if self.as_json or not stderr.is_terminal:
            yield lambda _n: None
            return
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


def fail(error: SealrunError, *, as_json: bool) -> NoReturn:
    """Report ``error`` in one line (or one JSON document) and exit non-zero (4 for a timeout)."""
    if as_json:
        payload = {"error": {"code": error.code, "message": error.message}}
        sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
        sys.stdout.flush()
    else:
        stderr.print(f"[bold red]error[/bold red] [{error.code}]: {error.message}", markup=True)
    raise SystemExit(_EXIT_BY_CODE.get(error.code, EXIT_ERROR))
