"""Orders signed by our SDK recover to the same signer with MetaMask's @metamask/eth-sig-util,
whose own signature over the same payload is byte-identical; the hub hashes them alike."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.core.orders import (
    ZERO_ADDRESS,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    typed_data,
)

SCRIPT = """
const sigUtil = require('@metamask/eth-sig-util');
const [data, signature, key] = process.argv.slice(1);
const typed = JSON.parse(data);
const V4 = sigUtil.SignTypedDataVersion.V4;
const signer = sigUtil.recoverTypedSignature({data: typed, signature, version: V4});
const theirs = sigUtil.signTypedData({privateKey: Buffer.from(key, 'hex'), data: typed, version: V4});
console.log(JSON.stringify({signer, theirs}));
"""


def node_sig_util(
    repo_root: Path, payload: dict[str, object], signature: bytes, key: bytes
) -> dict[str, str]:
    node = shutil.which("node")
    modules = repo_root / "tools" / "node" / "node_modules"
    if node is None or not (modules / "@metamask" / "eth-sig-util").is_dir():
        pytest.fail("node and @metamask/eth-sig-util are required (scripts/setup.sh installs them)")
    out = subprocess.run(
        [node, "-e", SCRIPT, json.dumps(payload), "0x" + signature.hex(), key.hex()],
        capture_output=True,
        text=True,
        check=True,
        env={"NODE_PATH": str(modules)},
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


@pytest.mark.node
def test_sdk_signatures_recover_with_metamask_and_metamask_signatures_match_on_chain(repo_root: Path) -> None:
    chain = EmbeddedChain()
    rpc = Rpc(chain.web3(), reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=chain.accounts[0])
    deployment = deploy_marketplace(deployer)
    owner, requester = Account.create(), Account.create()
    fund_accounts(deployer, deployment.token, [owner.address, requester.address], ether=10**18, tokens=10**6)
    pool_market = Marketplace(rpc, hub=deployment.hub, account=owner)
    pool = pool_market.registry.create_workerpool(
        description="p", worker_stake_ratio=30, scheduler_reward_ratio=5
    )
    order = WorkerpoolOrder(
        workerpool=pool.address, workerpoolprice=7, volume=3, tag=make_tag(TagBit.TEE, TagBit.TDX), category=1
    )
    signed = pool_market.sign(order)
    payload = typed_data(signed, pool_market.domain())
    result = node_sig_util(repo_root, payload, signed.sign, bytes(owner.key))
    assert result["signer"].lower() == owner.address.lower()
    # MetaMask's own signature is byte-identical (RFC 6979) to ours.
    assert result["theirs"] == "0x" + signed.sign.hex()
    assert pool_market.hub.order_hash("workerpool", signed) == pool_market.order_hash(signed)

    request_market = Marketplace(rpc, hub=deployment.hub, account=requester)
    request = RequestOrder(
        app=ZERO_ADDRESS,
        appmaxprice=0,
        dataset=ZERO_ADDRESS,
        datasetmaxprice=0,
        workerpool=ZERO_ADDRESS,
        workerpoolmaxprice=7,
        requester=requester.address,
        volume=1,
        tag=make_tag(TagBit.TEE),
        category=1,
        params='{"iexec_args": "ünïcode ✓"}',
    )
    signed_request = request_market.sign(request)
    recovered = node_sig_util(
        repo_root,
        typed_data(signed_request, request_market.domain()),
        signed_request.sign,
        bytes(requester.key),
    )
    assert recovered["signer"].lower() == requester.address.lower()
