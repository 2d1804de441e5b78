"""The event reader's file checkpoint: a damaged file stops the reader instead of rereading from 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.adapters.chain.events import FileCheckpoint
from sealrun.errors import ChainError


@pytest.mark.parametrize("content", ["{half a", "[1, 2]", '"block"', "\xff"])
def test_a_damaged_checkpoint_file_is_an_error_not_a_fresh_start(tmp_path: Path, content: str) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_text(content, encoding="latin-1")
    checkpoint = FileCheckpoint(path)
    with pytest.raises(ChainError) as loaded:
        checkpoint.load("deals")
    with pytest.raises(ChainError) as saved:
        checkpoint.save("deals", 7)
    assert loaded.value.code == saved.value.code == "CHAIN_CHECKPOINT"
    assert path.read_text(encoding="latin-1") == content  # not overwritten with a guess


def test_a_folder_in_the_way_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.json").mkdir()
    with pytest.raises(ChainError) as caught:
        FileCheckpoint(tmp_path / "checkpoint.json").load("deals")
    assert caught.value.code == "CHAIN_CHECKPOINT"


def test_a_missing_file_is_a_fresh_start_and_saves_round_trip(tmp_path: Path) -> None:
    checkpoint = FileCheckpoint(tmp_path / "sub" / "checkpoint.json")
    assert checkpoint.load("deals") is None
    checkpoint.save("deals", 7)
    checkpoint.save("orders", 9)
    assert (checkpoint.load("deals"), checkpoint.load("orders")) == (7, 9)
