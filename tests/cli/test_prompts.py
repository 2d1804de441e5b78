"""Spending commands ask before the wallet unlock, and name the devnet when it is the cause."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sealrun.adapters.keystore import Keystore

SEALRUN = Path(sys.executable).parent / "sealrun"
HUB = "0x" + "11" * 20
TOKEN = "0x" + "22" * 20


def _run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEALRUN_")}
    return subprocess.run(
        [str(SEALRUN), *args], cwd=root, env={**environment, **env}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _project(root: Path) -> None:
    assert _run(root, "init", "--json").returncode == 0
    Keystore(root / "wallets", scrypt_n=1024).create("default", "pw")


def test_after_devnet_down_commands_say_the_devnet_is_not_running(tmp_path: Path) -> None:
    _project(tmp_path)
    done = _run(tmp_path, "account", "deposit", "5", "--yes", "--json")
    error = json.loads(done.stdout)["error"]
    assert (done.returncode, error["code"]) == (1, "DEVNET_NOT_RUNNING")
    assert error["message"].startswith("the devnet is not running: `sealrun devnet up`")
    # A profile named on purpose keeps its own code and hint.
    named = json.loads(_run(tmp_path, "account", "deposit", "5", "--chain", "anvil", "--json").stdout)
    assert named["error"]["code"] == "PROFILE_NOT_DEPLOYED"


def test_the_question_comes_before_the_unlock(tmp_path: Path) -> None:
    _project(tmp_path)
    config = tmp_path / "sealrun.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[profiles.anvil]\n", f'[profiles.anvil]\nhub = "{HUB}"\ntoken = "{TOKEN}"\nchain_id = 31337\n'
        ),
        encoding="utf-8",
    )
    # A password that would take the unlock (scrypt) and then the chain: neither may run
    # before the user answered, so a script without --yes learns at once that it must pass it.
    begun = time.monotonic()
    done = _run(
        tmp_path, "account", "deposit", "5", "--chain", "anvil", "--json", SEALRUN_WALLET_PASSWORD="pw"
    )
    error = json.loads(done.stdout)["error"]
    assert (done.returncode, error["code"]) == (1, "CONFIRMATION_REQUIRED")
    assert Keystore(tmp_path / "wallets").list()[0].address in error["message"]
    assert time.monotonic() - begun < 60
