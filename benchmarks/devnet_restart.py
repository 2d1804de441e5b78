"""How long the embedded chain takes to come back from its journal.

Builds a journaled embedded chain (the marketplace deployed, then N token transfers and
deposits with the SDK's sender: real signed transactions), closes it, and measures opening
it again, which replays every journaled request (see ``sealrun.adapters.localchain.journal``).
It also reports what journaling costs while the chain runs (seconds per transaction with and
without the journal's fsync).

    python benchmarks/devnet_restart.py [--transactions 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.embedded import EmbeddedChain


def _load(chain: EmbeddedChain, transactions: int, index: Path) -> float:
    """Deploy, fund one account, then ``transactions`` deposits; returns seconds per deposit."""
    rpc = Rpc(chain.web3(), url="embedded", reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=chain.accounts[0])
    deployment = deploy_marketplace(deployer)
    user = Account.create()
    fund_accounts(deployer, deployment.token, [user.address], ether=10**20, tokens=10**15)
    market = Marketplace(rpc, hub=deployment.hub, account=user, index=index, start_block=deployment.block)
    begun = time.perf_counter()
    for _ in range(transactions):
        market.deposit(1)
    return (time.perf_counter() - begun) / transactions


def measure(transactions: int) -> dict[str, Any]:
    """Build, close and reopen a journaled chain; the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="sealrun-restart-") as folder:
        root = Path(folder)
        journal = root / "journal.jsonl"
        plain = _load(EmbeddedChain(), transactions, root / "plain.sqlite")
        chain = EmbeddedChain(journal=journal)
        journaled = _load(chain, transactions, root / "index.sqlite")
        head = chain.head
        chain.close()
        begun = time.perf_counter()
        again = EmbeddedChain(journal=journal)
        restore = time.perf_counter() - begun
        assert again.head == head, "the replay did not reach the same head"
        records = again.replayed
        again.close()
        return {
            "records": records,
            "blocks": head[0],
            "journal_bytes": journal.stat().st_size,
            "restore_seconds": round(restore, 3),
            "restore_ms_per_record": round(1000 * restore / max(records, 1), 2),
            "tx_seconds_plain": round(plain, 4),
            "tx_seconds_journaled": round(journaled, 4),
        }


def main() -> None:
    """Print the restore time (and the journaling cost) for a chain of N transactions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.transactions)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"restore: {result['restore_seconds']} s for {result['records']} journaled requests "
        f"({result['blocks']} blocks, {result['journal_bytes']} bytes; "
        f"{result['restore_ms_per_record']} ms each)"
    )
    print(
        f"per transaction while running: {result['tx_seconds_journaled']} s journaled, "
        f"{result['tx_seconds_plain']} s without a journal"
    )


if __name__ == "__main__":
    main()
