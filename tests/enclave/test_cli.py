"""``sealrun app init|fingerprint|test`` as a user runs them.

The main paths run the real ``sealrun`` executable; the many bad-input cases call the same
entry point (:func:`sealrun.cli.main.main`) in-process, because each CLI start costs seconds
on a loaded machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.cli.main import main
from tests.enclave.conftest import COMPUTED

SEALRUN = Path(sys.executable).with_name("sealrun")


def sealrun(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALRUN, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def in_process(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, object]]:
    try:
        main([*map(str, args), "--json"])
        status = 0
    except SystemExit as exited:
        status = int(exited.code or 0)
    return status, json.loads(capsys.readouterr().out)


def test_init_then_test_an_app(work_root: Path) -> None:
    bundle = work_root / "myapp"
    made = sealrun("app", "init", bundle, "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["name"] == "myapp"
    assert created["fingerprint"] == load_bundle(bundle).fingerprint_hex

    words = work_root / "words.txt"
    words.write_text("one two three\n")
    out = work_root / "out"
    ran = sealrun("app", "test", bundle, "--input", words, "--args", "x 'y z'", "--out", out)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "completed" in ran.stdout
    assert "dataset words.txt: 3 words" in ran.stdout
    assert (out / "output" / "result.txt").read_text() == (
        "args: x y z\ndataset words.txt: 3 words\nrequester secret 1: not set\napp secret: not set\n"
    )
    assert (out / "output" / "computed.json").is_file()
    assert (out / "logs" / "stdout.log").is_file()


def test_a_failing_app_exits_1_and_shows_its_failure(work_root: Path) -> None:
    bundle = work_root / "bad"
    bundle.mkdir()
    (bundle / "sealrun-app.toml").write_text(
        '[app]\nname = "bad"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (bundle / "app.py").write_text("import sys\nprint('boom', file=sys.stderr)\nsys.exit(2)\n")
    ran = sealrun("app", "test", bundle, "--out", work_root / "out", "--json")
    assert ran.returncode == 1
    result = json.loads(ran.stdout)
    assert result["status"] == "failed"
    assert result["failure"] == "APP_EXIT_NONZERO"
    assert result["exit_status"] == 2
    assert result["stderr"] == "boom\n"
    missing = sealrun("app", "fingerprint", work_root / "nope")
    assert missing.returncode == 1
    assert "BUNDLE_NOT_FOUND" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_fingerprint_and_secrets_in_process(work_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = work_root / "sec"
    assert in_process(capsys, "app", "init", bundle)[0] == 0
    status, measured = in_process(capsys, "app", "fingerprint", bundle)
    assert status == 0
    assert measured["fingerprint"] == load_bundle(bundle).fingerprint_hex
    (bundle / "sealrun-app.toml").write_text(
        '[app]\nname = "sec"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (bundle / "app.py").write_text(
        "import os\nprint(os.environ['IEXEC_REQUESTER_SECRET_1'], os.environ['IEXEC_APP_DEVELOPER_SECRET'])\n"
        + COMPUTED
    )
    status, ran = in_process(capsys, "app", "test", bundle, "--secret", "1=abc=def", "--app-secret", "dev")
    assert status == 0
    assert ran["stdout"] == "abc=def dev\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("app", "fingerprint", "{root}/nope"), "BUNDLE_NOT_FOUND"),
        (("app", "init", "{root}/b"), "OUTPUT_EXISTS"),
        (("app", "init", "{root}/other", "--name", "bad name!"), "MANIFEST_INVALID"),
        (("app", "test", "{root}/b", "--secret", "zero=1"), "CONFIG_INVALID"),
        (("app", "test", "{root}/b", "--input", "{root}/absent"), "FILE_NOT_FOUND"),
        (("app", "test", "{root}/b", "--out", "{root}"), "OUTPUT_EXISTS"),
        (("app", "fingerprint", "{root}/broken"), "MANIFEST_INVALID"),
    ],
)
def test_bad_input_is_one_clear_error(
    work_root: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: str
) -> None:
    (work_root / "b").mkdir()
    (work_root / "b" / "sealrun-app.toml").write_text(
        '[app]\nname = "b"\nentrypoint = ["true"]\nruntime = "native"\n'
    )
    (work_root / "broken").mkdir()
    (work_root / "broken" / "sealrun-app.toml").write_text("[app]\nname = 1\n")
    status, answer = in_process(capsys, *(a.format(root=work_root) for a in args))
    assert status == 1
    assert answer["error"]["code"] == code  # type: ignore[index]
