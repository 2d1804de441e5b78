"""The demos check their own work: a round trip that changed the data, an `age` that cannot open
what we sealed, or a missing example app each stop the demo with its code (through the CLI's entry
point, in this process)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.sealedfiles import open_path
from sealrun.cli import demo, localdemo
from sealrun.cli.main import main


def _error(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--json"])
    assert exited.value.code == 1
    error: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    return error


def test_the_local_demo_passes_as_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--local", "--size-mib", "0", "--workdir", str(tmp_path / "demo"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "ok"
    assert result["outputs"]["age_interop"].startswith("0x")  # age -d opened it


def test_a_round_trip_that_changed_the_data_fails_the_local_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def corrupting(sealed: Path, out: Path, *args: Any, **kwargs: Any) -> Any:
        opened = open_path(sealed, out, *args, **kwargs)
        readme = out / "notes" / "readme.txt"
        readme.write_text(readme.read_text().replace("Private", "Public"))
        return opened

    monkeypatch.setattr(localdemo, "open_path", corrupting)  # the defect the check is there for
    error = _error(capsys, "demo", "--local", "--size-mib", "0", "--workdir", str(tmp_path / "demo"))
    assert error["code"] == "DEMO_MISMATCH"


def test_an_age_that_cannot_open_the_sealed_folder_fails_the_local_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    age = tools / "age"
    age.write_text("#!/bin/sh\necho 'age: no identity matched any of the recipients' >&2\nexit 1\n")
    age.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    error = _error(capsys, "demo", "--local", "--size-mib", "0", "--workdir", str(tmp_path / "demo"))
    assert error["code"] == "DEMO_AGE_INTEROP"


def test_the_full_demo_needs_its_example_app_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "_EXAMPLES", tmp_path / "no-examples")  # an install without examples/
    monkeypatch.delenv("SEALRUN_DEVNET", raising=False)  # the demo drops it from os.environ: restore
    workdir = tmp_path / "demo"
    error = _error(capsys, "demo", "--workdir", str(workdir))
    assert error["code"] == "DEMO_EXAMPLE_MISSING"
    assert [p.name for p in workdir.iterdir()] == [localdemo._MARKER]  # no project, no devnet


def test_the_full_demo_labels_its_simulated_tee(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The devnet's worker is simulated: the demo's result says so (JSON and the human lines)."""
    journey = {"workdir": "w", "devnet": "d", "task_id": "0x01", "status": "COMPLETED", "exit_status": 0,
               "image": "render.png", "timings": {}}  # fmt: skip
    monkeypatch.setattr(demo, "_journey", lambda *args: dict(journey))
    monkeypatch.delenv("SEALRUN_DEVNET", raising=False)
    main(["demo", "--workdir", str(tmp_path / "demo"), "--json"])
    assert json.loads(capsys.readouterr().out)["tee"] == "simulated"
    main(["demo", "--workdir", str(tmp_path / "demo2")])
    assert "TEE: simulated (the devnet's worker: no hardware protection)" in capsys.readouterr().out
