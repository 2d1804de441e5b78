"""``sealrun account``: the wallet's escrow account on the hub (deposit, withdraw, show).

Amounts are in the token's smallest unit, like order prices.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.output import JSON_OPTION, Output
from sealrun.cli.session import (
    CHAIN_OPTION,
    CONFIG_OPTION,
    PASSWORD_FILE_OPTION,
    WALLET_OPTION,
    YES_OPTION,
    Session,
    parse_address,
    parse_amount,
)

__all__ = ["account_app"]

account_app = typer.Typer(name="account", help="Your escrow account on the hub.")


def _balances(market: object, address: str) -> dict[str, object]:
    from sealrun.adapters.chain.client import Marketplace

    assert isinstance(market, Marketplace)
    balance = market.balance(address)
    wallet_tokens = market.token.balance_of(address)
    ether = market.rpc.run("read the ether balance", lambda: int(market.rpc.w3.eth.get_balance(address)))  # type: ignore[arg-type]
    return {
        "account": address,
        "free": balance.free,
        "locked": balance.locked,
        "wallet_tokens": wallet_tokens,
        "ether_wei": ether,
    }


@account_app.command("deposit")
def deposit(
    amount: str = typer.Argument(..., help="Tokens (smallest unit) to move from the wallet into escrow."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Deposit tokens into your escrow account (approve + deposit)."""
    out = Output(json_out)
    value = parse_amount(amount, 0)
    market = Session.load(config, chain, wallet, password_file).market_after(
        lambda address: out.confirm(f"Deposit {value} tokens from {address} into the hub?", yes=yes)
    )
    receipt = market.deposit(value)
    out.result({**_balances(market, market.address), "deposited": value, "tx": receipt.tx_hash})


@account_app.command("withdraw")
def withdraw(
    amount: str = typer.Argument(..., help="Tokens (smallest unit) to move from escrow back to the wallet."),
    yes: bool = YES_OPTION,
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Withdraw free tokens from your escrow account."""
    out = Output(json_out)
    value = parse_amount(amount, 0)
    market = Session.load(config, chain, wallet, password_file).market_after(
        lambda address: out.confirm(f"Withdraw {value} tokens to {address}?", yes=yes)
    )
    receipt = market.withdraw(value)
    out.result({**_balances(market, market.address), "withdrawn": value, "tx": receipt.tx_hash})


@account_app.command("show")
def show(
    address: str | None = typer.Argument(
        None, help="Any address (default: your wallet's, no password needed)."
    ),
    chain: str | None = CHAIN_OPTION,
    wallet: str | None = WALLET_OPTION,
    config: Path | None = CONFIG_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Show escrow balances (free, locked), wallet tokens and ether."""
    out = Output(json_out)
    session = Session.load(config, chain, wallet)
    target = (
        parse_address(address, "address")
        if address
        else session.keystore.find(session.wallet_name or session.config.wallet).address
    )
    out.result(_balances(session.market(wallet=False), target))
