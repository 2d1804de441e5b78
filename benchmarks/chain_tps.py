"""Transactions per second of the SDK on the three local backends, side by side.

For each backend (embedded py-evm in-process, the same chain served over HTTP by
`sealrun chain serve` in a second process, and anvil) it deploys the marketplace, then
measures, with the SDK's own sender (nonce manager, gas estimation, receipt waiting):

- ``sequential``: N ``deposit`` transactions, one after the other;
- ``concurrent``: N ``deposit`` transactions from one account over 16 threads.

The reference is anvil (foundry's node, written in Rust); ratios are backend / anvil.

    python benchmarks/chain_tps.py [--count 200] [--json] [--skip-anvil]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.anvil import AnvilNode, find_anvil
from sealrun.adapters.localchain.embedded import EmbeddedChain

REPO = Path(__file__).resolve().parents[1]
THREADS = 16


def measure(rpc: Rpc, count: int) -> dict[str, float]:
    """Deploy, then time ``count`` sequential and ``count`` concurrent deposits."""
    deployer = TransactionSender(rpc, None, node_account=rpc.w3.eth.accounts[0])
    deployment = deploy_marketplace(deployer)
    account = Account.create()
    fund_accounts(deployer, deployment.token, [account.address], ether=10**20, tokens=10**12)
    market = Marketplace(rpc, hub=deployment.hub, account=account, start_block=deployment.block)
    market.token.approve(market.hub.address, 10**12)

    def deposit(_: int) -> None:
        market.hub.send("deposit", [1], "deposit 1 token")

    started = time.perf_counter()
    for i in range(count):
        deposit(i)
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(deposit, range(count)))
    concurrent = time.perf_counter() - started
    assert market.balance().free == 2 * count, "every deposit must have landed exactly once"
    return {"sequential_tps": count / sequential, "concurrent_tps": count / concurrent}


def embedded(count: int) -> dict[str, float]:
    chain = EmbeddedChain()
    return measure(Rpc(chain.web3(), reverts=revert_table()), count)


def served(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sealrun = REPO / ".venv" / "bin" / "sealrun"
        subprocess.run([str(sealrun), "init", tmp, "--json"], check=True, capture_output=True)
        process = subprocess.Popen(
            [str(sealrun), "chain", "serve", "--port", "0", "--json", "--config", f"{tmp}/sealrun.toml"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            url = json.loads(process.stdout.readline())["url"]
            return measure(Rpc.connect(url, reverts=revert_table()), count)
        finally:
            process.terminate()
            process.wait(timeout=30)


def anvil(count: int) -> dict[str, float]:
    with AnvilNode(find_anvil()) as node:
        return measure(Rpc.connect(node.url, reverts=revert_table()), count)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200, help="transactions per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-anvil", action="store_true", help="no anvil (then no ratios)")
    args = parser.parse_args()
    results: dict[str, Any] = {"count": args.count, "threads": THREADS}
    backends = {"embedded": embedded, "served": served}
    if not args.skip_anvil:
        backends["anvil"] = anvil
    for name, run in backends.items():
        results[name] = run(args.count)
    if "anvil" in results:
        for name in ("embedded", "served"):
            for kind in ("sequential_tps", "concurrent_tps"):
                results[name][kind.replace("_tps", "_vs_anvil")] = (
                    results[name][kind] / results["anvil"][kind]
                )
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return
    print(f"SDK transactions per second, {args.count} deposits each ({THREADS} threads when concurrent)")
    print(f"{'backend':<10} {'sequential':>11} {'concurrent':>11} {'seq/anvil':>10} {'conc/anvil':>11}")
    for name in backends:
        row = results[name]
        ratio_s = f"{row['sequential_vs_anvil']:.2f}x" if "sequential_vs_anvil" in row else "(ref)"
        ratio_c = f"{row['concurrent_vs_anvil']:.2f}x" if "concurrent_vs_anvil" in row else "(ref)"
        if name == "anvil" or "anvil" not in results:
            ratio_s = ratio_c = "(ref)" if name == "anvil" else "-"
        rates = f"{row['sequential_tps']:>11.1f} {row['concurrent_tps']:>11.1f}"
        print(f"{name:<10} {rates} {ratio_s:>10} {ratio_c:>11}")


if __name__ == "__main__":
    sys.exit(main())
