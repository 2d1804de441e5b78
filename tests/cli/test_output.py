"""The one human printer (`sealrun.cli.output`): no Python repr, no swallowed markup, ever."""

from __future__ import annotations

import enum
import io
import re
import time
from pathlib import Path

import pytest
from rich.console import Console

from sealrun.cli.output import NOTHING, human_lines, human_value, local_time

TASK = bytes.fromhex("12" * 32)
LOWER = "0x" + "ab" * 20
CHECKSUMMED = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"
NOW = 1_800_000_000


class Colour(enum.IntEnum):
    RED = 1


def _printed(data: dict[str, object]) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=60, highlight=False, soft_wrap=True)
    for line in human_lines(data, now=NOW):
        console.print(line)
    return buffer.getvalue()


def _assert_readable(text: str) -> None:
    for bad in ("b'", 'b"', "{'", "['", "None"):
        assert bad not in text
    for line in text.splitlines():
        if re.fullmatch(r"\s*[^:]+:\s*", line):  # an empty value line, unless a block follows
            assert _is_block(text, line), line


def _is_block(text: str, line: str) -> bool:
    # A label alone on its line is fine only when an indented block follows it.
    lines = text.splitlines()
    following = lines[lines.index(line) + 1 :]
    return bool(following) and following[0].startswith(" " * (len(line) - len(line.lstrip()) + 2))


def test_every_value_type() -> None:
    assert human_value(TASK) == "0x" + "12" * 32
    assert human_value(bytearray(b"\x00\x01")) == "0x0001"
    assert human_value(LOWER) == CHECKSUMMED
    assert human_value(None) == NOTHING
    assert human_value("") == NOTHING
    assert human_value([]) == NOTHING
    assert human_value({}) == NOTHING
    assert human_value(True) == "yes"
    assert human_value(Colour.RED) == "RED"
    assert human_value([TASK, TASK]) == f"0x{'12' * 32}, 0x{'12' * 32}"
    assert human_value({"a": None, "b": b"\x01"}) == "a: (none), b: 0x01"
    assert human_value(Path("/x/y")) == "/x/y"
    assert human_value(7, "volume") == "7"
    assert human_value(NOW - 180, "deadline", now=NOW).endswith("(3 min ago)")
    assert human_value(NOW + 7200, "expires_at", now=NOW).endswith("(in 2 h)")


def test_local_time_is_local_with_age() -> None:
    expected = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(NOW - 5))
    assert local_time(NOW - 5, now=NOW) == f"{expected} (5 s ago)"


def test_markup_in_values_is_printed_not_swallowed() -> None:
    text = _printed({"tasks": [TASK], "params": '{"iexec_args": "[bold]x[/bold]"}', "name": "[red]"})
    assert f"tasks: 0x{'12' * 32}" in text
    assert "[bold]x[/bold]" in text
    assert "name: [red]" in text
    _assert_readable(text)


def test_nested_results_print_as_blocks() -> None:
    text = _printed(
        {
            "services": {"market": "http://127.0.0.1:1", "store": None},
            "signed": [{"hash": TASK, "signer": LOWER}],
            "empty": [],
        }
    )
    assert "services:\n  market: http://127.0.0.1:1\n  store: (none)\n" in text
    assert f"    hash: 0x{'12' * 32}\n    signer: {CHECKSUMMED}\n" in text
    assert "empty: (none)" in text
    _assert_readable(text)


def test_long_values_wrap_instead_of_being_cut() -> None:
    text = _printed({"hash": TASK * 3})
    assert text.replace("\n", "").count("12") >= 96


def test_slow_work_shows_a_spinner_on_a_terminal_and_nothing_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console

    from sealrun.cli import output

    plain = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=plain, force_terminal=False))
    with output.working("unlocking wallet 'default' (scrypt) ..."):
        pass
    assert plain.getvalue() == ""
    terminal = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=terminal, force_terminal=True))
    with output.working("unlocking wallet 'default' (scrypt) ..."):
        pass
    assert "unlocking wallet 'default' (scrypt)" in terminal.getvalue()
