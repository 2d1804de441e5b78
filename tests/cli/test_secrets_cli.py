"""Secrets from the CLI against a real SMS (uvicorn on loopback) reading a real chain
(`sealrun chain serve`): push and check each kind, ownership refusals with their codes, bad
names and values refused before anything is sent, values never in any output, and the check
``app run`` and ``order fill`` make before any money moves.

Commands run in their own processes through ``tests/chain/clirunner.py`` (see its docstring);
the ``project`` and ``deployed`` fixtures (a project, its served chain and funded wallets) come
from ``tests/chain/test_cli.py`` through ``tests/cli/conftest.py``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealrun.adapters.sealedfiles import write_identity
from sealrun.core.attestation import SimulatorKey
from sealrun.core.sealing import Identity
from sealrun.services.sms.app import create_app
from tests.chain.conftest import SEALRUN
from tests.chain.test_cli import Project
from tests.sms.conftest import make_settings, serve

VALUE = "hunter2-requester-value-\u00e9"
DEV_VALUE = "developer-only-value-42"
NEVER_SHOWN = [VALUE, DEV_VALUE, "later-value"]  # no output of any command may hold these


def _never_shown(text: str) -> None:
    assert not any(value in text for value in NEVER_SHOWN), text


@pytest.fixture(scope="module")
def sms(
    project: Project, deployed: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An SMS serving on loopback against the project's chain; the CLI finds it by $SEALRUN_SMS_URL."""
    chain = project.ok("chain", "show")
    settings = make_settings(
        tmp_path_factory.mktemp("sms"),
        SimulatorKey.generate(),
        chain_id=chain["chain_id"],
        hub=chain["hub"],
        chain_rpc_url=chain["rpc_url"],
        chain_start_block=chain["deploy_block"],
    )
    app = create_app(settings)
    with serve(app) as url:
        project.env["SEALRUN_SMS_URL"] = url
        yield url
    app.state.components.close()


def run(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    done = project.run(*args)
    _never_shown(done.stdout + done.stderr)
    return done


def ok(project: Project, *args: str) -> dict[str, object]:
    done = run(project, *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def fails(project: Project, *args: str, code: str, as_json: bool = False) -> str:
    """A command that must fail with one error line ``error [CODE]: ...`` (after any progress
    lines), and with the same code under ``--json`` when ``as_json``."""
    done = run(project, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("error")] == lines[-1:], done.stderr
    assert lines[-1].startswith(f"error [{code}]: "), lines[-1]
    assert "Traceback" not in done.stderr
    if as_json:
        answer = run(project, *args, "--json")
        assert json.loads(answer.stdout)["error"]["code"] == code
    return lines[-1]


def missing(project: Project, *args: str) -> dict[str, object]:
    """``check-secret`` of something absent: exit 1, ``exists: false`` and the command that pushes it."""
    done = run(project, *args, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    assert result["exists"] is False
    return result


def test_requester_secrets_push_check_list(
    project: Project, deployed: dict[str, str], sms: str, tmp_path: Path
) -> None:
    p = project
    me = deployed["default"]
    absent = missing(p, "requester", "check-secret", "api")
    assert (absent["requester"], absent["push"]) == (me, "sealrun requester push-secret api")
    human = run(p, "requester", "check-secret", "api")
    assert human.returncode == 1
    assert "`sealrun requester push-secret api` pushes it" in human.stderr

    value_file = tmp_path / "value"
    value_file.write_text(VALUE, encoding="utf-8")
    pushed = ok(p, "requester", "push-secret", "api", "--file", str(value_file))
    assert (pushed["kind"], pushed["name"], pushed["owner"], pushed["pushed"]) == (
        "requester",
        "api",
        me,
        True,
    )
    found = ok(p, "requester", "check-secret", "api")
    assert (found["exists"], found["owner"]) == (True, me)
    # Anyone may ask whether a named secret exists (the pre-check of `order fill` does).
    other = ok(p, "requester", "check-secret", "api", "--requester", me.lower(), "--wallet", "dev")
    assert other["exists"] is True
    assert missing(p, "requester", "check-secret", "api", "--wallet", "dev")["push"] == (
        "sealrun requester push-secret api --wallet dev"
    )
    assert missing(p, "requester", "check-secret", "nope", "--requester", deployed["owner"])["push"] == (
        f"sealrun requester push-secret nope --wallet {deployed['owner']}"
    )

    # --stdin, typed by the user's shell: exact bytes, nothing echoed.
    piped = subprocess.run(
        [str(SEALRUN), "requester", "push-secret", "piped.v2", "--stdin", "--json"],
        input=VALUE.encode(),
        cwd=p.root,
        env=p.env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    _never_shown(piped.stdout.decode() + piped.stderr.decode())
    assert piped.returncode == 0, piped.stderr
    listed = ok(p, "requester", "list-secrets")
    assert listed["requester"] == me
    assert [s["name"] for s in listed["secrets"]] == ["api", "piped.v2"]  # type: ignore[attr-defined]


def test_bad_names_and_values_send_nothing(project: Project, sms: str, tmp_path: Path) -> None:
    p = project
    good = tmp_path / "good"
    good.write_text("v")
    nul = tmp_path / "nul"
    nul.write_bytes(b"a\0b")
    latin = tmp_path / "latin"
    latin.write_bytes(b"caf\xe9")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    big = tmp_path / "big"
    big.write_text("x" * 4097)
    for name in ("..", ".", "_x", "a/b", "x" * 65, "caf\u00e9"):
        assert "is not a secret name" in fails(
            p, "requester", "push-secret", name, "--file", str(good), code="SECRET_NAME_INVALID"
        )
        fails(p, "requester", "check-secret", name, code="SECRET_NAME_INVALID", as_json=name == "..")
    assert "NUL" in fails(p, "requester", "push-secret", "n", "--file", str(nul), code="SECRET_VALUE_INVALID")
    assert "UTF-8" in fails(
        p, "requester", "push-secret", "n", "--file", str(latin), code="SECRET_VALUE_INVALID"
    )
    assert "empty" in fails(
        p, "requester", "push-secret", "n", "--file", str(empty), code="SECRET_VALUE_INVALID"
    )
    assert "4097" in fails(
        p, "requester", "push-secret", "n", "--file", str(big), code="SECRET_VALUE_INVALID"
    )
    fails(p, "requester", "push-secret", "n", "--file", str(tmp_path / "nope"), code="FILE_NOT_FOUND")
    fails(p, "requester", "push-secret", "n", "--file", str(good), "--stdin", code="USAGE")
    # No terminal and no --file/--stdin: no prompt to hang on, and a value is never an argument.
    assert "never an argument" in fails(p, "requester", "push-secret", "n", code="USAGE")
    assert "Got unexpected extra argument" in run(p, "requester", "push-secret", "n", "the-value").stderr
    assert missing(p, "requester", "check-secret", "n")["exists"] is False
    # `--secret` and params name secrets by the same rule, refused before anything.
    fails(p, "app", "run", "0x" + "11" * 20, "--secret", "1=..", "--yes", code="SECRET_NAME_INVALID")
    assert "iexec_secrets['1']" in fails(
        p, "order", "init", "--buy", "--app", "0x" + "11" * 20, "--params", '{"iexec_secrets": {"1": "a/b"}}',
        code="ORDER_PARAMS_INVALID",
    )  # fmt: skip


def _app(project: Project, tmp_path: Path) -> str:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "sealrun-app.toml").write_text(
        '[app]\nname = "secretive"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (bundle / "app.py").write_text('print("hi")\n')
    deployed = ok(project, "app", "deploy", str(bundle), "--name", tmp_path.name, "--wallet", "dev", "--yes")
    return str(deployed["app"])


def test_app_developer_secret_only_its_owner_pushes(
    project: Project,
    deployed: dict[str, str],
    sms: str,
    tmp_path: Path,
) -> None:
    p = project
    app = _app(p, tmp_path)
    assert missing(p, "app", "check-secret", app)["push"] == f"sealrun app push-secret {app}"
    value_file = tmp_path / "dev-secret"
    value_file.write_text(DEV_VALUE)
    assert "app's owner" in fails(
        p, "app", "push-secret", app, "--file", str(value_file), code="SECRET_NOT_OWNER", as_json=True
    )
    assert missing(p, "app", "check-secret", app)["exists"] is False
    fails(p, "app", "push-secret", "0x" + "12" * 20, "--file", str(value_file), code="SECRET_ASSET_UNKNOWN")
    fails(p, "app", "push-secret", "not-an-app", "--file", str(value_file), code="INVALID_ADDRESS")
    pushed = ok(p, "app", "push-secret", app, "--file", str(value_file), "--wallet", "dev")
    assert (pushed["app"], pushed["owner"]) == (app, deployed["dev"])
    found = ok(p, "app", "check-secret", app)
    assert (found["exists"], found["owner"]) == (True, deployed["dev"])


def test_dataset_key_is_pushed_once_by_its_owner(
    project: Project,
    deployed: dict[str, str],
    sms: str,
    tmp_path: Path,
) -> None:
    p = project
    checksum = "0x" + "cd" * 32
    source = tmp_path / "sealed.json"
    source.write_text(json.dumps({"uri": "https://store.example/s", "checksum": checksum}))
    dataset = str(
        ok(p, "dataset", "deploy", "--name", "secret-ds", "--from", str(source), "--wallet", "dev", "--yes")[
            "dataset"
        ]
    )
    assert missing(p, "dataset", "check-secret", dataset)["push"] == f"sealrun dataset push-secret {dataset}"
    # The project's key file by default (where `tee encryptedpush` keeps it).
    fails(p, "dataset", "push-secret", dataset, "--wallet", "dev", code="KEY_FILE_NOT_FOUND")
    identity = Identity.generate()
    NEVER_SHOWN.append(str(identity))
    write_identity(p.root / ".sealrun" / "datasets" / f"{dataset}.key", identity)
    assert "dataset's owner" in fails(p, "dataset", "push-secret", dataset, code="SECRET_NOT_OWNER")
    pushed = ok(p, "dataset", "push-secret", dataset, "--wallet", "dev")
    assert (pushed["dataset"], pushed["owner"]) == (dataset, deployed["dev"])
    assert ok(p, "dataset", "check-secret", dataset)["exists"] is True
    other = tmp_path / "other.key"
    write_identity(other, Identity.generate())
    assert "already has a key" in fails(
        p, "dataset", "push-secret", dataset, "--file", str(other), "--wallet", "dev", code="SECRET_EXISTS"
    )


def test_app_run_checks_secrets_before_buying(
    project: Project,
    deployed: dict[str, str],
    sms: str,
    tmp_path: Path,
) -> None:
    p = project
    app = _app(p, tmp_path)
    value_file = tmp_path / "value"
    value_file.write_text(VALUE, encoding="utf-8")
    ok(p, "requester", "push-secret", "api", "--file", str(value_file))
    ok(p, "account", "deposit", "100", "--yes")
    dataset_source = tmp_path / "ds.json"
    dataset_source.write_text(json.dumps({"uri": "https://store.example/k", "checksum": "0x" + "ef" * 32}))
    keyless = str(
        ok(p, "dataset", "deploy", "--name", "keyless", "--from", str(dataset_source), "--yes")["dataset"]
    )
    before = ok(p, "account", "show")
    line = fails(
        p,
        "app",
        "run",
        app,
        "--secret",
        "1=api",
        "--secret",
        "2=absent",
        "--yes",
        code="SECRET_MISSING",
        as_json=True,
    )
    assert "nothing was bought" in line
    assert "requester secret 'absent' (index 2)" in line
    assert "`sealrun requester push-secret absent`" in line
    assert "'api'" not in line
    line = fails(p, "app", "run", app, "--dataset", keyless, "--yes", code="SECRET_MISSING")
    assert f"`sealrun dataset push-secret {keyless}`" in line
    assert ok(p, "account", "show") == before


def test_order_fill_checks_secrets_before_any_transaction(
    project: Project,
    deployed: dict[str, str],
    sms: str,
    tmp_path: Path,
) -> None:
    p = project
    app = _app(p, tmp_path)
    pool = str(
        ok(p, "workerpool", "deploy", "--description", "secret pool", "--wallet", "dev", "--yes")[
            "workerpool"
        ]
    )
    ok(p, "account", "deposit", "1000", "--yes", "--wallet", "dev")
    ok(p, "account", "deposit", "100", "--yes")
    for name in ("orders.json", "signed-orders.json"):
        (p.root / name).unlink(missing_ok=True)
    ok(p, "order", "init", "--app", app, "--workerpool", pool, "--price", "5", "--volume", "1")
    ok(p, "order", "init", "--buy", "--app", app, "--workerpool", pool, "--price", "5",
       "--params", '{"iexec_args": "", "iexec_secrets": {"1": "api", "3": "later"}}')  # fmt: skip
    value_file = tmp_path / "value"
    value_file.write_text(VALUE, encoding="utf-8")
    ok(p, "requester", "push-secret", "api", "--file", str(value_file))
    templates = json.loads((p.root / "orders.json").read_text())
    templates["apporder"]["appprice"] = "0"
    (p.root / "orders.json").write_text(json.dumps(templates))
    ok(p, "order", "sign", "--app", "--workerpool", "--wallet", "dev")
    ok(p, "order", "sign", "--request")
    before = ok(p, "account", "show")
    line = fails(p, "order", "fill", "--no-dataset", "--yes", code="SECRET_MISSING")
    assert "requester secret 'later' (index 3)" in line
    assert "`sealrun requester push-secret later`" in line
    assert ok(p, "account", "show") == before
    value_file = tmp_path / "later"
    value_file.write_text("later-value")
    ok(p, "requester", "push-secret", "later", "--file", str(value_file))
    filled = ok(p, "order", "fill", "--no-dataset", "--yes")
    assert filled["total_price"] == 5
    assert ok(p, "account", "show")["locked"] == int(str(before["locked"])) + 5


def test_dataset_release_policy_round_trip(
    project: Project, deployed: dict[str, str], sms: str, tmp_path: Path
) -> None:
    """``dataset policy set / show`` (decision 0090): the owner signs, anyone reads."""
    p = project
    source = tmp_path / "sealed.json"
    source.write_text(json.dumps({"uri": "https://store.example/p", "checksum": "0x" + "ab" * 32}))
    deployed_ds = ok(
        p, "dataset", "deploy", "--name", "policy-ds", "--from", str(source), "--wallet", "dev", "--yes"
    )
    dataset = str(deployed_ds["dataset"])
    assert ok(p, "dataset", "policy", "show", dataset) == {"dataset": dataset, "policy": None}
    pool = "0x" + "9f" * 20
    rules = ["--tee-type", "tdx-dcap", "--tee-type", "sgx-dcap", "--min-tcb", "SWHardeningNeeded",
             "--max-collateral-age", "7d", "--isolation", "strict", "--workerpool", pool]  # fmt: skip
    fails(p, "dataset", "policy", "set", dataset, *rules, code="SECRET_NOT_OWNER", as_json=True)
    stored = ok(p, "dataset", "policy", "set", dataset, *rules, "--wallet", "dev")
    assert stored["owner"] == deployed["dev"]
    assert stored["policy"] == {
        "version": 1, "tee_types": ["sgx-dcap", "tdx-dcap"], "min_tcb": "SWHardeningNeeded",
        "max_collateral_age": 7 * 86_400, "isolation": "strict", "workerpools": [pool],
    }  # fmt: skip
    shown = ok(p, "dataset", "policy", "show", dataset)
    assert (shown["digest"], shown["policy"]) == (stored["digest"], stored["policy"])
    human = run(p, "dataset", "policy", "show", dataset)
    assert human.returncode == 0
    assert str(stored["digest"]) in human.stdout
    document = tmp_path / "policy.json"
    document.write_text(json.dumps({"version": 1, "min_tcb": "OutOfDate"}))
    fails(
        p,
        "dataset",
        "policy",
        "set",
        dataset,
        "--file",
        str(document),
        "--wallet",
        "dev",
        code="SECRET_POLICY_INVALID",
    )
    fails(
        p, "dataset", "policy", "set", dataset, "--file", str(document), "--min-tcb", "UpToDate", code="USAGE"
    )
    fails(p, "dataset", "policy", "set", dataset, "--max-collateral-age", "soon", code="USAGE")
    document.write_text(json.dumps({"version": 1, "isolation": "strict"}))
    replaced = ok(p, "dataset", "policy", "set", dataset, "--file", str(document), "--wallet", "dev")
    assert replaced["digest"] != stored["digest"]
    assert ok(p, "dataset", "policy", "show", dataset)["policy"]["isolation"] == "strict"  # type: ignore[index]


def test_a_bad_policy_rule_is_named_before_any_project_is_needed(tmp_path: Path) -> None:
    # No project, no wallet, no SMS: the rule is refused first, with its code, and nothing is read.
    done = subprocess.run(
        [str(SEALRUN), "dataset", "policy", "set", "0x" + "ab" * 20, "--tee-type", "bogus", "--json"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["code"] == "SECRET_POLICY_INVALID"
    assert "bogus" in json.loads(done.stdout)["error"]["message"]
    assert list(tmp_path.iterdir()) == []
