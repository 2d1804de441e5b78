"""`sealrun --help` and every command's `--help` start without the heavy libraries.

Timing is noisy on a shared machine, so these tests guard the cause instead of the clock:
the modules a help screen imports (read from ``sys.modules`` in a fresh interpreter).
``benchmarks/cli_startup.py`` measures the CPU seconds themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from sealrun.cli.main import _COMMANDS, cli

# What a help screen must never load: the chain stack, the services' web stack, the database.
HEAVY = ("web3", "eth_account", "eth_utils", "eth_abi", "fastapi", "sqlalchemy", "uvicorn", "boa")

# Runs each command line (a JSON list of argument lists) in turn in one fresh interpreter and
# reports every module loaded: the union over all help screens must stay light.
_PROBE = """
import json, sys
from sealrun.cli.main import main
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit:
        pass
sys.stderr.write("\\nMODULES" + json.dumps(sorted(sys.modules)))
"""


def _modules(*commands: list[str]) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    _, _, listed = done.stderr.rpartition("MODULES")
    return done.stdout, set(json.loads(listed))


def _roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_root_help_loads_no_command_and_no_rich() -> None:
    stdout, modules = _modules(["--help"])
    assert "task         Tasks: status, sealed logs and deadline claims." in stdout
    assert _roots(modules).isdisjoint((*HEAVY, "typer", "rich")), sorted(_roots(modules))
    assert {name for name in modules if name.startswith("sealrun.cli.")} == {"sealrun.cli.main"}


def test_version() -> None:
    stdout, modules = _modules(["--version"])
    assert stdout.strip().startswith("sealrun ")
    assert stdout.strip() != "sealrun unknown"
    assert _roots(modules).isdisjoint(HEAVY)


def test_every_command_help_is_light() -> None:
    paths = []
    for noun in sorted(_COMMANDS):
        group = cli.get_command(click.Context(cli), noun)
        paths.append([noun])
        if isinstance(group, click.Group):
            paths += [[noun, name] for name in group.list_commands(click.Context(group))]
    stdout, modules = _modules(*([*path, "--help"] for path in paths))
    for path in paths:
        assert "Usage: sealrun " + " ".join(path) in stdout, path
    assert _roots(modules).isdisjoint(HEAVY), sorted(_roots(modules) & set(HEAVY))


@pytest.mark.parametrize("noun", sorted(_COMMANDS))
def test_root_summaries_are_the_commands_own(noun: str) -> None:
    command = cli.get_command(click.Context(cli), noun)
    assert command is not None
    assert _COMMANDS[noun].summary == command.get_short_help_str(limit=1000)
