"""Numbers at the market's edge, against a real server: 4xx with a code, never 500 (issue 13, finding 8).

``"²".isdigit()`` is true and ``int("²")`` fails (a 500); integers over 2^63 overflowed SQLite
(a 500); a request order's trust of 2^255 was accepted.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from sealrun.core.chainstate import ZERO_ADDRESS, AppRecord, WorkerpoolRecord
from sealrun.services.market.app import create_app
from sealrun.services.market.settings import MarketSettings
from tests.market.conftest import CHAIN_ID, HUB, TEE, MemoryChain, actor, pool_order, sign_order
from tests.pool.servers import free_port


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MemoryChain]]:
    chain = MemoryChain()
    folder: Path = tmp_path_factory.mktemp("market")
    settings = MarketSettings(database_url=f"sqlite:///{folder / 'm.db'}", hub=HUB)
    app = create_app(settings, chain_id=CHAIN_ID, reader=chain, ledger=chain, events=None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", chain
    finally:
        server.should_exit = True
        thread.join(10)


def publish(url: str, kind: str, order: dict[str, Any], **extra: Any) -> httpx.Response:
    body = {"kind": kind, "order": order, "chain_id": CHAIN_ID, "hub": HUB, **extra}
    return httpx.post(f"{url}/v1/orders", json=body, timeout=30)


def pool(chain: MemoryChain) -> tuple[str, bytes]:
    owner = actor()
    address = actor().address
    chain.pools[address] = WorkerpoolRecord(address=address, owner=owner.address)
    return address, owner.key


def code_of(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, str(response.json()["code"])


@pytest.mark.parametrize(
    "volume",
    ["²", "٣", "1²", " 1", "+1", "-1", "1_000", "0x10", "9" * 5000],
    ids=[
        "superscript",
        "arabic-indic",
        "mixed",
        "space",
        "plus",
        "minus",
        "underscore",
        "hex",
        "5000-digits",
    ],
)
def test_non_ascii_or_malformed_digits_are_a_400(market: tuple[str, MemoryChain], volume: str) -> None:
    url, chain = market
    address, key = pool(chain)
    order = sign_order("workerpool", pool_order(address), key)
    order["volume"] = volume
    assert code_of(publish(url, "workerpool", order)) == (400, "ORDER_INVALID")


def test_integers_beyond_the_columns_are_a_400(market: tuple[str, MemoryChain]) -> None:
    url, chain = market
    address, key = pool(chain)
    too_many = sign_order("workerpool", pool_order(address, volume=2**63), key)
    assert code_of(publish(url, "workerpool", too_many)) == (400, "ORDER_INVALID")
    big_category = sign_order("workerpool", pool_order(address, category=2**64), key)
    assert code_of(publish(url, "workerpool", big_category)) == (400, "ORDER_FIELD_INVALID")
    above_int32 = sign_order("workerpool", pool_order(address, category=2**31), key)
    assert code_of(publish(url, "workerpool", above_int32)) == (400, "ORDER_FIELD_INVALID")
    fine = sign_order("workerpool", pool_order(address, category=2**31 - 1), key)
    assert publish(url, "workerpool", fine).status_code == 201
    listed = sign_order("workerpool", pool_order(address), key)
    for expires_at in (2**63, 2**64, -1):
        response = publish(url, "workerpool", listed, expires_at=expires_at)
        assert code_of(response) == (422, "VALIDATION_FAILED")
    assert code_of(publish(url, "workerpool", listed, chain_id=2**256)) == (422, "VALIDATION_FAILED")


def test_a_request_order_above_trust_1_is_refused(market: tuple[str, MemoryChain]) -> None:
    url, chain = market
    requester, app_owner = actor(), actor()
    app = actor().address
    chain.apps[app] = AppRecord(address=app, owner=app_owner.address, fingerprint=b"\x01" * 32)
    fields: dict[str, Any] = {
        "app": app, "appmaxprice": 3, "dataset": ZERO_ADDRESS, "datasetmaxprice": 0,
        "workerpool": ZERO_ADDRESS, "workerpoolmaxprice": 9, "requester": requester.address, "volume": 2,
        "tag": TEE, "category": 0, "trust": 2**255, "beneficiary": requester.address,
        "callback": ZERO_ADDRESS, "params": "", "salt": "0x" + secrets.token_hex(32),
    }  # fmt: skip
    assert code_of(publish(url, "request", sign_order("request", fields, requester.key))) == (
        400,
        "ORDER_FIELD_INVALID",
    )
    fields["trust"] = 1
    assert publish(url, "request", sign_order("request", fields, requester.key)).status_code == 201


@pytest.mark.parametrize(
    "query",
    [
        {"category": "²"},
        {"category": "٣"},
        {"category": str(2**64)},
        {"category": str(2**31)},
        {"min_volume": str(2**63)},
        {"min_volume": "²"},
        {"offset": str(2**70)},
        {"limit": "١"},
    ],
)
def test_query_numbers_are_bounded(market: tuple[str, MemoryChain], query: dict[str, str]) -> None:
    url, _ = market
    response = httpx.get(f"{url}/v1/orderbook/workerpool", params=query, timeout=30)
    assert code_of(response) == (422, "VALIDATION_FAILED")
