"""``sealrun order init`` and ``sealrun orderbook show`` refuse bad numbers and params with codes.

They used to traceback on Unicode digits or huge numbers and accept ``--params '{bad json'``
(issue 13, finding 8). Every check runs before a project or wallet is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEALRUN = Path(sys.executable).parent / "sealrun"
APP = "0x" + "11" * 20


def sealrun(*args: str, cwd: Path) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "SEALRUN_MARKET_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [str(SEALRUN), *args, "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)["error"]


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ("{bad json", "not JSON"),
        ('["a list"]', "JSON object"),
        ('{"iexec_args": 3}', "iexec_args"),
        ('{"iexec_input_files": "https://x/y"}', "iexec_input_files"),
        ('{"iexec_input_files": ["file:///etc/shadow"]}', "http(s) URL"),
        ('{"iexec_input_files": [7]}', "http(s) URL"),
        ('{"iexec_secrets": {"²": "api"}}', "ASCII digits"),
        ('{"iexec_secrets": {"0": "api"}}', "ASCII digits"),
        ('{"iexec_secrets": {"1": 5}}', "secret name"),
        ('{"iexec_secrets": ["api"]}', "iexec_secrets"),
        ("[" * 5000 + "]" * 5000, "not JSON"),
    ],
)
def test_bad_params_are_refused(tmp_path: Path, params: str, why: str) -> None:
    code, error = sealrun("order", "init", "--buy", "--app", APP, "--params", params, cwd=tmp_path)
    assert (code, error["code"]) == (1, "ORDER_PARAMS_INVALID")
    assert why in str(error["message"])


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--price", "²"),
        ("--volume", "٣"),
        ("--category", "1²"),
        ("--price", "9" * 5000),
        ("--volume", str(2**256)),
    ],
)
def test_bad_numbers_are_refused(tmp_path: Path, option: str, value: str) -> None:
    code, error = sealrun("order", "init", "--app", APP, option, value, cwd=tmp_path)
    assert (code, error["code"]) == (1, "ORDER_FIELD_INVALID")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--category", "²"),
        ("--category", str(2**31)),
        ("--min-volume", str(2**63)),
        ("--limit", "1001"),
        ("--limit", "٣"),
    ],
)
def test_orderbook_filters_are_bounded(tmp_path: Path, option: str, value: str) -> None:
    code, error = sealrun("orderbook", "show", option, value, cwd=tmp_path)
    assert (code, error["code"]) == (1, "CONFIG_INVALID")
