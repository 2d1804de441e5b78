"""Every chain command of the CLI, each in its own process, on `sealrun chain serve`.

One project per module: init, wallets, a served embedded chain, deploy. Then the journey of
docs/chain.md (deposit, register app/dataset/workerpool, sign and fill orders, see the deal
and its tasks), and bad input that must end in exactly one clear error line.

`.venv/bin/sealrun` itself starts the project, the chain server, the first wallet and the
deployment; the other commands go through ``tests/chain/clirunner.py``, which forks one
process per command from an interpreter that imported the CLI once (see its docstring):
same entry point, same exit codes and streams, without minutes of repeated imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.keystore import Keystore
from sealrun.adapters.localchain.anvil import free_port
from tests.chain.conftest import SEALRUN

PASSWORD = "correct horse battery"
CHEAP = "1024"  # scrypt cost of throwaway test wallets


RUNNER = Path(__file__).with_name("clirunner.py")


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    server: subprocess.Popen[str]
    runner: subprocess.Popen[str]

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run one command in its own process (forked by the runner)."""
        assert self.runner.stdin is not None
        assert self.runner.stdout is not None
        request = {"args": list(args), "env": {**self.env, **(env or {})}, "cwd": str(self.root)}
        self.runner.stdin.write(json.dumps(request) + "\n")
        self.runner.stdin.flush()
        answer = json.loads(self.runner.stdout.readline())
        return subprocess.CompletedProcess(
            list(args), answer["returncode"], answer["stdout"], answer["stderr"]
        )

    def direct(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `.venv/bin/sealrun` itself, as a user types it."""
        return subprocess.run(
            [str(SEALRUN), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def ok(self, *args: str, direct: bool = False) -> dict[str, Any]:
        done = self.direct(*args, "--json") if direct else self.run(*args, "--json")
        assert done.returncode == 0, done.stderr + done.stdout
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def fails(self, *args: str, code: str, env: dict[str, str] | None = None) -> str:
        """Run a command that must fail with one clear error line naming ``code``."""
        done = self.run(*args, env=env)
        assert done.returncode == 1, done.stdout + done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error [{code}]: "), lines[0]
        assert "Traceback" not in done.stderr
        return lines[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "SEALRUN_WALLET_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    env.pop("SEALRUN_CONFIG", None)
    env.pop("SEALRUN_CHAIN", None)
    init = subprocess.run(
        [str(SEALRUN), "init", "--json"], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert init.returncode == 0, init.stderr
    server = subprocess.Popen(
        [str(SEALRUN), "chain", "serve", "--port", "0", "--json"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert json.loads(server.stdout.readline())["url"].startswith("http://127.0.0.1:")
    runner = subprocess.Popen(
        [sys.executable, str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env=env,
    )
    project = Project(root, env, server, runner)
    try:
        yield project
    finally:
        assert runner.stdin is not None
        runner.stdin.close()
        runner.wait(timeout=30)
        if runner.stdout is not None:
            runner.stdout.close()
        server.terminate()
        server.wait(timeout=30)
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def deployed(project: Project) -> dict[str, str]:
    """Wallets (one through the CLI), then the marketplace deployed and the wallets funded."""
    created = project.ok("wallet", "create", "--scrypt-n", CHEAP, direct=True)
    store = Keystore(project.root / "wallets", scrypt_n=int(CHEAP))
    for name in ("dev", "owner", "pool"):
        store.create(name, PASSWORD)
    deployment = project.ok("chain", "deploy", direct=True)
    assert created["address"] in deployment["funded"]
    assert len(deployment["funded"]) == 4
    return {w.name: w.address for w in store.list()}


def test_the_whole_journey_with_the_cli(project: Project, deployed: dict[str, str], tmp_path: Path) -> None:
    p = project
    shown = p.ok("chain", "show")
    assert shown["hub"]
    assert shown["block"] > 0
    assert len(p.ok("wallet", "show")["wallets"]) == 4

    assert p.ok("account", "deposit", "100000", "--yes")["free"] == 100000
    assert p.ok("account", "withdraw", "1000", "--yes")["free"] == 99000
    # One seller owns the app, the dataset and the pool here: fewer processes, same commands.
    assert p.ok("account", "deposit", "50000", "--yes", "--wallet", "dev")["free"] == 50000

    bundle = tmp_path / "hello"
    bundle.mkdir()
    (bundle / "sealrun-app.toml").write_text(
        '[app]\nname = "hello"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (bundle / "app.py").write_text('print("hello")\n')
    app = p.ok("app", "deploy", str(bundle), "--wallet", "dev", "--yes")
    assert p.ok("app", "show", app["app"])["fingerprint"] == app["fingerprint"]
    sealed = tmp_path / "encrypted.json"
    sealed.write_text(json.dumps({"uri": "https://store.example/d1", "checksum": "0x" + "ab" * 32}))
    dataset = p.ok("dataset", "deploy", "--name", "d1", "--from", str(sealed), "--wallet", "dev", "--yes")
    assert p.ok("dataset", "show", dataset["dataset"])["uri"] == "https://store.example/d1"
    pool = p.ok("workerpool", "deploy", "--description", "pool one", "--wallet", "dev", "--yes")
    assert p.ok("workerpool", "show", pool["workerpool"])["owner"] == deployed["dev"]
    assert [c["max_time"] for c in p.ok("category", "show")["categories"]] == [300, 1200, 3600, 10800, 36000]

    p.ok("order", "init", "--app", app["app"], "--dataset", dataset["dataset"],
         "--workerpool", pool["workerpool"],
         "--price", "5", "--volume", "10", "--category", "1", "--tag", "tee,sgx")  # fmt: skip
    p.ok("order", "init", "--buy", "--app", app["app"], "--dataset", dataset["dataset"], "--price", "5",
         "--volume", "3", "--category", "1", "--params", '{"iexec_args": "hi"}')  # fmt: skip
    templates = json.loads((p.root / "orders.json").read_text())
    templates["apporder"]["tag"] = templates["datasetorder"]["tag"] = "0x" + "00" * 31 + "01"
    templates["requestorder"].update(appmaxprice="5", datasetmaxprice="5", tag="0x" + "00" * 31 + "01")
    (p.root / "orders.json").write_text(json.dumps(templates))
    p.ok("order", "sign", "--app", "--dataset", "--workerpool", "--wallet", "dev")
    request_hash = p.ok("order", "sign", "--request")["signed"]["requestorder"]["hash"]

    refused = p.run("order", "fill")  # spending needs a confirmation
    assert refused.returncode == 1
    assert "CONFIRMATION_REQUIRED" in refused.stderr
    filled = p.ok("order", "fill", "--request", request_hash, "--yes")
    assert (filled["volume"], filled["task_price"], filled["total_price"]) == (3, 15, 45)
    deal = p.ok("deal", "show", filled["deal"])
    assert deal["requester"] == deployed["default"]
    assert [t["status"] for t in deal["tasks"]] == ["ACTIVE"] * 3
    task = p.ok("task", "show", filled["tasks"][2])
    assert (task["deal"], task["index"], task["status"]) == (filled["deal"], 2, "ACTIVE")
    assert p.ok("account", "show")["locked"] == 45

    line = p.fails("task", "claim", filled["tasks"][0], "--yes", code="TASK_DEADLINE_NOT_REACHED")
    assert "deadline" in line
    assert p.ok("order", "cancel", "--app", "--wallet", "dev", "--yes")["closed"]["apporder"]
    shown_orders = p.ok("order", "show")
    assert shown_orders["apporder"]["consumed"] == "closed"
    assert shown_orders["requestorder"]["remaining"] == 0


def test_wallet_import_keeps_the_key_out_of_sight(project: Project, tmp_path: Path) -> None:
    key = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    key_file = tmp_path / "key"
    key_file.write_text(key)
    done = project.run(
        "wallet", "import", "imported", "--key-file", str(key_file), "--scrypt-n", CHEAP, "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["address"] == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    assert key[2:] not in done.stdout + done.stderr
    shown = project.run("wallet", "show", "imported", "--unlock")
    assert shown.returncode == 0
    assert key[2:] not in shown.stdout + shown.stderr


def test_bad_input_gives_one_clear_error_line(
    project: Project, deployed: dict[str, str], tmp_path: Path
) -> None:
    Keystore(project.root / "wallets", scrypt_n=int(CHEAP)).create("poor", PASSWORD)  # never funded
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "AppOrder", "app": "0x12"}')
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    unreachable = project.root / "unreachable.toml"
    unreachable.write_text(
        f'[project]\nprofile = "custom"\n[profiles.custom]\nkind = "custom"\n'
        f'rpc_url = "http://127.0.0.1:{free_port()}"\n'
        f'hub = "{"0x" + "11" * 20}"\ntoken = "{"0x" + "22" * 20}"\n'
    )
    wrong = {"SEALRUN_WALLET_PASSWORD": "nope"}
    cases: list[tuple[tuple[str, ...], str, str, dict[str, str] | None]] = [
        (("account", "deposit", "10", "--yes"), "WALLET_BAD_PASSWORD", "wrong password", wrong),
        (
            ("workerpool", "deploy", "--description", "x", "--wallet", "poor", "--yes"),
            "CHAIN_INSUFFICIENT_FUNDS",
            "gas",
            None,
        ),
        (
            ("account", "deposit", "10", "--wallet", "poor", "--yes"),
            "CHAIN_INSUFFICIENT_TOKENS",
            "holds only 0",
            None,
        ),
        (("app", "show", "0x" + "12" * 20), "CHAIN_APP_UNKNOWN", "no app", None),
        (("workerpool", "show", "not-an-address"), "INVALID_ADDRESS", "not an Ethereum address", None),
        (("deal", "show", "0x" + "00" * 32), "CHAIN_DEAL_UNKNOWN", "no deal", None),
        (("task", "show", "0x1234"), "INVALID_BYTES32", "32 bytes", None),
        (("wallet", "show", "nobody"), "WALLET_NOT_FOUND", "nobody", None),
        (("order", "fill", "--app", str(bad), "--yes"), "ORDER_JSON_INVALID", "AppOrder", None),
        (("order", "fill", "--app", str(broken), "--yes"), "ORDER_JSON_INVALID", "JSON", None),
        (("account", "show", "--config", str(unreachable)), "CHAIN_UNREACHABLE", "unreachable", None),
        (("init",), "CONFIG_EXISTS", "already exists", None),
    ]

    def check(case: tuple[tuple[str, ...], str, str, dict[str, str] | None]) -> None:
        args, code, words, env = case
        assert words in project.fails(*args, code=code, env=env)

    for case in cases:
        check(case)
    typed = project.direct("account", "deposit", "10", "--yes", "--wallet", "poor")  # the real entry point
    assert typed.returncode == 1
    assert typed.stderr.strip().startswith("error [CHAIN_INSUFFICIENT_TOKENS]: ")
    assert "\n" not in typed.stderr.strip()
    as_json = project.run("app", "show", "0x" + "12" * 20, "--json")
    assert (
        json.loads(as_json.stdout)
        == {"error": {"code": "CHAIN_APP_UNKNOWN", "message": f"no app is registered at 0x{'12' * 20}"}}
        or json.loads(as_json.stdout)["error"]["code"] == "CHAIN_APP_UNKNOWN"
    )


def test_unknown_records_bad_amounts_and_missing_files_are_refused_by_code(
    project: Project, deployed: dict[str, str], tmp_path: Path
) -> None:
    """Each refusal names its code, and nothing is spent, created or published behind it."""
    p = project
    nowhere, no_task = "0x" + "12" * 20, "0x" + "00" * 32
    free = p.ok("account", "show")["free"]
    empty = tmp_path / "signed.json"
    empty.write_text("{}")
    inputs = tmp_path / "inputs"
    inputs.mkdir()  # an empty folder is no input either
    cases: list[tuple[tuple[str, ...], str, str, dict[str, str] | None]] = [
        (("dataset", "show", nowhere), "CHAIN_DATASET_UNKNOWN", "no dataset", None),
        (("workerpool", "show", nowhere), "CHAIN_WORKERPOOL_UNKNOWN", "no workerpool", None),
        (("category", "show", "5"), "CHAIN_CATEGORY_UNKNOWN", "category 5", None),  # ids are 0..4
        (("task", "show", no_task), "CHAIN_TASK_UNKNOWN", "no task", None),
        (("account", "deposit", "ten", "--yes"), "INVALID_AMOUNT", "not a number", None),
        (("account", "deposit", "0", "--yes"), "INVALID_AMOUNT", "positive", None),
        (("account", "deposit", "0.5", "--yes"), "INVALID_AMOUNT", "decimals", None),
        (("wallet", "create", "cheap", "--scrypt-n", "1000"), "WALLET_INVALID_COST", "power of two", None),
        (("wallet", "create", "zero", "--scrypt-n", "512"), "WALLET_INVALID_COST", ">= 1024", None),
        (
            ("wallet", "create", "weak", "--scrypt-n", CHEAP),
            "WALLET_WEAK_PASSWORD",
            "8 characters",
            {"SEALRUN_WALLET_PASSWORD": "1234567"},
        ),
        (("order", "publish", "--app", "--file", str(empty)), "ORDER_MISSING", "apporder", None),
        (("order", "show", "--file", str(empty)), "ORDER_MISSING", "no orders", None),
        (("order", "show", "0x" + "ab" * 32), "SERVICE_URL_MISSING", "SEALRUN_MARKET_URL", None),
    ]
    for args, code, words, env in cases:
        assert words in p.fails(*args, code=code, env=env), args
    for missing in (inputs, tmp_path / "absent"):
        pushed = p.run(
            "tee", "encryptedpush", "--application", nowhere, "--inputs", str(missing), "--yes", "--json"
        )
        assert pushed.returncode == 1, pushed.stdout + pushed.stderr
        assert json.loads(pushed.stdout)["error"]["code"] == "TEE_INPUTS_MISSING"
    assert p.ok("account", "show")["free"] == free  # no deposit went through
    names = {w["name"] for w in p.ok("wallet", "show")["wallets"]}
    assert not names & {"cheap", "zero", "weak"}  # no keystore written for a refused wallet
    assert not (p.root / ".sealrun" / "datasets").exists()  # nothing sealed for a refused push

    # --watch on a task that never appears: exit 4 (timed out), one line naming the code.
    watched = p.run("task", "show", no_task, "--watch", "--timeout", "0")
    assert watched.returncode == 4, watched.stdout + watched.stderr
    assert watched.stderr.strip().startswith("error [TASK_WATCH_TIMEOUT]: "), watched.stderr
    assert "did not end within 0 s" in watched.stderr
