"""``sealrun app init --template python|node|shell`` gives an app that ``sealrun app test``
passes out of the box, with its test inputs, a secret and the app secret (issue 14)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sealrun.adapters.bundlefiles import load_bundle

EXPECTED = (
    "args: hello world\n"
    "dataset dataset.txt: 17 words\n"
    "input file 1 input.txt: 20 bytes\n"
    "requester secret 1: set\n"
    "app secret: set\n"
)


def sealrun(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("sealrun")), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=cwd)


@pytest.mark.parametrize("template", ["python", "node", "shell"])
def test_each_template_passes_app_test_out_of_the_box(work_root: Path, template: str) -> None:
    if template == "node" and shutil.which("node") is None:
        pytest.skip("node is not installed")
    app = work_root / f"my-{template}-app"
    made = sealrun("app", "init", app, "--template", template, "--json", cwd=work_root)
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["template"] == template
    assert created["fingerprint"] == load_bundle(app).fingerprint_hex
    readme = (app / "README.md").read_text()
    for command in ("sealrun app test .", "sealrun app deploy .", "sealrun app run 0xAPP"):
        assert command in readme
    # The README's first command, as written there (secret values aside).
    ran = sealrun(
        "app", "test", ".", "--input", "test-input/dataset.txt", "--input-file", "test-input/input.txt",
        "--args", "hello world", "--secret", "1=a-requester-secret", "--app-secret", "an-app-secret",
        "--out", work_root / "out", "--json", cwd=app,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(ran.stdout)
    assert (result["status"], result["failure"]) == ("completed", None)
    assert result["output_files"] == ["computed.json", "result.txt"]
    assert (work_root / "out" / "output" / "result.txt").read_text() == EXPECTED
    computed = json.loads((work_root / "out" / "output" / "computed.json").read_text())
    assert computed == {"deterministic-output-path": "/iexec_out/result.txt"}
    assert "a-requester-secret" not in result["stdout"] + result["stderr"]
    assert "an-app-secret" not in result["stdout"] + result["stderr"]


def test_init_refuses_an_unknown_template_and_existing_files(work_root: Path) -> None:
    unknown = sealrun("app", "init", work_root / "x", "--template", "cobol", cwd=work_root)
    assert unknown.returncode == 1
    assert "error [CONFIG_INVALID]: --template 'cobol': expected one of python, node, shell" in unknown.stderr
    assert not (work_root / "x").exists()
    (work_root / "y" / "test-input").mkdir(parents=True)
    (work_root / "y" / "test-input" / "input.txt").write_text("mine")
    taken = sealrun("app", "init", work_root / "y", "--template", "node", cwd=work_root)
    assert taken.returncode == 1
    assert "OUTPUT_EXISTS" in taken.stderr
    assert sorted(p.name for p in (work_root / "y").rglob("*")) == [
        "input.txt",
        "test-input",
    ]  # nothing written
    assert (work_root / "y" / "test-input" / "input.txt").read_text() == "mine"


def test_an_app_without_computed_json_fails_app_test_with_its_code(work_root: Path) -> None:
    app = work_root / "forgetful"
    app.mkdir()
    (app / "sealrun-app.toml").write_text(
        '[app]\nname = "forgetful"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (app / "app.py").write_text("import os\nopen(os.environ['IEXEC_OUT'] + '/result.txt', 'w').write('42')\n")
    ran = sealrun("app", "test", app, "--out", work_root / "out", cwd=work_root)
    assert ran.returncode == 1
    assert "failure: APP_COMPUTED_JSON_INVALID (code 19)" in ran.stdout
    enclave_log = (work_root / "out" / "logs" / "enclave.log").read_text()
    assert "the app wrote no computed.json" in enclave_log
