"""Fixtures for the market: an in-process app over an in-memory chain, and order signing."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from sealrun.core.chainstate import ZERO_ADDRESS, AppRecord, DatasetRecord, WorkerpoolRecord
from sealrun.core.orders.codec import MARKET_CODES, order_from_json, order_to_json
from sealrun.core.orders.signing import sign_order as sign_model
from sealrun.core.orders.typed_data import Domain
from sealrun.core.requests import RequestDomain
from sealrun.services.market.app import create_app
from sealrun.services.market.settings import MarketSettings

CHAIN_ID = 31337
HUB = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOW = 1_800_000_000
TEE = "0x" + "00" * 31 + "01"


@dataclass
class MemoryChain:
    """Registries and order consumption, as a test stand-in for the hub."""

    apps: dict[str, AppRecord] = field(default_factory=dict)
    datasets: dict[str, DatasetRecord] = field(default_factory=dict)
    pools: dict[str, WorkerpoolRecord] = field(default_factory=dict)
    used: dict[bytes, int] = field(default_factory=dict)

    def app(self, address: str) -> AppRecord | None:
        return self.apps.get(address)

    def dataset(self, address: str) -> DatasetRecord | None:
        return self.datasets.get(address)

    def workerpool(self, address: str) -> WorkerpoolRecord | None:
        return self.pools.get(address)

    def deal(self, deal_id: bytes) -> None:
        return None

    def task(self, task_id: bytes) -> None:
        return None

    def consumed(self, order_hash: bytes) -> int:
        return self.used.get(order_hash, 0)


def sign_order(
    kind: str, fields: dict[str, Any], key: bytes, *, chain_id: int = CHAIN_ID, hub: str = HUB
) -> dict[str, Any]:
    """Sign an order given in wire form with core.orders and return its wire form."""
    unsigned = order_from_json({**fields, "sign": "0x" + "00" * 65}, kind=kind, codes=MARKET_CODES)
    return order_to_json(sign_model(unsigned, key, Domain(chain_id=chain_id, verifying_contract=hub)))


def pool_order(
    pool: str, *, price: int = 5, volume: int = 10, category: int = 0, tag: str = TEE
) -> dict[str, Any]:
    return {
        "workerpool": pool, "workerpoolprice": price, "volume": volume, "tag": tag, "category": category,
        "trust": 1, "apprestrict": ZERO_ADDRESS, "datasetrestrict": ZERO_ADDRESS,
        "requesterrestrict": ZERO_ADDRESS, "salt": "0x" + secrets.token_hex(32),
    }  # fmt: skip


@dataclass
class Actor:
    key: bytes
    address: str


def actor() -> Actor:
    account = Account.create()
    return Actor(key=bytes(account.key), address=account.address)


@pytest.fixture
def chain() -> MemoryChain:
    return MemoryChain()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'market.db'}"


@pytest.fixture
def clock() -> list[int]:
    return [NOW]


@pytest.fixture
def client(chain: MemoryChain, database_url: str, clock: list[int]) -> Iterator[TestClient]:
    settings = MarketSettings(database_url=database_url, hub=HUB)
    app = create_app(
        settings, chain_id=CHAIN_ID, reader=chain, ledger=chain, events=None, clock=lambda: clock[0]
    )
    with TestClient(app) as test_client:
        yield test_client


def publish(client: TestClient, kind: str, order: dict[str, Any], **extra: Any) -> Any:
    body = {"kind": kind, "order": order, "chain_id": CHAIN_ID, "hub": HUB, **extra}
    return client.post("/v1/orders", json=body)


def domain() -> RequestDomain:
    return RequestDomain(chain_id=CHAIN_ID, hub=HUB)


def order_domain() -> Domain:
    return Domain(chain_id=CHAIN_ID, verifying_contract=HUB)
