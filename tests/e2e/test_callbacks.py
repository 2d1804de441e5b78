"""A result callback on a real devnet (issue 21 item 4): ``app run --callback`` names a contract
that stores what it receives; the worker settles the task and the hub calls it with the task id
and the result digest the hub recorded.

Extended tier (docs/testing.md): it runs a whole task on the shared embedded devnet; the
default tier guards the same hub behaviour in ``tests/contracts/test_callbacks.py`` and the
request's callback reaching the hub in ``tests/chain/test_marketplace.py``.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import vyper
from eth_abi import encode
from web3 import Web3

from sealrun.adapters.keystore import Keystore
from sealrun.adapters.profiles import ProjectConfig
from tests.e2e.conftest import PASSWORD, REPO, Project

pytestmark = [pytest.mark.e2e, pytest.mark.extended]

APP = """\
    import json, os
    out = os.environ.get("IEXEC_OUT", "/iexec_out")
    open(os.path.join(out, "answer.txt"), "w").write("called back")
    json.dump({"deterministic-output-path": os.path.join(out, "answer.txt")},
              open(os.path.join(out, "computed.json"), "w"))
"""


def _deploy_receiver(project: Project) -> tuple[Web3, object]:
    """Compile and deploy contracts/testing/CallbackReceiver.vy from the project's wallet."""
    chain = project.json("chain", "show")
    w3 = Web3(Web3.HTTPProvider(chain["rpc_url"]))
    config = ProjectConfig.load(project.root / "sealrun.toml")
    wallet = Keystore(config.wallet_dir).unlock("default", PASSWORD)
    source = (REPO / "contracts" / "testing" / "CallbackReceiver.vy").read_text()
    compiled = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    tx = factory.constructor().build_transaction(
        {
            "from": wallet.address,
            "nonce": w3.eth.get_transaction_count(wallet.address),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = wallet.account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1
    return w3, w3.eth.contract(address=receipt["contractAddress"], abi=compiled["abi"])


def test_a_callback_contract_receives_the_result(embedded_project: Project) -> None:
    project = embedded_project
    folder = project.root / "apps" / "callback-app"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(textwrap.dedent(APP))
    (folder / "sealrun-app.toml").write_text(
        '[app]\nname = "callback-app"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    app = str(project.json("app", "deploy", str(folder), "--yes")["app"])
    project.json("order", "init", "--app", app, "--volume", "10")
    project.json("order", "sign", "--app")
    w3, receiver = _deploy_receiver(project)
    address = receiver.address  # type: ignore[attr-defined]

    done = project.run(
        "app", "run", app, "--callback", address, "--watch", "--yes", "--timeout", "420", "--json",
        check=False, timeout=480,
    )  # fmt: skip
    ran = json.loads(done.stdout)
    if ran.get("status") != "COMPLETED":
        logs = project.run("devnet", "logs", "--lines", "60", check=False, timeout=120)
        pytest.fail(f"the task did not complete: {ran}\n{logs.stdout[-8000:]}\n{logs.stderr[-2000:]}")
    task = bytes.fromhex(ran["task"][2:])
    functions = receiver.functions  # type: ignore[attr-defined]
    assert functions.calls().call() == 1
    assert bytes(functions.taskid().call()) == task
    hub = json.loads((REPO / "src/sealrun/adapters/chain/artifacts/Hub.json").read_text())
    chain = project.json("chain", "show")
    digest = bytes(w3.eth.contract(address=chain["hub"], abi=hub["abi"]).functions.results(task).call())
    assert digest != bytes(32)
    assert bytes(functions.results().call()) == encode(["bytes32"], [digest])
    assert functions.caller().call() == Web3.to_checksum_address(chain["hub"])
