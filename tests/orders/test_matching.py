"""The Python matching rules on their own (agreement with the contract: tests/contracts/test_match.py)."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account

from sealrun.core.orders import (
    CLOSED,
    AppOrder,
    DatasetOrder,
    Domain,
    MatchContext,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    check_match,
    make_tag,
    order_hash,
    sign_order,
)
from sealrun.errors import OrderError

DOMAIN = Domain(5, "0x" + "99" * 20)
KEYS = {name: bytes([i + 1]) * 32 for i, name in enumerate(("app", "dataset", "pool", "requester"))}
OWNERS = {name: Account.from_key(key).address for name, key in KEYS.items()}
APP, DATASET, POOL = "0x" + "a1" * 20, "0x" + "d1" * 20, "0x" + "b1" * 20
TEE = make_tag(TagBit.TEE)


def orders(volume: int = 4) -> tuple[AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder]:
    return (
        sign_order(AppOrder(app=APP, appprice=5, volume=10, tag=TEE), KEYS["app"], DOMAIN),
        sign_order(
            DatasetOrder(dataset=DATASET, datasetprice=3, volume=2, tag=bytes(32)), KEYS["dataset"], DOMAIN
        ),
        sign_order(
            WorkerpoolOrder(workerpool=POOL, workerpoolprice=100, volume=10, tag=TEE, category=1),
            KEYS["pool"],
            DOMAIN,
        ),
        sign_order(
            RequestOrder(
                app=APP,
                appmaxprice=5,
                dataset=DATASET,
                datasetmaxprice=3,
                workerpool=POOL,
                workerpoolmaxprice=100,
                requester=OWNERS["requester"],
                volume=volume,
                tag=TEE,
                category=1,
            ),
            KEYS["requester"],
            DOMAIN,
        ),
    )


def context(**changes: object) -> MatchContext:
    base = MatchContext(
        domain=DOMAIN,
        category_count=5,
        app_owner=OWNERS["app"],
        dataset_owner=OWNERS["dataset"],
        workerpool_owner=OWNERS["pool"],
        scheduler_reward_ratio=20,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_plan_takes_the_smallest_remaining_volume() -> None:
    a, d, w, r = orders()
    plan = check_match(a, d, w, r, context())
    assert plan.volume == 2  # the dataset order has 2
    assert plan.price == 108
    assert plan.stake == 30
    assert plan.total_price == 216
    assert plan.total_stake == 60
    assert plan.request_hash == order_hash(r, DOMAIN)
    consumed = {order_hash(d, DOMAIN): 1}
    assert check_match(a, d, w, r, context(consumed=consumed)).volume == 1


def test_presigned_orders_count_only_for_their_signer() -> None:
    a, d, w, r = orders()
    unsigned = dataclasses.replace(a, sign=b"")
    digest = order_hash(unsigned, DOMAIN)
    check_match(unsigned, d, w, r, context(presigned={digest: OWNERS["app"]}))
    with pytest.raises(OrderError) as raised:
        check_match(unsigned, d, w, r, context(presigned={digest: OWNERS["pool"]}))
    assert raised.value.code == "ORDER_APP_SIGNATURE"


def test_no_dataset() -> None:
    a, _, w, r = orders()
    r = sign_order(
        dataclasses.replace(r, dataset="0x" + "00" * 20, datasetmaxprice=0), KEYS["requester"], DOMAIN
    )
    plan = check_match(a, None, w, r, context(dataset_owner="0x" + "00" * 20))
    assert plan.price == 105
    assert plan.dataset_hash == bytes(32)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"category_count": 1}, "ORDER_CATEGORY_UNKNOWN"),
        ({"app_owner": "0x" + "00" * 20}, "ORDER_APP_UNKNOWN"),
        ({"workerpool_owner": OWNERS["app"]}, "ORDER_WORKERPOOL_SIGNATURE"),
        ({"requester_free": 100}, "ORDER_REQUESTER_BALANCE"),
        ({"workerpool_owner_free": 59}, "ORDER_WORKERPOOL_STAKE"),
    ],
)
def test_context_failures(changes: dict[str, object], code: str) -> None:
    with pytest.raises(OrderError) as raised:
        check_match(*orders(), context(**changes))
    assert raised.value.code == code


def test_closed_and_exhausted_orders() -> None:
    a, d, w, r = orders()
    with pytest.raises(OrderError) as raised:
        check_match(a, d, w, r, context(consumed={order_hash(w, DOMAIN): CLOSED}))
    assert raised.value.code == "ORDER_WORKERPOOL_CLOSED"
    with pytest.raises(OrderError) as raised:
        check_match(a, d, w, r, context(consumed={order_hash(r, DOMAIN): 4}))
    assert raised.value.code == "ORDER_REQUEST_VOLUME"
    assert "consumed 4 of 4" in raised.value.message
