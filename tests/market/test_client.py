"""``MarketClient`` against the real market app in process: typed answers, codes, signed unpublish."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.http.market import MarketClient
from sealrun.api.market import OrderOut
from sealrun.errors import OrderError, RequestError
from tests.market.conftest import CHAIN_ID, HUB, NOW, MemoryChain, actor, domain, pool_order, sign_order
from tests.market.test_api import register_pool


def test_publish_find_and_unpublish_through_the_client(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    market = MarketClient("http://testserver", http=client)
    published = market.publish(
        "workerpool", sign_order("workerpool", pool_order(pool), owner.key), chain_id=CHAIN_ID, hub=HUB
    )
    assert isinstance(published, OrderOut)
    assert (published.kind, published.signer, published.remaining) == ("workerpool", owner.address, 10)
    assert market.order(published.order_hash) == published
    assert [o.order_hash for o in market.orderbook("workerpool", workerpool=pool)] == [published.order_hash]
    # The server verifies the signature: another account is refused with the market's code.
    with pytest.raises(OrderError) as stranger:
        market.unpublish(published.order_hash, key=actor().key, domain=domain(), clock=lambda: NOW)
    assert stranger.value.code == "ORDER_NOT_SIGNER"
    with pytest.raises(RequestError) as stale:
        market.unpublish(published.order_hash, key=owner.key, domain=domain(), clock=lambda: NOW - 3600)
    assert stale.value.code == "REQUEST_EXPIRED"
    market.unpublish(published.order_hash, key=owner.key, domain=domain(), clock=lambda: NOW)
    assert market.order(published.order_hash).status == "unpublished"
    assert market.orderbook("workerpool") == []


def test_codes_come_back_in_their_family(client: TestClient) -> None:
    market = MarketClient("http://testserver", http=client)
    with pytest.raises(OrderError) as missing:
        market.order("0x" + "ab" * 32)
    assert missing.value.code == "ORDER_NOT_FOUND"
    with pytest.raises(OrderError) as kind:
        market.orderbook("bananas")
    assert kind.value.code == "ORDER_INVALID"
