"""Deploy the marketplace (token + hub) and fund test accounts on a local chain.

The hub's constructor creates the five default categories (XS..XL: 300, 1200, 3600, 10800,
36000 s). :func:`deploy_marketplace` returns a :class:`Deployment` that the CLI records in a
chain profile; :func:`fund_accounts` gives test accounts ether for gas and escrow tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sealrun.adapters.chain.compiled import compiled
from sealrun.adapters.chain.token import TokenClient
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.errors import ChainError

__all__ = ["Deployment", "deploy_marketplace", "fund_accounts"]

TOKEN_NAME = "sealrun devnet token"  # noqa: S105 (a token, not a secret)
TOKEN_SYMBOL = "SRLC"  # noqa: S105
TOKEN_DECIMALS = 9


@dataclass(frozen=True)
class Deployment:
    """Where the marketplace lives on a chain."""

    chain_id: int
    hub: str
    token: str
    registry: str
    block: int
    deployer: str


def _deploy(sender: TransactionSender, name: str, args: list[object]) -> tuple[str, int]:
    contract = compiled(name)
    factory = sender.rpc.w3.eth.contract(abi=contract.abi, bytecode=contract.bytecode)
    data = factory.constructor(*args).data_in_transaction
    receipt = sender.send(
        to=None, data=bytes.fromhex(data.removeprefix("0x")), what=f"deploy the {name} contract"
    )
    if receipt.contract_address is None:
        raise ChainError(f"deploying {name} created no contract", code="CHAIN_DEPLOY_FAILED")
    return receipt.contract_address, receipt.block_number


def deploy_marketplace(sender: TransactionSender) -> Deployment:
    """Deploy a fresh token, a registry and a hub over both; the sender owns the token and hub.

    Raises:
        ChainError: if a deployment transaction fails.
    """
    token, first_block = _deploy(sender, "Token", [TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS])
    registry, _ = _deploy(sender, "Registry", [])
    hub, _ = _deploy(sender, "Hub", [token, registry])
    return Deployment(
        chain_id=sender.rpc.chain_id,
        hub=hub,
        token=token,
        registry=registry,
        block=first_block,
        deployer=sender.address,
    )


def fund_accounts(
    sender: TransactionSender, token_address: str, accounts: Iterable[str], *, ether: int, tokens: int
) -> list[str]:
    """Give each account ``ether`` wei for gas and mint it ``tokens`` (the sender owns the token).

    Returns:
        The funded accounts.
    """
    token = TokenClient(sender.rpc, token_address, sender)
    funded = []
    for account in accounts:
        if ether > 0:
            sender.send(to=account, data=b"", value=ether, what=f"send {ether} wei to {account}", gas=21_000)
        if tokens > 0:
            token.mint(account, tokens)
        funded.append(account)
    return funded
