"""What `devnet up` and `devnet reset` refuse: a resume under other options, a chain that lost
the marketplace, a reset of nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.devnet.deployment import resume_chain as _resume_chain
from sealrun.devnet.launch import DevnetOptions, _check_resumable
from sealrun.devnet.state import DevnetState
from sealrun.errors import ConfigError


def _previous(root: Path) -> DevnetState:
    return DevnetState(
        root=root, chain="embedded", rpc_url="http://127.0.0.1:1", chain_id=1, hub="0x" + "11" * 20,
        token="0x" + "22" * 20, registry="0x" + "33" * 20, deploy_block=1, workerpool="0x" + "44" * 20,
        pool_owner="0x" + "55" * 20, workers=("0x" + "66" * 20,), started_at=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(("chain", "workers"), [("anvil", None), (None, 3), ("anvil", 2)])
def test_a_resume_under_other_options_is_refused(
    tmp_path: Path, chain: str | None, workers: int | None
) -> None:
    options = DevnetOptions(state_dir=tmp_path, chain=chain, workers=workers)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        _check_resumable(_previous(tmp_path), options)
    assert caught.value.code == "DEVNET_RESUME_CONFLICT"
    _check_resumable(_previous(tmp_path), DevnetOptions(state_dir=tmp_path, chain=None, workers=None))  # type: ignore[arg-type]


def test_a_chain_that_came_back_without_the_marketplace_is_refused(tmp_path: Path) -> None:
    rpc = Rpc(EmbeddedChain().web3(), reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=rpc.w3.eth.accounts[0])
    with pytest.raises(ConfigError) as caught:
        _resume_chain(_previous(tmp_path), deployer, [])
    assert caught.value.code == "DEVNET_STATE_LOST"


def test_a_reset_of_nothing_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sealrun.cli", "devnet", "reset", "--yes",
         "--state-dir", str(tmp_path / "absent"), "--json"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert '"DEVNET_NOT_FOUND"' in done.stdout
