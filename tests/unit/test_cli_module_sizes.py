"""Every module of the command line stays small: at most 300 lines (ARCHITECTURE.md, the measure)."""

from __future__ import annotations

from pathlib import Path

import sealrun.cli

LIMIT = 300


def test_every_cli_module_is_at_most_300_lines() -> None:
    root = Path(sealrun.cli.__file__).parent
    sizes = {
        path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in root.rglob("*.py")
    }
    assert sizes, root
    too_long = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert not too_long, f"CLI modules over {LIMIT} lines (split by concept): {too_long}"
