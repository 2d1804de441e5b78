"""The market on the PostgreSQL server: migrations, publishing, filters and events."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.chain.events import ChainEvent
from sealrun.adapters.db import create_database_engine, drop_schema
from sealrun.core.chainstate import WorkerpoolRecord
from sealrun.services.market.app import create_app
from sealrun.services.market.settings import MarketSettings
from tests.market.conftest import CHAIN_ID, HUB, NOW, MemoryChain, actor, pool_order, publish, sign_order

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_client(chain: MemoryChain) -> Iterator[TestClient]:
    schema = f"market_{secrets.token_hex(4)}"
    settings = MarketSettings(database_url=POSTGRES, database_schema=schema, hub=HUB)
    app = create_app(settings, chain_id=CHAIN_ID, reader=chain, ledger=chain, events=None, clock=lambda: NOW)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine = create_database_engine(POSTGRES)
        drop_schema(engine, schema)
        engine.dispose()


@pytest.mark.postgres
def test_market_on_postgresql(pg_client: TestClient, chain: MemoryChain) -> None:
    owner, pool = actor(), actor().address
    chain.pools[pool] = WorkerpoolRecord(address=pool, owner=owner.address)
    big = 2**255  # uint256 prices sort as numbers, not as text or floats
    hashes = [
        publish(
            pg_client, "workerpool", sign_order("workerpool", pool_order(pool, price=p), owner.key)
        ).json()["order_hash"]
        for p in (big, 7, 300)
    ]
    prices = [o["price"] for o in pg_client.get("/v1/orderbook/workerpool").json()["orders"]]
    assert prices == ["7", "300", str(big)]
    zero = b"\x00" * 32
    event = ChainEvent(
        name="OrdersMatched",
        args={
            "appHash": zero, "datasetHash": zero, "workerpoolHash": bytes.fromhex(hashes[1][2:]),
            "requestHash": zero, "volume": 4,
        },
        block_number=3, tx_hash=b"\x01" * 32, log_index=0, address=HUB,
    )  # fmt: skip
    service = pg_client.app.state.service  # type: ignore[attr-defined]
    assert service.apply_events([event, event]) == 1
    assert pg_client.get(f"/v1/orders/{hashes[1]}").json()["remaining"] == 6
