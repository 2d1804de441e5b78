"""Gas of the sealrun hub, from real transaction receipts on the embedded EVM, beside iExec PoCo.

Deploys the compiled artifacts (``src/sealrun/adapters/chain/artifacts``) on eth-tester's
py-evm backend through web3's ``EthereumTesterProvider`` and reads ``gasUsed`` from each
receipt. Every order is fresh (new salt, so every consumed-volume slot goes from zero to
non-zero) and signed with the same code the SDK uses.

Two states are measured. *warm* (the headline figures): the app owner, dataset owner,
worker and pool owner already hold a balance in the hub, as in any running marketplace.
*cold*: the very first deal of fresh accounts, where each payment creates a storage slot
(+~17,100 gas per first-time payee).

Reference: iExec PoCo v5 test-suite averages for one TEE task: matchOrders 760,843 +
initialize 225,506 + contributeAndFinalize 642,656 = 1,629,005 gas.

With a result callback (issue 21 item 4): ``finalize`` of a deal whose request names
``contracts/testing/CallbackReceiver.vy`` (it stores the task id and the result), beside
the callee's own execution gas (a direct call's ``gasUsed`` minus the intrinsic 21,000 and
calldata gas): their difference is what the hub adds to call it.

Usage: ``uv run python benchmarks/gas.py [--json] [--volume N]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.logs import DISCARD
from web3.providers.eth_tester import EthereumTesterProvider

from sealrun.core.orders import (
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    Domain,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    sign_order,
)
from sealrun.core.tasks import (
    authorization_digest,
    failure_digest,
    result_hash,
    result_seal,
    result_signature_digest,
    sign_digest,
    task_id,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "src" / "sealrun" / "adapters" / "chain" / "artifacts"
CALLBACK_RECEIVER = Path(__file__).resolve().parents[1] / "contracts" / "testing" / "CallbackReceiver.vy"
POCO = {"match": 760_843, "initialize": 225_506, "contribute_and_finalize": 642_656}
POCO_TOTAL = sum(POCO.values())
TEE = make_tag(TagBit.TEE)
POOL_TAG = make_tag(TagBit.TEE, TagBit.SGX)
ROLES = ("owner", "app", "dataset", "pool", "requester", "worker", "enclave")


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ARTIFACTS / f"{name}.json").read_text())
    return document


@dataclass
class Chain:
    """A fresh embedded chain with the marketplace deployed and the actors set up."""

    w3: Web3
    tester: EthereumTester
    keys: dict[str, bytes]
    hub: Any = None
    token: Any = None
    registry: Any = None
    app: str = ""
    dataset: str = ""
    pool: str = ""
    salts: count[int] = field(default_factory=count)

    def addr(self, role: str) -> str:
        return str(Account.from_key(self.keys[role]).address)

    def send(self, call: Any, role: str) -> Any:
        """Send a transaction from ``role`` and return its receipt (raises if it reverted)."""
        tx_hash = call.transact({"from": self.addr(role)})
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {receipt}")
        return receipt

    @property
    def domain(self) -> Domain:
        return Domain(self.w3.eth.chain_id, self.hub.address)


def deploy() -> Chain:
    """Start an embedded chain, deploy Token, Registry and Hub, register assets, fund actors."""
    backend = PyEVMBackend()
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    keys = {role: backend.account_keys[i].to_bytes() for i, role in enumerate(ROLES)}
    chain = Chain(w3=w3, tester=tester, keys=keys)
    owner = chain.addr("owner")

    def create(name: str, *args: Any) -> Any:
        artifact = _load(name)
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = w3.eth.get_transaction_receipt(factory.constructor(*args).transact({"from": owner}))
        return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    chain.token = create("Token", "sealrun devnet token", "SRLC", 9)
    chain.registry = create("Registry")
    chain.hub = create("Hub", chain.token.address, chain.registry.address)
    reg = chain.registry.functions
    chain.send(reg.createApp("app", "https://s/app", b"\x01" * 32, b"\x02" * 32, make_tag(TagBit.SGX)), "app")
    chain.app = reg.appId(chain.addr("app"), "app").call()
    chain.send(reg.createDataset("data", "https://s/data", b"\x03" * 32), "dataset")
    chain.dataset = reg.datasetId(chain.addr("dataset"), "data").call()
    chain.send(reg.createWorkerpool("pool", 10, 20), "pool")
    chain.pool = reg.workerpoolId(chain.addr("pool"), "pool").call()
    for role in ("requester", "pool"):
        chain.send(chain.token.functions.mint(chain.addr(role), 10**15), "owner")
        chain.send(chain.token.functions.approve(chain.hub.address, 2**256 - 1), role)
        chain.send(chain.hub.functions.deposit(10**14), role)
    return chain


def grant(chain: Chain, *, uses: int = 1_000_000) -> tuple[int, bytes]:
    """The dataset owner grants the app ``uses`` tasks at price 3; return (gasUsed, grant id)."""
    expiry = int(chain.w3.eth.get_block("latest")["timestamp"]) + 10**6
    call = chain.registry.functions.grant(
        chain.dataset, chain.app, "0x" + "00" * 20, "0x" + "00" * 20, 3, uses, expiry, False
    )
    receipt = chain.send(call, "dataset")
    created = chain.registry.events.GrantCreated().process_receipt(receipt)[0]["args"]
    return int(receipt["gasUsed"]), bytes(created["grantId"])


def match(
    chain: Chain,
    *,
    volume: int = 1,
    with_dataset: bool = True,
    grant_id: bytes | None = None,
    callback: str = ZERO_ADDRESS,
) -> tuple[int, bytes, tuple[Any, ...]]:
    """Match fresh orders (under ``grant_id`` if given: an unsigned dataset order that
    references the grant; the request names ``callback``); return (gasUsed, dealid, deal tuple)."""
    # Salts as an SDK makes them: 32 unpredictable-looking bytes (they cost full calldata gas).
    salt = hashlib.sha256(b"salt %d" % next(chain.salts)).digest()
    dom = chain.domain
    app = sign_order(
        AppOrder(app=chain.app, appprice=5, volume=volume, tag=TEE, salt=salt), chain.keys["app"], dom
    )
    dataset = (
        sign_order(
            DatasetOrder(dataset=chain.dataset, datasetprice=3, volume=volume, tag=bytes(32), salt=salt),
            chain.keys["dataset"],
            dom,
        )
        if with_dataset and grant_id is None
        else DatasetOrder(dataset=chain.dataset, datasetprice=3, volume=0, tag=bytes(32), salt=grant_id)
        if grant_id is not None
        else DatasetOrder.none()
    )
    pool = sign_order(
        WorkerpoolOrder(
            workerpool=chain.pool, workerpoolprice=100, volume=volume, tag=POOL_TAG, category=0, salt=salt
        ),
        chain.keys["pool"],
        dom,
    )
    request = sign_order(
        RequestOrder(
            app=chain.app,
            appmaxprice=5,
            dataset=dataset.dataset,
            datasetmaxprice=3,
            workerpool=chain.pool,
            workerpoolmaxprice=100,
            requester=chain.addr("requester"),
            volume=volume,
            tag=TEE,
            category=0,
            beneficiary=chain.addr("requester"),
            callback=callback,
            params='{"iexec_args":"--in input.csv"}',
            salt=salt,
        ),
        chain.keys["requester"],
        dom,
    )
    call = chain.hub.functions.matchOrders(app.to_abi(), dataset.to_abi(), pool.to_abi(), request.to_abi())
    receipt = chain.send(call, "requester")
    # A match under a grant also holds the registry's GrantUsed log: not the hub's to decode.
    event = chain.hub.events.OrdersMatched().process_receipt(receipt, errors=DISCARD)[0]["args"]
    deal = event["deal"]
    names = [c["name"] for c in _deal_components(chain)]
    deal_tuple = tuple(deal[name] for name in names) if isinstance(deal, Mapping) else tuple(deal)
    return int(receipt["gasUsed"]), bytes(event["dealid"]), deal_tuple


def _deal_components(chain: Chain) -> list[dict[str, Any]]:
    for entry in chain.hub.abi:
        if entry.get("name") == "dealId":
            components: list[dict[str, Any]] = entry["inputs"][0]["components"]
            return components
    raise RuntimeError("the Hub ABI has no dealId(deal)")


def task_result(chain: Chain, dealid: bytes, index: int) -> tuple[Any, ...]:
    """(index, digest, enclave, authorization, enclaveSignature, resultURI, receiptDigest) of a task."""
    tid = task_id(dealid, index)
    digest = hashlib.sha256(b"output archive of %d" % index).digest()
    receipt = hashlib.sha256(b"task receipt of %d" % index).digest()
    worker, enclave = chain.addr("worker"), chain.addr("enclave")
    authorization = sign_digest(chain.keys["pool"], authorization_digest(worker, tid, enclave))
    signature = sign_digest(
        chain.keys["enclave"],
        result_signature_digest(result_hash(tid, digest), result_seal(worker, tid, digest), receipt),
    )
    uri = f"https://store.example/r/{tid.hex()[:16]}"
    return (index, digest, enclave, authorization, signature, uri, receipt)


def finalize(chain: Chain, dealid: bytes, deal: tuple[Any, ...], index: int) -> int:
    receipt = chain.send(chain.hub.functions.finalize(deal, *task_result(chain, dealid, index)), "worker")
    return int(receipt["gasUsed"])


def finalize_many(chain: Chain, dealid: bytes, deal: tuple[Any, ...], indices: range) -> int:
    batch = [task_result(chain, dealid, i) for i in indices]
    return int(chain.send(chain.hub.functions.finalizeMany(deal, batch), "worker")["gasUsed"])


def deploy_callback_receiver(chain: Chain) -> Any:
    """Compile and deploy the test callback that stores what it receives."""
    import vyper

    compiled = vyper.compile_code(CALLBACK_RECEIVER.read_text(), output_formats=["abi", "bytecode"])
    factory = chain.w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    tx_hash = factory.constructor().transact({"from": chain.addr("owner")})
    address = chain.w3.eth.get_transaction_receipt(tx_hash)["contractAddress"]
    return chain.w3.eth.contract(address=address, abi=compiled["abi"])


def callee_gas(chain: Chain, receiver: Any, dealid: bytes, index: int) -> int:
    """The callback's own execution gas: a direct call with the hub's arguments, less the
    intrinsic 21,000 and its calldata (4 per zero byte, 16 per other byte)."""
    digest = task_result(chain, dealid, index)[1]
    call = receiver.functions.receiveResult(task_id(dealid, index), digest)
    data = bytes.fromhex(call._encode_transaction_data()[2:])
    calldata = sum(4 if byte == 0 else 16 for byte in data)
    return int(chain.send(call, "worker")["gasUsed"]) - 21_000 - calldata


def report_failure(chain: Chain, dealid: bytes, deal: tuple[Any, ...], index: int) -> int:
    tid = task_id(dealid, index)
    worker, enclave = chain.addr("worker"), chain.addr("enclave")
    log_digest, code = b"\x07" * 32, 3
    authorization = sign_digest(chain.keys["pool"], authorization_digest(worker, tid, enclave))
    receipt = hashlib.sha256(b"task receipt of %d" % index).digest()
    signature = sign_digest(chain.keys["enclave"], failure_digest(tid, code, log_digest, receipt))
    call = chain.hub.functions.reportFailure(
        deal, index, code, log_digest, enclave, authorization, signature, receipt
    )
    return int(chain.send(call, "worker")["gasUsed"])


def claim(chain: Chain, deal: tuple[Any, ...], index: int) -> int:
    deadline = deal[_deal_index(chain, "deadline")]
    chain.tester.time_travel(int(deadline) + 1)
    return int(chain.send(chain.hub.functions.claim(deal, index), "requester")["gasUsed"])


def _deal_index(chain: Chain, name: str) -> int:
    return [c["name"] for c in _deal_components(chain)].index(name)


def measure(*, volume: int = 100) -> dict[str, int]:
    """Run every scenario on a fresh chain and return the gas figures (see module docstring)."""
    chain = deploy()
    figures: dict[str, int] = {}
    # Cold: the first deal of fresh payees.
    figures["match_with_dataset_cold"], dealid, deal = match(chain)
    figures["finalize_cold"] = finalize(chain, dealid, deal, 0)
    figures["single_task_total_cold"] = figures["match_with_dataset_cold"] + figures["finalize_cold"]
    # Warm: every payee now holds a balance.
    figures["match_with_dataset"], dealid, deal = match(chain)
    figures["finalize"] = finalize(chain, dealid, deal, 0)
    figures["single_task_total"] = figures["match_with_dataset"] + figures["finalize"]
    figures["match_without_dataset"], dealid, deal = match(chain, with_dataset=False)
    figures["finalize_without_dataset"] = finalize(chain, dealid, deal, 0)
    _, dealid, deal = match(chain)
    figures["report_failure"] = report_failure(chain, dealid, deal, 0)
    # A result callback: the first call creates the receiver's slots, the second is measured
    # (the steady state), and so is the callee alone on the same slots.
    receiver = deploy_callback_receiver(chain)
    _, dealid, deal = match(chain, callback=receiver.address)
    finalize(chain, dealid, deal, 0)
    _, dealid, deal = match(chain, callback=receiver.address)
    figures["finalize_with_callback"] = finalize(chain, dealid, deal, 0)
    figures["callback_callee"] = callee_gas(chain, receiver, dealid, 0)
    figures["callback_overhead"] = (
        figures["finalize_with_callback"] - figures["finalize"] - figures["callback_callee"]
    )
    # Under a dataset grant (decision 0070): the grant once, then a match that references it
    # (the first use of a grant creates its uses slot; the second is the steady state).
    figures["grant"], granted = grant(chain)
    match(chain, grant_id=granted)
    figures["match_with_grant"], dealid, deal = match(chain, grant_id=granted)
    figures["single_task_total_with_grant"] = figures["match_with_grant"] + finalize(chain, dealid, deal, 0)
    # Amortized over a deal of `volume` tasks: one match, then one finalizeMany batch, and
    # (on a second deal) one finalize per task.
    match_gas, dealid, deal = match(chain, volume=volume)
    figures[f"match_volume_{volume}"] = match_gas
    batch_gas = finalize_many(chain, dealid, deal, range(volume))
    figures[f"finalize_many_{volume}"] = batch_gas
    figures[f"per_task_amortized_{volume}"] = (match_gas + batch_gas) // volume
    match_gas, dealid, deal = match(chain, volume=volume)
    singles = sum(finalize(chain, dealid, deal, i) for i in range(volume))
    figures[f"per_task_amortized_{volume}_single_finalize"] = (match_gas + singles) // volume
    # Claim last: it travels past the deadline of every deal on this chain.
    _, dealid, deal = match(chain)
    figures["claim"] = claim(chain, deal, 0)
    return figures


def report(figures: dict[str, int], volume: int) -> str:
    """A table of our figures beside PoCo's, as ratios."""
    rows = [
        ("matchOrders, with dataset", figures["match_with_dataset"], POCO["match"]),
        ("matchOrders, without dataset", figures["match_without_dataset"], POCO["match"]),
        (
            "finalize (PoCo: initialize + contributeAndFinalize)",
            figures["finalize"],
            POCO["initialize"] + POCO["contribute_and_finalize"],
        ),
        ("reportFailure (PoCo: none, waits for claim)", figures["report_failure"], None),
        ("finalize with a result callback", figures["finalize_with_callback"], None),
        ("  the callee's own execution gas", figures["callback_callee"], None),
        ("  the hub's cost of the call (goal <= 10,000)", figures["callback_overhead"], None),
        ("claim", figures["claim"], None),
        ("matchOrders, under a dataset grant", figures["match_with_grant"], POCO["match"]),
        ("grant (Registry, once per grant)", figures["grant"], None),
        ("one confidential task with dataset (match + finalize)", figures["single_task_total"], POCO_TOTAL),
        ("  same, under a dataset grant", figures["single_task_total_with_grant"], POCO_TOTAL),
        ("  same, first deal of fresh payees (cold)", figures["single_task_total_cold"], POCO_TOTAL),
        (
            f"per task, amortized over {volume} tasks (finalizeMany)",
            figures[f"per_task_amortized_{volume}"],
            POCO_TOTAL,
        ),
        (
            f"per task, amortized over {volume} tasks (finalize each)",
            figures[f"per_task_amortized_{volume}_single_finalize"],
            POCO_TOTAL,
        ),
    ]
    lines = [f"{'operation':58} {'sealrun':>10} {'PoCo':>10} {'ratio':>7}"]
    for name, ours, theirs in rows:
        ratio = f"{ours / theirs:.1%}" if theirs else "-"
        reference = f"{theirs:,}" if theirs else "-"
        lines.append(f"{name:58} {ours:>10,} {reference:>10} {ratio:>7}")
    lines.append("goals: single task <= 300,000 gas (18% of PoCo), amortized <= 100,000 gas per task")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gas of the sealrun hub beside iExec PoCo.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--volume", type=int, default=100, help="tasks in the amortized deal (default 100)")
    args = parser.parse_args(argv)
    figures = measure(volume=args.volume)
    if args.json:
        figures["poco_total"] = POCO_TOTAL
        print(json.dumps(figures, sort_keys=True))
    else:
        print(report(figures, args.volume))
    return 0


if __name__ == "__main__":
    sys.exit(main())
