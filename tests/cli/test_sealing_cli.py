"""The sealing commands as a user runs them: subprocess, real files, real age CLI, bad input."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SEALRUN = [sys.executable, "-m", "sealrun.cli"]


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEALRUN, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def ok(cwd: Path, *args: str) -> dict[str, object]:
    done = run(cwd, *args, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def fails(cwd: Path, code: str, *args: str, as_json: bool = False) -> None:
    # Each CLI start costs seconds (it loads the chain client), so JSON errors are checked once.
    done = run(cwd, *args, *(["--json"] if as_json else []))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    if as_json:
        assert json.loads(done.stdout)["error"]["code"] == code
        return
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert f"[{code}]" in lines[0], done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    result = ok(folder, "tee", "init")
    assert result["key_created"] is True
    for name in ("inputs", "encryptedOutputs", "outputs"):
        assert (folder / "tee" / name).is_dir()
    key = folder / "keys" / "result.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert str(result["recipient"]).startswith("age1")
    (folder / "tee" / "inputs" / "data.csv").write_text("id,value\n1,42\n")
    (folder / "tee" / "inputs" / "nested").mkdir()
    (folder / "tee" / "inputs" / "nested" / "blob.bin").write_bytes(bytes(range(256)) * 1000)
    return folder


def test_dataset_encrypt_then_age_and_result_decrypt(project: Path) -> None:
    sealed = ok(project, "dataset", "encrypt", "tee/inputs")
    assert sealed["kind"] == "folder"
    assert str(sealed["checksum"]).startswith("0x")
    path, key = project / str(sealed["path"]), project / str(sealed["key_file"])
    assert path.parent == project / "tee" / "encryptedOutputs"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    tar = subprocess.run(["age", "-d", "-i", str(key), str(path)], capture_output=True, check=True).stdout
    listing = subprocess.run(["tar", "-t"], input=tar, capture_output=True, check=True).stdout.decode()
    assert "data.csv" in listing
    assert "nested/blob.bin" in listing
    opened = ok(project, "result", "decrypt", str(path), "--key", str(key))
    assert opened["kind"] == "folder"
    assert opened["checksum"] == sealed["checksum"]
    out = project / str(opened["path"])
    assert out.parent == project / "tee" / "outputs"
    assert (out / "nested" / "blob.bin").read_bytes() == bytes(range(256)) * 1000


def test_result_keys_and_a_file_sealed_by_age(project: Path) -> None:
    keys = ok(project, "result", "generate-keys", "--out", "keys/second.key")
    data = b"result bytes \x00\x01" * 5000
    sealed = project / "from-age.age"
    subprocess.run(["age", "-e", "-r", str(keys["recipient"]), "-o", str(sealed)], input=data, check=True)
    opened = ok(project, "result", "decrypt", str(sealed), "--key", "keys/second.key", "--out", "plain.bin")
    assert opened["kind"] == "file"
    assert (project / "plain.bin").read_bytes() == data


def test_bad_input_gives_one_error_line(project: Path) -> None:
    fails(project, "FILE_NOT_FOUND", "result", "decrypt", "missing.age")
    fails(project, "FILE_NOT_FOUND", "dataset", "encrypt", "missing-folder", as_json=True)
    (project / "bad.key").write_text("not a key\n")
    sealed = ok(
        project, "dataset", "encrypt", "tee/inputs/data.csv", "--out", "one.age", "--key-out", "k1.key"
    )
    fails(project, "SEAL_BAD_KEY", "result", "decrypt", str(sealed["path"]), "--key", "bad.key")
    fails(project, "SEAL_WRONG_KEY", "result", "decrypt", str(sealed["path"]), "--out", "x")
    fails(project, "SEAL_NOT_SEALED", "result", "decrypt", "tee/inputs/data.csv", "--out", "y")
    damaged = project / "damaged.age"
    blob = bytearray((project / str(sealed["path"])).read_bytes())
    blob[-5] ^= 1
    damaged.write_bytes(bytes(blob))
    fails(project, "SEAL_TAMPERED", "result", "decrypt", str(damaged), "--key", "k1.key", "--out", "z")
    truncated = project / "truncated.age"
    truncated.write_bytes(bytes(blob[:40]))
    fails(project, "SEAL_TRUNCATED", "result", "decrypt", str(truncated), "--key", "k1.key", "--out", "z")
    assert not (project / "x").exists()
    assert not (project / "y").exists()
    assert not (project / "z").exists()
    assert not [p for p in project.iterdir() if p.name.endswith(".partial")]


def test_demo_json(tmp_path: Path) -> None:
    result = ok(tmp_path, "demo", "--local", "--size-mib", "1")
    assert result["status"] == "ok"
    outputs = result["outputs"]
    assert isinstance(outputs, dict)
    assert Path(str(outputs["opened"])).is_dir()
    assert str(outputs["age_interop"]).startswith("0x")
    assert set(result["timings"]) >= {"seal", "open", "verify"}  # type: ignore[arg-type]
