"""docs/sdk.md's journey runs as written: its Python block against a real devnet."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import PASSWORD, REPO, Project


def _page_code() -> str:
    page = (REPO / "docs" / "sdk.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/sdk.md shows one Python block"
    return blocks[0]


def test_the_sdk_page_runs_the_whole_journey(embedded_project: Project, tmp_path: Path) -> None:
    code = _page_code()
    # The example app under a name of its own: the shared devnet's wallet may have deployed the
    # example already (test_journey_embedded), and one creator cannot register a name twice.
    bundle = tmp_path / "iexec-python"
    shutil.copytree(REPO / "examples" / "iexec-python", bundle)
    manifest = bundle / "sealrun-app.toml"
    manifest.write_text(manifest.read_text().replace('name = "iexec-python"', 'name = "sdk-page-app"', 1))
    assert 'name = "sdk-page-app"' in manifest.read_text()
    assert len(code.strip().splitlines()) <= 22  # "the whole journey in twenty lines"
    env = {
        **embedded_project.env,
        "SEALRUN_WALLET_PASSWORD": PASSWORD,
        "APP_BUNDLE": str(bundle),
    }
    outputs = embedded_project.root / "tee" / "outputs"
    earlier = set(outputs.glob("0x*/result.json"))  # the shared devnet's project: other modules' tasks
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=embedded_project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "task COMPLETED" in done.stdout
    results = sorted(set(outputs.glob("0x*/result.json")) - earlier)
    assert len(results) == 1, done.stdout
    decrypted = json.loads(results[0].read_text())
    assert decrypted["args"] == ["hello"]
    assert decrypted["inputs"]["dataset"]["name"] == "private.txt"
    assert decrypted["inputs"]["dataset"]["sha256"] == hashlib.sha256(b"my private data\n").hexdigest()
