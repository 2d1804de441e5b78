"""``sealrun chain``: run a local chain, deploy the marketplace on it, fund test accounts.

- ``serve``: the embedded py-evm chain over HTTP JSON-RPC (state lives in memory: stopping
  the server ends the chain, unless ``--journal FILE`` keeps it: replayed at start, appended
  to before each state change is answered);
- ``anvil``: start anvil (found in tools/node, on PATH, or installed with ``--install``);
- ``deploy``: token + registry + hub on the profile's chain, recorded in ``sealrun.toml``;
- ``fund``: ether for gas and tokens for escrow to test accounts (devnets only);
- ``show``: the profile, the node and the deployed contracts.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer

from sealrun.adapters.profiles import ChainProfile
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    Session,
    parse_address,
)
from sealrun.errors import ChainError

if TYPE_CHECKING:
    from sealrun.adapters.chain.rpc import Rpc
    from sealrun.adapters.chain.transactions import TransactionSender

__all__ = ["chain_app"]

chain_app = typer.Typer(name="chain", help="Local chains (embedded, anvil) and marketplace deployment.")

_JOURNAL_OPTION = typer.Option(
    None, "--journal", help="Keep the chain in this file: replayed at start, appended to (fsynced)."
)
_FUND_OPTION = typer.Option([], "--fund", help="Also fund this address (repeatable).")
_ADDRESSES_ARGUMENT = typer.Argument(None, help="Addresses to fund (default: the project's wallets).")
_ETHER_OPTION = typer.Option(10 * 10**18, "--ether", help="Wei of ether for gas per funded account.")
_TOKENS_OPTION = typer.Option(10**12, "--tokens", help="Tokens (smallest unit) minted per funded account.")


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    stop.wait()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 8545


@chain_app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default: from the embedded profile)."),
    port: int | None = typer.Option(
        None, help="Port (default: from the embedded profile; 0 = any free one)."
    ),
    chain: str = typer.Option("embedded", "--chain", help="Profile to serve and update."),
    journal: Path | None = _JOURNAL_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Serve the embedded chain over HTTP JSON-RPC until Ctrl-C (in memory unless --journal)."""
    from sealrun.adapters.localchain.embedded import EmbeddedChain
    from sealrun.adapters.localchain.server import ChainServer

    out = Output(json_out)
    session = Session.load(config, chain)
    profile = session.profile
    default_host, default_port = _host_port(profile.rpc_url)
    embedded = EmbeddedChain(journal=journal)
    server = ChainServer(embedded, host=host or default_host, port=default_port if port is None else port)
    server.start()
    resumed = embedded.replayed > 0
    if not resumed and (server.url != profile.rpc_url or profile.hub is not None):
        # A fresh chain has no marketplace: forget the addresses of the previous one.
        fresh = ChainProfile(profile.name, profile.kind, server.url)
        session.config.with_profile(fresh).save()
    block, head = embedded.head
    out.result(
        {
            "url": server.url,
            "chain_id": embedded.tester.backend.chain.chain_id,
            "profile": profile.name,
            "journal": None if journal is None else str(journal),
            "replayed": embedded.replayed,
            "block": block,
            "head": head,
        }
    )
    out.info("serving the embedded chain; deploy with `sealrun chain deploy`; Ctrl-C stops it")
    try:
        _wait_for_signal()
    finally:
        server.stop()
        embedded.close()


@chain_app.command("anvil")
def anvil(
    port: int | None = typer.Option(None, help="Port (default: from the anvil profile)."),
    install: bool = typer.Option(False, "--install", help="Install @foundry-rs/anvil with npm if missing."),
    chain: str = typer.Option("anvil", "--chain", help="Profile to update."),
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Start anvil on a loopback port until Ctrl-C."""
    from sealrun.adapters.localchain.anvil import AnvilNode, find_anvil

    out = Output(json_out)
    session = Session.load(config, chain)
    profile = session.profile
    binary = find_anvil(cache_dir=Path.home() / ".cache" / "sealrun" / "anvil", install=install)
    node = AnvilNode(binary, port=port if port is not None else _host_port(profile.rpc_url)[1]).start()
    try:
        session.config.with_profile(ChainProfile(profile.name, "anvil", node.url)).save()
        out.result({"url": node.url, "chain_id": 31337, "binary": str(binary), "profile": profile.name})
        out.info("anvil is running; deploy with `sealrun chain deploy --chain anvil`; Ctrl-C stops it")
        _wait_for_signal()
    finally:
        node.stop()


def _connect(url: str, timeout: float = 30.0) -> Rpc:
    from sealrun.adapters.chain.compiled import revert_table
    from sealrun.adapters.chain.rpc import Rpc

    return Rpc.connect(url, reverts=revert_table(), timeout=timeout)


def _deployer(session: Session, rpc: Rpc, use_wallet: bool) -> TransactionSender:
    from sealrun.adapters.chain.transactions import TransactionSender

    if use_wallet:
        return TransactionSender(rpc, session.unlock().account)
    accounts = rpc.run("list the node's accounts", lambda: list(rpc.w3.eth.accounts))
    if not accounts:
        raise ChainError(
            f"the node at {rpc.url} has no unlocked account: pass --wallet with a funded wallet",
            code="CHAIN_NO_SENDER",
        )
    return TransactionSender(rpc, None, node_account=str(accounts[0]))


@chain_app.command("deploy")
def deploy(
    fund: list[str] = _FUND_OPTION,
    fund_wallets: bool = typer.Option(
        True, "--fund-wallets/--no-fund-wallets", help="Fund the project's wallets."
    ),
    ether: int = _ETHER_OPTION,
    tokens: int = _TOKENS_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Deploy token + registry + hub (with the default categories) and record them in the profile.

    The deployer is --wallet if given, else the node's first unlocked account (embedded, anvil).
    """
    from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts

    out = Output(json_out)
    session = Session.load(config, chain, wallet, password_file)
    profile = session.profile
    targets = [parse_address(a, "--fund") for a in fund]
    if fund_wallets:
        targets += [w.address for w in session.keystore.list() if w.address not in targets]
    rpc = _connect(profile.rpc_url)
    sender = _deployer(session, rpc, wallet is not None)
    out.info(f"deploying on {profile.rpc_url} from {sender.address} ...")
    deployment = deploy_marketplace(sender)
    funded = fund_accounts(sender, deployment.token, targets, ether=ether, tokens=tokens)
    updated = ChainProfile(
        profile.name,
        profile.kind,
        profile.rpc_url,
        hub=deployment.hub,
        token=deployment.token,
        chain_id=deployment.chain_id,
        deploy_block=deployment.block,
    )
    session.config.with_profile(updated).save()
    session.index_path().unlink(missing_ok=True)  # the old index belongs to the previous hub
    out.result(
        {
            "profile": profile.name,
            "chain_id": deployment.chain_id,
            "hub": deployment.hub,
            "registry": deployment.registry,
            "token": deployment.token,
            "deploy_block": deployment.block,
            "deployer": deployment.deployer,
            "funded": funded,
        }
    )


@chain_app.command("fund")
def fund_command(
    addresses: list[str] = _ADDRESSES_ARGUMENT,
    ether: int = _ETHER_OPTION,
    tokens: int = _TOKENS_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Give test accounts ether and tokens (the sender must own the token: the deployer)."""
    from sealrun.adapters.chain.deploy import fund_accounts

    out = Output(json_out)
    session = Session.load(config, chain, wallet, password_file)
    _, token = session.profile.deployed()
    targets = [parse_address(a, "address") for a in addresses or []] or [
        w.address for w in session.keystore.list()
    ]
    rpc = _connect(session.profile.rpc_url)
    sender = _deployer(session, rpc, wallet is not None)
    out.result({"funded": fund_accounts(sender, token, targets, ether=ether, tokens=tokens)})


@chain_app.command("show")
def show(
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show the chain profile, the node's chain id and head block, and the deployed contracts."""
    out = Output(json_out)
    session = Session.load(config, chain)
    profile = session.profile
    rpc = _connect(profile.rpc_url, timeout=10)
    head = rpc.run("read the block number", lambda: int(rpc.w3.eth.block_number))
    out.result(
        {
            "profile": profile.name,
            "kind": profile.kind,
            "rpc_url": profile.rpc_url,
            "chain_id": rpc.chain_id,
            "block": head,
            "hub": profile.hub,
            "token": profile.token,
            "deploy_block": profile.deploy_block,
        }
    )
