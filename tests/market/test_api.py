"""The market in-process: publishing checks, the book's filters and order, volume from events."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.chain.events import ChainEvent
from sealrun.api.signing import request_action, signature_headers
from sealrun.core.chainstate import ZERO_ADDRESS, AppRecord, WorkerpoolRecord
from sealrun.core.requests import sign_request
from sealrun.services.market.orderforms import read_order
from tests.market.conftest import (
    CHAIN_ID,
    HUB,
    NOW,
    TEE,
    Actor,
    MemoryChain,
    actor,
    domain,
    order_domain,
    pool_order,
    publish,
    sign_order,
)


def register_pool(chain: MemoryChain) -> tuple[Actor, str]:
    owner, pool = actor(), actor().address
    chain.pools[pool] = WorkerpoolRecord(address=pool, owner=owner.address)
    return owner, pool


def test_publish_and_find_a_workerpool_order(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    order = sign_order("workerpool", pool_order(pool), owner.key)
    response = publish(client, "workerpool", order)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["signer"] == owner.address
    assert body["remaining"] == 10
    assert body["status"] == "open"
    assert client.get(f"/v1/orders/{body['order_hash']}").json()["order"]["sign"] == order["sign"]
    page = client.get("/v1/orderbook/workerpool", params={"category": 0, "tag": TEE}).json()
    assert [o["order_hash"] for o in page["orders"]] == [body["order_hash"]]
    again = publish(client, "workerpool", order)
    assert again.json()["order_hash"] == body["order_hash"]


def test_book_is_sorted_by_price_and_filtered(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    hashes = {}
    for price, category, volume in ((30, 0, 5), (10, 0, 1), (20, 0, 5), (1, 1, 5)):
        order = sign_order(
            "workerpool", pool_order(pool, price=price, category=category, volume=volume), owner.key
        )
        hashes[price] = publish(client, "workerpool", order).json()["order_hash"]
    prices = [
        o["price"] for o in client.get("/v1/orderbook/workerpool", params={"category": 0}).json()["orders"]
    ]
    assert prices == ["10", "20", "30"]
    prices = [
        o["price"] for o in client.get("/v1/orderbook/workerpool", params={"min_volume": 2}).json()["orders"]
    ]
    assert prices == ["1", "20", "30"]
    assert client.get("/v1/orderbook/workerpool", params={"workerpool": actor().address}).json()["count"] == 0
    assert client.get("/v1/orderbook/workerpool", params={"workerpool": pool}).json()["count"] == 4
    gpu = "0x" + "00" * 30 + "01" + "01"  # TEE + GPU (bit 8)
    assert client.get("/v1/orderbook/workerpool", params={"tag": gpu}).json()["count"] == 0
    assert (
        client.get("/v1/orderbook/workerpool", params={"limit": 1, "offset": 1}).json()["orders"][0]["price"]
        == "10"
    )


def test_restrictions_match_the_named_party_or_anyone(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    requester = actor().address
    restricted = pool_order(pool) | {"requesterrestrict": requester}
    publish(client, "workerpool", sign_order("workerpool", restricted, owner.key)).raise_for_status()
    publish(client, "workerpool", sign_order("workerpool", pool_order(pool), owner.key)).raise_for_status()
    assert client.get("/v1/orderbook/workerpool", params={"requester": requester}).json()["count"] == 2
    assert client.get("/v1/orderbook/workerpool", params={"requester": actor().address}).json()["count"] == 1


def test_forged_signature_is_rejected(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    order = sign_order("workerpool", pool_order(pool), owner.key)
    forged = dict(order, workerpoolprice=0)  # price changed after signing
    response = publish(client, "workerpool", forged)
    assert response.status_code == 403
    assert response.json()["code"] == "ORDER_NOT_OWNER"
    garbage = dict(order, sign="0x" + "00" * 65)
    assert publish(client, "workerpool", garbage).json()["code"] == "ORDER_SIGNATURE_INVALID"


def test_unowned_order_is_rejected(client: TestClient, chain: MemoryChain) -> None:
    _owner, pool = register_pool(chain)
    stranger = actor()
    response = publish(client, "workerpool", sign_order("workerpool", pool_order(pool), stranger.key))
    assert response.json()["code"] == "ORDER_NOT_OWNER"
    unknown = publish(
        client, "workerpool", sign_order("workerpool", pool_order(actor().address), stranger.key)
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "ORDER_RESOURCE_UNKNOWN"


def test_foreign_chain_orders_are_rejected(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    order = sign_order("workerpool", pool_order(pool), owner.key, chain_id=1)
    response = client.post(
        "/v1/orders", json={"kind": "workerpool", "order": order, "chain_id": 1, "hub": HUB}
    )
    assert response.json()["code"] == "ORDER_WRONG_CHAIN"
    other_hub = "0x" + "11" * 20
    response = client.post(
        "/v1/orders", json={"kind": "workerpool", "order": order, "chain_id": CHAIN_ID, "hub": other_hub}
    )
    assert response.json()["code"] == "ORDER_WRONG_CHAIN"
    # Signed for chain 1 but presented as ours: it recovers another signer.
    assert publish(client, "workerpool", order).json()["code"] == "ORDER_NOT_OWNER"


def test_expired_listing_is_rejected_and_an_expiring_one_leaves_the_book(
    client: TestClient, chain: MemoryChain, clock: list[int]
) -> None:
    owner, pool = register_pool(chain)
    order = sign_order("workerpool", pool_order(pool), owner.key)
    response = publish(client, "workerpool", order, expires_at=NOW - 1)
    assert response.status_code == 409
    assert response.json()["code"] == "ORDER_EXPIRED"
    publish(client, "workerpool", order, expires_at=NOW + 60).raise_for_status()
    assert client.get("/v1/orderbook/workerpool").json()["count"] == 1
    clock[0] = NOW + 61
    assert client.get("/v1/orderbook/workerpool").json()["count"] == 0


def test_closed_or_consumed_orders_are_rejected(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    closed = sign_order("workerpool", pool_order(pool, volume=2), owner.key)
    chain.used[read_order("workerpool", closed, order_domain()).order_hash] = 2**256 - 1
    assert publish(client, "workerpool", closed).json()["code"] == "ORDER_CLOSED"
    used_up = sign_order("workerpool", pool_order(pool, volume=2), owner.key)
    chain.used[read_order("workerpool", used_up, order_domain()).order_hash] = 2
    assert publish(client, "workerpool", used_up).json()["code"] == "ORDER_CONSUMED"
    partly = sign_order("workerpool", pool_order(pool, volume=5), owner.key)
    chain.used[read_order("workerpool", partly, order_domain()).order_hash] = 2
    assert publish(client, "workerpool", partly).json()["remaining"] == 3


def test_request_orders_must_be_signed_by_the_requester(client: TestClient, chain: MemoryChain) -> None:
    requester, app_owner = actor(), actor()
    app = actor().address
    chain.apps[app] = AppRecord(address=app, owner=app_owner.address, fingerprint=b"\x01" * 32)
    fields: dict[str, Any] = {
        "app": app, "appmaxprice": 3, "dataset": ZERO_ADDRESS, "datasetmaxprice": 0,
        "workerpool": ZERO_ADDRESS, "workerpoolmaxprice": 9, "requester": requester.address, "volume": 2,
        "tag": TEE, "category": 0, "trust": 1, "beneficiary": requester.address, "callback": ZERO_ADDRESS,
        "params": '{"iexec_args": "x"}', "salt": "0x" + secrets.token_hex(32),
    }  # fmt: skip
    assert publish(client, "request", sign_order("request", fields, requester.key)).status_code == 201
    assert (
        publish(client, "request", sign_order("request", fields, app_owner.key)).json()["code"]
        == "ORDER_NOT_OWNER"
    )
    assert client.get("/v1/orderbook/request", params={"app": app}).json()["count"] == 1


@pytest.mark.parametrize(
    ("mutation", "code"),
    [
        ({"volume": 0}, "ORDER_INVALID"),
        ({"tag": "0x01"}, "ORDER_INVALID"),
        ({"workerpool": "not an address"}, "ORDER_FIELD_INVALID"),
        ({"extra": 1}, "ORDER_INVALID"),
        ({"sign": "0x1234"}, "ORDER_SIGNATURE_INVALID"),
    ],
)
def test_malformed_orders_are_rejected(
    client: TestClient, chain: MemoryChain, mutation: dict[str, Any], code: str
) -> None:
    owner, pool = register_pool(chain)
    order = sign_order("workerpool", pool_order(pool), owner.key) | mutation
    response = publish(client, "workerpool", order)
    assert response.status_code == 400
    assert response.json()["code"] == code


def _matched(tx: int, hashes: list[str], volume: int) -> ChainEvent:
    zero = b"\x00" * 32
    args = {
        "appHash": zero, "datasetHash": zero, "workerpoolHash": bytes.fromhex(hashes[0][2:]),
        "requestHash": zero, "volume": volume,
    }  # fmt: skip
    return ChainEvent(
        name="OrdersMatched", args=args, block_number=5, tx_hash=bytes([tx]) * 32, log_index=0, address=HUB
    )


def test_orders_matched_events_keep_remaining_volume_current(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    digest = publish(
        client, "workerpool", sign_order("workerpool", pool_order(pool, volume=5), owner.key)
    ).json()["order_hash"]
    service = client.app.state.service  # type: ignore[attr-defined]
    assert service.apply_events([_matched(1, [digest], 2)]) == 1
    assert service.apply_events([_matched(1, [digest], 2)]) == 0  # replayed after a crash: no effect
    assert client.get(f"/v1/orders/{digest}").json()["remaining"] == 3
    assert client.get("/v1/orderbook/workerpool", params={"min_volume": 4}).json()["count"] == 0
    service.apply_events([_matched(2, [digest], 3)])
    assert client.get(f"/v1/orders/{digest}").json()["status"] == "consumed"
    assert client.get("/v1/orderbook/workerpool").json()["count"] == 0


def test_order_closed_event_removes_the_order(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    digest = publish(client, "workerpool", sign_order("workerpool", pool_order(pool), owner.key)).json()[
        "order_hash"
    ]
    event = ChainEvent(
        name="OrderClosed", args={"orderHash": bytes.fromhex(digest[2:]), "signer": owner.address},
        block_number=7, tx_hash=b"\x09" * 32, log_index=3, address=HUB,
    )  # fmt: skip
    client.app.state.service.apply_events([event])  # type: ignore[attr-defined]
    assert client.get(f"/v1/orders/{digest}").json()["status"] == "closed"


def _signed_delete(client: TestClient, key: bytes, digest: str, *, now: int = NOW) -> Any:
    path = f"/v1/orders/{digest}"
    signed = sign_request(
        key,
        domain(),
        action=request_action("DELETE", path),
        body=b"",
        timestamp=now,
        nonce=secrets.token_bytes(32),
    )
    headers = signature_headers(signed)
    return client.delete(path, headers=headers), headers


def test_unpublish_needs_the_signer(client: TestClient, chain: MemoryChain) -> None:
    owner, pool = register_pool(chain)
    digest = publish(client, "workerpool", sign_order("workerpool", pool_order(pool), owner.key)).json()[
        "order_hash"
    ]
    assert client.delete(f"/v1/orders/{digest}").json()["code"] == "REQUEST_UNSIGNED"
    response, _ = _signed_delete(client, actor().key, digest)
    assert response.status_code == 403
    assert response.json()["code"] == "ORDER_NOT_SIGNER"
    response, headers = _signed_delete(client, owner.key, digest)
    assert response.status_code == 204
    assert client.delete(f"/v1/orders/{digest}", headers=headers).json()["code"] == "REQUEST_REPLAYED"
    assert client.get("/v1/orderbook/workerpool").json()["count"] == 0
    assert client.get(f"/v1/orders/{digest}").json()["status"] == "unpublished"
    response, _ = _signed_delete(client, owner.key, digest, now=NOW - 3600)
    assert response.json()["code"] == "REQUEST_EXPIRED"
    response, _ = _signed_delete(client, owner.key, "0x" + "ab" * 32)
    assert response.status_code == 404


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/orders", content=b"x" * (65 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "TOO_LARGE"


def test_an_unknown_order_is_not_found_to_read_or_to_unpublish(
    client: TestClient, chain: MemoryChain
) -> None:
    owner, pool = register_pool(chain)
    kept = publish(client, "workerpool", sign_order("workerpool", pool_order(pool), owner.key)).json()[
        "order_hash"
    ]
    unknown = "0x" + "ab" * 32
    read = client.get(f"/v1/orders/{unknown}")
    assert (read.status_code, read.json()["code"]) == (404, "ORDER_NOT_FOUND")
    response, _ = _signed_delete(client, owner.key, unknown)
    assert (response.status_code, response.json()["code"]) == (404, "ORDER_NOT_FOUND")
    assert client.get(f"/v1/orders/{kept}").json()["status"] == "open"  # the book is untouched
    assert client.get("/v1/orderbook/workerpool").json()["count"] == 1
