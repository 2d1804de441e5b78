"""deploy/*.service: one systemd unit per service, each verified by ``systemd-analyze verify``.

The units point at ``/opt/sealrun/.venv/bin/python``; the check copies them with this test's
interpreter instead (``verify`` wants the executable to exist) and fails on any line
``systemd-analyze`` writes about them (it exits 0 on unknown keys and bad values).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SERVICES = ("store", "sms", "market", "scheduler", "worker")


def test_every_service_has_a_unit_configured_by_its_environment_file() -> None:
    units = {path.name for path in DEPLOY.glob("*.service")}
    assert units == {f"sealrun-{name}.service" for name in SERVICES}
    for name in SERVICES:
        text = (DEPLOY / f"sealrun-{name}.service").read_text()
        assert f"ExecStart=/opt/sealrun/.venv/bin/python -m sealrun.services.{name}\n" in text
        assert (REPO / "src" / "sealrun" / "services" / name / "__main__.py").is_file()
        assert f"EnvironmentFile=/etc/sealrun/{name}.env\n" in text
        assert f"User=sealrun-{name}\n" in text
        for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"):
            assert option + "\n" in text, (name, option)
        if name != "worker":  # the worker's sandboxes need namespaces (see its unit)
            assert "RestrictNamespaces=yes\n" in text
            assert "CapabilityBoundingSet=\n" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_every_unit(tmp_path: Path) -> None:
    for unit in DEPLOY.glob("*.service"):
        text = unit.read_text().replace("/opt/sealrun/.venv/bin/python", sys.executable)
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(path) for path in tmp_path.glob("*.service"))
    verified = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=120, check=False
    )
    about_ours = [
        line
        for line in (verified.stdout + verified.stderr).splitlines()
        if re.search(r"sealrun-\w+\.service", line)
    ]
    assert verified.returncode == 0, verified.stderr
    assert about_ours == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_check_would_catch_a_bad_unit(tmp_path: Path) -> None:
    bad = tmp_path / "sealrun-bad.service"
    bad.write_text(f"[Service]\nExecStart={sys.executable} -m x\nRestart=sometimes\nProtectSytem=strict\n")
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "sealrun-bad.service" in verified.stdout + verified.stderr
