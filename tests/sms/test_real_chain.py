"""The SMS reading a real chain: the hub on the embedded EVM, a matched TEE deal, a release."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.adapters.localchain.server import ChainServer
from sealrun.core.attestation import SimulatorKey, make_simulated_evidence, report_data_for
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle, authorization_digest, sign_digest
from sealrun.errors import SealrunError
from sealrun.services.sms.app import build_components
from sealrun.services.sms.release import ReleaseRequest
from sealrun.testing.chainstate import InMemoryChainReader
from tests.chain.conftest import ROLES, World
from tests.chain.test_marketplace import register, signed_orders
from tests.sms.conftest import Clock, make_settings
from tests.sms.conftest import World as SmsWorld


@pytest.fixture(scope="module")
def chain_world() -> Iterator[World]:
    chain = EmbeddedChain()
    rpc = Rpc(chain.web3(), reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=rpc.w3.eth.accounts[0])
    deployment = deploy_marketplace(deployer)
    accounts = {role: Account.create() for role in ROLES}
    fund_accounts(
        deployer, deployment.token, [a.address for a in accounts.values()], ether=10**19, tokens=10**12
    )
    markets = {
        role: Marketplace(rpc, hub=deployment.hub, account=account, start_block=deployment.block)
        for role, account in accounts.items()
    }
    markets["requester"].deposit(100_000)
    markets["pool"].deposit(100_000)
    server = ChainServer(chain, port=0).start()  # the same chain over JSON-RPC, for the composition root
    try:
        yield World("embedded", rpc, deployment, deployer, accounts, markets, server.url)
    finally:
        server.stop()


def test_release_against_a_deal_on_chain(chain_world: World, tmp_path: Path, simulator: SimulatorKey) -> None:
    world = chain_world
    app, dataset, pool = register(world)  # app fingerprint 0x0202…, dataset https://store/d
    deal = world.markets["requester"].match(*signed_orders(world, app, dataset, pool))
    task = world.markets["requester"].tasks(deal)[0].task_id
    domain = RequestDomain(chain_id=world.deployment.chain_id, hub=world.deployment.hub)
    # No reader injected: the composition root connects to the chain over JSON-RPC itself.
    settings = make_settings(
        tmp_path, simulator, chain_id=domain.chain_id, hub=domain.hub, chain_rpc_url=world.url,
        chain_start_block=world.deployment.block,
    )  # fmt: skip
    clock = [int(world.rpc.w3.eth.get_block("latest")["timestamp"])]
    built = build_components(settings, clock=lambda: clock[0])
    try:
        sms = built.usecases
        owner, requester, pool_owner = (world.accounts[r] for r in ("owner", "requester", "pool"))
        dataset_key, result_key = Identity.generate(), Identity.generate()
        # The test world of tests/sms only signs requests here; the chain is the real one.
        signer = SmsWorld(
            chain=InMemoryChainReader(), clock=Clock(clock[0]), simulator=simulator, domain=domain
        )
        sms.put_dataset_key(
            signer.signed(owner, "PUT", f"/v1/datasets/{dataset}/key"), dataset, str(dataset_key)
        )
        sms.put_result_recipient(
            signer.signed(requester, "PUT", "/r"), requester.address, str(result_key.recipient)
        )
        enclave = sms.enclave_challenge(signer.signed(pool_owner, "POST", "/c"), task)
        nonce, _ = sms.issue_nonce(task)
        ephemeral = Identity.generate()
        evidence = make_simulated_evidence(
            simulator,
            measurement=b"\2" * 32,
            report_data=report_data_for(nonce, ephemeral.public_bytes, task),
        )
        worker = Account.create()
        authorization = sign_digest(
            bytes(pool_owner.key), authorization_digest(worker.address, task, enclave)
        )
        request = ReleaseRequest(
            task_id=task, nonce=nonce, worker=worker.address, authorization=authorization,
            evidence=evidence.to_json(), ephemeral_recipient=str(ephemeral.recipient),
        )  # fmt: skip
        bundle = SecretsBundle.from_json(open_bytes(sms.release(request).sealed_bundle, [ephemeral]))
        assert bundle.dataset is not None
        assert (bundle.dataset.url, bundle.dataset.key) == ("https://store/d", str(dataset_key))
        assert bundle.max_time == 1200
        assert bundle.params.args == "hello"
        # A stranger's deal-less task id is unknown on chain.
        with pytest.raises(SealrunError) as caught:
            sms.issue_nonce(b"\x07" * 32)
        assert caught.value.code == "RELEASE_TASK_UNKNOWN"
    finally:
        built.close()


@pytest.mark.e2e
def test_python_m_sms_serves_against_the_chain(
    chain_world: World, tmp_path: Path, simulator: SimulatorKey
) -> None:
    """``python -m sealrun.services.sms`` migrates, connects to the chain and serves /v1."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.sms.conftest import free_port

    port = free_port()
    pem = tmp_path / "sim.pem"
    pem.write_bytes(simulator.public_key.to_pem())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALRUN_SMS_")}
    env.update({
        "SEALRUN_SMS_DATA_DIR": str(tmp_path), "SEALRUN_SMS_PORT": str(port),
        "SEALRUN_SMS_CHAIN_RPC_URL": str(chain_world.url),
        "SEALRUN_SMS_CHAIN_ID": str(chain_world.deployment.chain_id),
        "SEALRUN_SMS_HUB": chain_world.deployment.hub, "SEALRUN_SMS_ALLOW_SIMULATED_EVIDENCE": "true",
        "SEALRUN_SMS_SIMULATOR_PUBLIC_KEY_FILE": str(pem),
    })  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "sealrun.services.sms"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, (
            process.stderr.read() if process.poll() is not None and process.stderr else ""
        )
        assert health["hub"].lower() == chain_world.deployment.hub.lower()
        unknown = httpx.post(f"http://127.0.0.1:{port}/v1/tasks/0x{'07' * 32}/nonce", timeout=10)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "RELEASE_TASK_UNKNOWN")
        assert (tmp_path / "master.key").exists()  # the devnet generated its master key
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
