"""The seed's confidential journey through the CLI, command for command, on the embedded chain.

One devnet serves the module. The tests run in order: the journey (``tee init`` →
``tee encryptedpush`` → ``order init --buy`` → ``orderbook show`` → ``order fill`` →
``task show --watch --download`` → ``tee decrypt``), the one-liner ``app run``, the failure
path (refunded at once, sealed logs readable), a second requester who can neither use the
first one's dataset nor open its result, and an app whose code changed after registration
(wrong fingerprint: the SMS releases no key).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tests.e2e.conftest import PASSWORD, REPO, Project

pytestmark = [pytest.mark.e2e]

RENDER = REPO / "examples" / "render-scene"
PYAPP = REPO / "examples" / "iexec-python"
PNG = b"\x89PNG\r\n\x1a\n"


def _deploy_app(project: Project, bundle: Path, *name: str) -> str:
    """``app deploy`` then an app order for 100 tasks, signed (``signed-orders.json``)."""
    app = str(project.json("app", "deploy", str(bundle), "--yes", *name)["app"])
    project.json("order", "init", "--app", app, "--volume", "100")
    project.json("order", "sign", "--app")
    return app


@pytest.fixture(scope="module")
def render_app(embedded_project: Project) -> dict[str, Any]:
    """The renderer app and a private scene pushed for it (``tee init`` + ``tee encryptedpush``)."""
    project = embedded_project
    project.json("tee", "init")
    shutil.copy(RENDER / "scene.json", project.root / "tee" / "inputs" / "scene.json")
    app = _deploy_app(project, RENDER)
    pushed = project.json("tee", "encryptedpush", "--application", app, "--yes")
    assert pushed["dataset"].startswith("0x")
    return {"app": app, "dataset": pushed["dataset"], "pushed": pushed}


def test_seed_journey_command_for_command(embedded_project: Project, render_app: dict[str, Any]) -> None:
    project = embedded_project
    app, dataset = render_app["app"], render_app["dataset"]
    assert "sealrun order init --buy" in render_app["pushed"]["next"]

    book = project.json("orderbook", "show", "--category", "0", "--tag", "tee")
    pools = book["orders"]
    assert pools, book
    pool = pools[0]
    params = json.dumps({"iexec_args": "--width 96 --height 72"})
    price = str(pool["order"]["workerpoolprice"])
    project.json(
        "order", "init", "--buy", "--app", app, "--dataset", dataset, "--category", "0",
        "--price", price, "--params", params,
    )  # fmt: skip
    project.json("order", "sign", "--request")
    project.json("account", "deposit", "10000000", "--yes")
    filled = project.json("order", "fill", "--workerpool", pool["order_hash"], "--yes")
    task_id = filled["tasks"][0]

    shown = project.json("task", "show", task_id, "--watch", "--download", "--timeout", "300")
    assert shown["status"] == "COMPLETED", shown
    assert shown["tee"] == {
        "type": "simulated",
        "simulated": True,
        "isolation": "strict",
        "session": None,
    }  # the receipt
    sealed = Path(shown["downloaded"])
    assert sealed.parent == project.root / "tee" / "encryptedOutputs"
    assert PNG not in sealed.read_bytes()  # ciphertext only

    opened = project.json("tee", "decrypt")
    images = [Path(f) for f in opened["files"] if f.endswith("render.png")]
    assert images, opened
    assert images[0].read_bytes().startswith(PNG)
    assert images[0].is_relative_to(project.root / "tee" / "outputs")


def test_app_run_one_liner(embedded_project: Project, render_app: dict[str, Any]) -> None:
    ran = embedded_project.json(
        "app", "run", render_app["app"], "--dataset", render_app["dataset"],
        "--args", "--width 64 --height 48", "--watch", "--download", "--decrypt", "--yes", "--timeout", "300",
    )  # fmt: skip
    assert ran["status"] == "COMPLETED", ran
    assert any(Path(f).read_bytes().startswith(PNG) for f in ran["outputs"] if f.endswith(".png"))
    # The sealed logs of a COMPLETED task: the store's record of the task finds them.
    logs = embedded_project.json("task", "logs", ran["task"])
    assert logs["status"] == "COMPLETED"
    assert "rendered" in logs["logs"]["stdout.log"], logs["logs"]
    assert logs["reason"] is None
    _verified(embedded_project, ran["task"], "completed")


def _verified(project: Project, task: str, status: str) -> None:
    """The task's receipt verifies online (store, chain, SMS) and, saved, offline."""
    saved = project.root / f"receipt-{task}.json"
    online = project.json("verify", task, "--allow-simulated", "--save", str(saved))
    assert online["verified"] is True, online
    assert (online["offline"], online["status"], online["task_id"]) == (False, status, task)
    assert {c["code"]: c["status"] for c in online["checks"]} == {
        "VERIFY_SIGNATURE": "pass", "VERIFY_TASK": "pass", "VERIFY_EVIDENCE": "simulated",
        "VERIFY_FINGERPRINT": "pass", "VERIFY_RELEASE": "pass", "VERIFY_CHAIN": "pass", "VERIFY_APP": "pass",
        "VERIFY_INPUTS": "pass", "VERIFY_RESULT": "pass", "VERIFY_AUDIT": "pass",
    }  # fmt: skip
    offline = project.json("verify", str(saved), "--offline", "--allow-simulated")
    assert offline["verified"] is True, offline
    assert offline["receipt_digest"] == online["receipt_digest"]
    # Without --allow-simulated the simulated TEE is never a pass.
    strict = project.run("verify", task, "--json", check=False)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "RECEIPT_EVIDENCE_SIMULATED" in strict.stdout
    # The receipt against another task is refused with its code.
    other = "0x" + "01" * 32
    refused = project.run(
        "verify", other, "--receipt", str(saved), "--allow-simulated", "--json", check=False
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    reasons = {c["code"]: c["reason"] for c in json.loads(refused.stdout)["checks"]}
    assert reasons["VERIFY_TASK"] == "RECEIPT_TASK_MISMATCH"
    assert reasons["VERIFY_CHAIN"] == "RECEIPT_CHAIN_UNKNOWN_TASK"  # the chain never heard of it


def test_failure_is_refunded_at_once_and_logs_are_sealed(embedded_project: Project) -> None:
    project = embedded_project
    app = _deploy_app(project, PYAPP)
    before = project.json("account", "show")
    done = project.run(
        "app", "run", app, "--args", "--fail", "--watch", "--yes", "--timeout", "300", "--json", check=False
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr  # the task FAILED: not a success
    ran = json.loads(done.stdout)  # the whole document, not only an error
    assert ran["status"] == "FAILED"
    assert ran["failure"] == {"code": 1, "name": "APP_EXIT_NONZERO"}
    assert ran["steps"] == [
        "scheduled",
        "attested",
        "app ran",
        "failed: APP_EXIT_NONZERO",
        "refunded on chain",
    ]
    assert ran["reason"] == "APP_EXIT_NONZERO: the app exited with status 3", ran
    assert ran["logs_command"] == f"sealrun task logs {ran['task']}"
    assert ran["tee"] == {"type": "simulated", "simulated": True, "isolation": "strict", "session": None}
    # task show says what happened, in words, and exits 3 too.
    shown = project.run("task", "show", ran["task"], check=False)
    assert shown.returncode == 3, shown.stdout + shown.stderr
    assert f"task {ran['task']} FAILED: APP_EXIT_NONZERO (failure code 1)" in shown.stderr
    assert "attested reason: APP_EXIT_NONZERO: the app exited with status 3" in shown.stderr
    assert f"logs: `sealrun task logs {ran['task']}`" in shown.stderr
    assert "TEE: simulated: SIMULATED, no hardware protection" in shown.stderr
    assert "result sealed" not in shown.stdout
    after = project.json("account", "show")
    assert after["locked"] == before["locked"] == 0  # refunded at once, nothing left in escrow
    logs = project.json("task", "logs", ran["task"])
    assert "asked to fail" in logs["logs"]["stderr.log"]
    again = project.json("task", "logs", ran["task"])  # a second read replaces the first
    assert again["opened"] == logs["opened"]
    assert again["reason"] == ran["reason"]
    assert "APP_EXIT_NONZERO" in logs["logs"]["enclave.log"]
    _verified(project, ran["task"], "failed")


def _second_requester(project: Project) -> str:
    other = project.json("wallet", "create", "other", "--scrypt-n", "1024")["address"]
    project.json("chain", "fund", other)
    return str(other)


def test_a_second_requester_gets_neither_data_nor_result(
    embedded_project: Project, render_app: dict[str, Any], tmp_path: Path
) -> None:
    project = embedded_project
    _second_requester(project)
    # The dataset order only serves its owner: matching refuses the other requester.
    refused = project.error("app", "run", render_app["app"], "--dataset", render_app["dataset"], "--yes",
                            "--wallet", "other")  # fmt: skip
    assert refused["code"].startswith("ORDER_"), refused
    # Only the requester downloads: the store refuses the other wallet's signed request.
    sealed = sorted((project.root / "tee" / "encryptedOutputs").glob("*.result.age"))[0]
    task_id = sealed.name.removesuffix(".result.age")
    for command in (("task", "show", task_id, "--download"), ("task", "logs", task_id)):
        stranger = project.error(*command, "--wallet", "other")
        assert stranger["code"] == "STORAGE_NOT_BENEFICIARY", stranger
    # And a copy that leaks anyway is ciphertext: another key opens nothing.
    key = tmp_path / "other.key"
    project.json("result", "generate-keys", "--out", str(key))
    wrong = project.error("tee", "decrypt", str(sealed), "--key", str(key), "--out", str(tmp_path / "out"))
    assert wrong["code"] == "SEAL_WRONG_KEY"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))


def test_changed_app_code_gets_no_key(embedded_project: Project, tmp_path: Path) -> None:
    from sealrun.adapters.http.sms import SmsClient
    from sealrun.core.requests import RequestDomain
    from sealrun.devnet.state import DevnetState

    project = embedded_project
    project.json("tee", "init")
    shutil.copy(RENDER / "scene.json", project.root / "tee" / "inputs" / "scene.json")
    bundle = tmp_path / "render-copy"
    shutil.copytree(RENDER, bundle)
    bundle.chmod(0o755)
    app = _deploy_app(project, bundle, "--name", "render-scene-changed")
    pushed = project.json("tee", "encryptedpush", "--application", app, "--yes")
    # The registered fingerprint no longer matches the code that would run.
    with (bundle / "render.py").open("a") as handle:
        handle.write("\nprint('exfiltrate the scene')\n")
    ran = project.run(
        "app", "run", app, "--dataset", pushed["dataset"], "--watch", "--yes", "--timeout", "45", "--json",
        check=False,
    )  # fmt: skip
    assert '"status": "COMPLETED"' not in ran.stdout
    state = DevnetState.load(project.root / ".sealrun" / "devnet")
    keystore = json.loads((project.root / "wallets" / "default.json").read_text())
    owner_key = bytes(Account.decrypt(keystore, PASSWORD))
    sms = SmsClient(state.services["sms"], domain=RequestDomain(chain_id=state.chain_id, hub=state.hub))
    try:
        codes = [r.code for r in sms.dataset_audit(owner_key, pushed["dataset"])]
    finally:
        sms.close()
    assert "RELEASED" not in codes
    assert any(code.startswith("ATTEST_") for code in codes), codes


def test_orders_publish_show_and_unpublish_through_the_market(embedded_project: Project) -> None:
    project = embedded_project
    app = _deploy_app(project, PYAPP, "--name", "published-app")
    published = project.json("order", "publish", "--app")["published"]["apporder"]
    digest = published["hash"]
    shown = project.json("order", "show", digest)
    assert shown["order_hash"].lower() == digest.lower()
    assert shown["order"]["app"].lower() == app.lower()
    assert shown["status"] == "open"
    assert project.json("order", "unpublish", digest)["unpublished"] == digest.lower()
    assert project.json("order", "show", digest)["status"] == "unpublished"
    assert project.error("order", "show", "0x1234")["code"] == "ORDER_HASH_INVALID"


_REPRS = ("b'", 'b"', "{'", "['", "None", "<sealrun", "object at 0x")


def _human(project: Project, *args: str) -> str:
    """A command's human output (stdout and stderr), checked for Python internals."""
    done = project.run(*args)
    text = done.stdout + done.stderr
    for marker in _REPRS:
        assert marker not in text, f"`sealrun {' '.join(args)}` shows {marker!r}:\n{text}"
    for line in done.stdout.splitlines():
        if line.rstrip().endswith(":") and not line.startswith(" "):
            continue  # a section heading: its values follow on indented lines
        assert not line.rstrip().endswith(": "), f"`sealrun {' '.join(args)}` prints an empty value: {line!r}"
    return text


def test_human_output_reads_well_over_real_results(
    embedded_project: Project, render_app: dict[str, Any]
) -> None:
    project = embedded_project
    # Earlier tests of the module sign app orders of other apps into signed-orders.json.
    project.json("order", "init", "--app", render_app["app"], "--volume", "100")
    project.json("order", "sign", "--app")
    ran = project.json(
        "app", "run", render_app["app"], "--dataset", render_app["dataset"],
        "--args", "--width 32 --height 24", "--watch", "--yes", "--timeout", "300",
    )  # fmt: skip
    assert ran["status"] == "COMPLETED", ran
    wallet = project.json("wallet", "show", "default")["address"]
    for args in (
        ("account", "show"),
        ("wallet", "show"),
        ("app", "show", render_app["app"]),
        ("dataset", "show", render_app["dataset"]),
        ("task", "show", ran["task"]),
        ("deal", "show", ran["deal"]),
        ("orderbook", "show", "--category", "0", "--tag", "tee"),
        ("order", "show"),
        ("category", "show", "0"),
        ("chain", "show"),
        ("devnet", "status"),
        ("requester", "check-secret", "never-pushed-name", "--requester", wallet),
    ):
        if args[0] == "requester":
            done = project.run(*args, check=False)  # exits 1: the secret does not exist
            assert done.returncode == 1
            assert not any(marker in done.stdout for marker in _REPRS), done.stdout
            continue
        _human(project, *args)
    shown = _human(project, "task", "show", ran["task"])
    assert ran["task"].lower() in shown.lower()  # hashes in full, not cut
