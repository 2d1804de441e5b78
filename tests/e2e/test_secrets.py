"""Secrets through the CLI on a real devnet: the requester and the app developer push theirs,
an iExec-style app reads them from ``IEXEC_REQUESTER_SECRET_1`` and
``IEXEC_APP_DEVELOPER_SECRET`` inside the enclave, and the task completes. A task that names a
secret nobody pushed is refused before anything is bought.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.e2e.conftest import SEALRUN, Project

pytestmark = [pytest.mark.e2e]

REQUESTER_VALUE = "requester-value-\u00e9-42"  # 20 characters
DEVELOPER_VALUE = "developer-value-7"

APP = """\
    import hashlib, json, os
    secret = os.environ.get("IEXEC_REQUESTER_SECRET_1", "")
    developer = os.environ.get("IEXEC_APP_DEVELOPER_SECRET", "")
    answer = {
        "requester_secret_length": len(secret),
        "developer_secret_sha256": hashlib.sha256(developer.encode()).hexdigest(),
    }
    out = os.environ.get("IEXEC_OUT", "/iexec_out")
    json.dump(answer, open(os.path.join(out, "answer.json"), "w"))
    json.dump({"deterministic-output-path": os.path.join(out, "answer.json")},
              open(os.path.join(out, "computed.json"), "w"))
    print("requester secret length", len(secret))
"""


def _deploy(project: Project) -> str:
    folder = project.root / "apps" / "secret-reader"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(textwrap.dedent(APP))
    (folder / "sealrun-app.toml").write_text(
        '[app]\nname = "secret-reader"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    app = str(project.json("app", "deploy", str(folder), "--yes")["app"])
    project.json("order", "init", "--app", app, "--volume", "10")
    project.json("order", "sign", "--app")
    return app


def test_secrets_pushed_with_the_cli_reach_the_app(embedded_project: Project, tmp_path: Path) -> None:
    project = embedded_project
    app = _deploy(project)
    assert project.error("app", "run", app, "--secret", "1=api-token", "--yes")["code"] == "SECRET_MISSING"

    piped = subprocess.run(
        [str(SEALRUN), "requester", "push-secret", "api-token", "--stdin", "--json"],
        input=REQUESTER_VALUE.encode(),
        cwd=project.root,
        env=project.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    developer_file = tmp_path / "developer"
    developer_file.write_text(DEVELOPER_VALUE)
    project.json("app", "push-secret", app, "--file", str(developer_file))
    assert project.json("requester", "check-secret", "api-token")["exists"] is True
    assert project.json("app", "check-secret", app)["exists"] is True
    assert [s["name"] for s in project.json("requester", "list-secrets")["secrets"]] == ["api-token"]

    done = project.run(
        "app", "run", app, "--secret", "1=api-token", "--watch", "--download", "--decrypt",
        "--yes", "--timeout", "240", "--json", timeout=300,
    )  # fmt: skip
    for value in (REQUESTER_VALUE, DEVELOPER_VALUE):
        assert value not in done.stdout + done.stderr + piped.stdout.decode() + piped.stderr.decode()
    ran = json.loads(done.stdout)
    assert ran["status"] == "COMPLETED", ran
    answer_file = next(Path(f) for f in ran["outputs"] if f.endswith("answer.json"))
    answer = json.loads(answer_file.read_text())
    assert answer["requester_secret_length"] == len(REQUESTER_VALUE)
    assert answer["developer_secret_sha256"] == hashlib.sha256(DEVELOPER_VALUE.encode()).hexdigest()
