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
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from sealrun.errors import SealrunError, UsageError

__all__ = [
    "EXIT_ERROR",
    "EXIT_TASK_FAILED",
    "EXIT_TIMED_OUT",
    "EXIT_USAGE",
    "JSON_OPTION",
    "Output",
    "fail",
    "human_lines",
    "human_value",
    "local_time",
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


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner on stderr while something slow runs (scrypt, a deployment); nothing when
    stderr is not a terminal, so scripts and ``--json`` readers see only their output."""
    if not stderr.is_terminal:
        yield
        return
    with stderr.status(escape(message)):
        yield


def _default(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
# Integer fields that hold Unix times (seconds): shown as local time with their age.
_TIME_KEYS = re.compile(r"(^|_)(deadline|timestamp|time|expires?|created|updated|started|ended)$|_at$")
NOTHING = "(none)"


def local_time(seconds: float, *, now: float | None = None) -> str:
    """``2026-12-07 14:03:11 (3 min ago)``: a Unix time in the local zone, with its age."""
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    delta = round(now - seconds)
    ahead = delta < 0
    delta = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if delta >= size or size == 1:
            amount = f"{delta // size} {unit}"
            break
    return f"{stamp} (in {amount})" if ahead else f"{stamp} ({amount} ago)"


def human_value(value: object, key: str = "", *, now: float | None = None) -> str:  # noqa: PLR0911 (one return per value type)
    """One value as a person reads it (plain text: escape it before printing as markup).

    Bytes become ``0x``-hex, addresses their EIP-55 checksum, Unix times under a time-like key
    local time with age, ``None`` and empty values ``(none)``, enums their name, lists a comma
    list; never a Python repr.
    """
    if value is None or value in ("", [], {}):
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, Enum):
        return str(value.name)
    if isinstance(value, int) and _TIME_KEYS.search(key.lower()) and 10**9 <= value < 10**11:
        return local_time(value, now=now)
    if isinstance(value, str) and _ADDRESS.fullmatch(value):
        from sealrun.core.tasks.keccak import checksum_address

        return checksum_address(bytes.fromhex(value[2:]))
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {human_value(v, str(k), now=now)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(human_value(item, key, now=now) for item in value)
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def human_lines(data: Mapping[str, Any], *, indent: int = 0, now: float | None = None) -> list[str]:
    """``key: value`` lines (Rich markup, values escaped); nested mappings and lists of mappings
    become indented blocks, so no dict or list repr ever shows."""
    pad = "  " * indent
    lines: list[str] = []
    for key, value in data.items():
        label = f"{pad}[bold]{escape(str(key))}[/bold]:"
        if isinstance(value, Mapping) and value:
            lines.append(label)
            lines += human_lines(value, indent=indent + 1, now=now)
        elif isinstance(value, list | tuple) and value and any(isinstance(v, Mapping) for v in value):
            lines.append(label)
            for number, item in enumerate(value, 1):
                if isinstance(item, Mapping):
                    lines.append(f"{pad}  [dim]{number}.[/dim]")
                    lines += human_lines(item, indent=indent + 2, now=now)
                else:
                    lines.append(f"{pad}  {escape(human_value(item, str(key), now=now))}")
        else:
            lines.append(f"{label} {escape(human_value(value, str(key), now=now))}")
    return lines


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
        for line in human_lines(data):
            stdout.print(line)

    def info(self, message: str) -> None:
        """A progress line for humans (silent under ``--json``)."""
        if not self.as_json:
            stderr.print(message)

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask before spending; ``--yes`` answers for the user. Refusal exits non-zero."""
        if yes:
            return
        if self.as_json or not sys.stdin.isatty():
            raise UsageError(
                f"{question} Refusing without confirmation: pass --yes to proceed non-interactively.",
                code="CONFIRMATION_REQUIRED",
            )
        if not typer.confirm(question, default=False, err=True):
            raise UsageError("Cancelled by the user.", code="CANCELLED")

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A byte progress bar on stderr; yields ``advance(n)``. Silent under ``--json``."""
        if self.as_json or not stderr.is_terminal:
            yield lambda _n: None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

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
