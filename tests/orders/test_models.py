"""Order models validate every field; JSON round-trips; the tag helpers."""

from __future__ import annotations

import dataclasses
import json

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings

from sealrun.core.orders import (
    MAX_PARAMS_BYTES,
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    TagBit,
    dumps_order,
    loads_order,
    make_tag,
    missing_bits,
    order_from_json,
    order_to_json,
    tag_bits,
    tag_value,
)
from sealrun.errors import OrderError
from tests.orders.strategies import orders

APP = AppOrder(app="0x" + "ab" * 20, appprice=1, volume=1, tag=make_tag(TagBit.TEE), sign=b"\x01" * 65)


@settings(max_examples=60, deadline=None)
@given(order=orders)
def test_json_round_trip(order: Order) -> None:
    assert loads_order(dumps_order(order)) == order
    assert order_from_json(json.loads(json.dumps(order_to_json(order)))) == order


def test_addresses_are_checksummed_and_integers_accepted() -> None:
    order = AppOrder(app="0x" + "ab" * 20, appprice=1, volume=1, tag=bytes(32))
    assert order.app == to_checksum_address("0x" + "ab" * 20)
    assert order.app != "0x" + "ab" * 20
    data = order_to_json(order)
    data["appprice"] = 1  # a JSON number is accepted too
    assert order_from_json(data) == order


@pytest.mark.parametrize(
    "change",
    [
        {"app": "0x1234"},
        {"app": 5},
        {"appprice": -1},
        {"appprice": 2**256},
        {"volume": True},
        {"tag": b"\x00" * 31},
        {"salt": "00" * 32},
        {"sign": b"\x00" * 63},
    ],
)
def test_bad_fields_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(OrderError) as raised:
        dataclasses.replace(APP, **change)  # type: ignore[arg-type]
    assert raised.value.code == "ORDER_FIELD_INVALID"


def test_params_are_bounded() -> None:
    base = {
        "app": APP.app,
        "appmaxprice": 0,
        "dataset": APP.app,
        "datasetmaxprice": 0,
        "workerpool": APP.app,
        "workerpoolmaxprice": 0,
        "requester": APP.app,
        "volume": 1,
        "tag": bytes(32),
        "category": 0,
    }
    RequestOrder(**base, params="x" * MAX_PARAMS_BYTES)  # type: ignore[arg-type]
    with pytest.raises(OrderError):
        RequestOrder(**base, params="é" * MAX_PARAMS_BYTES)  # type: ignore[arg-type]
    with pytest.raises(OrderError):
        RequestOrder(**base, params=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "ORDER_JSON_INVALID"),
        ("[]", "ORDER_JSON_INVALID"),
        ('{"type": "Nope"}', "ORDER_JSON_INVALID"),
        ('{"type": "AppOrder"}', "ORDER_JSON_INVALID"),
    ],
)
def test_bad_json_is_refused(text: str, code: str) -> None:
    with pytest.raises(OrderError) as raised:
        loads_order(text)
    assert raised.value.code == code


def test_bad_values_in_json_are_refused() -> None:
    good = order_to_json(APP)
    for key, value in (("appprice", "1.5"), ("appprice", True), ("tag", "00"), ("tag", "0xzz"), ("sign", 12)):
        with pytest.raises(OrderError) as raised:
            order_from_json({**good, key: value})
        assert raised.value.code == "ORDER_FIELD_INVALID"
    with pytest.raises(OrderError) as raised:
        order_from_json({**good, "extra": 1})
    assert raised.value.code == "ORDER_JSON_INVALID"


def test_empty_dataset_order_and_pre_signed_json() -> None:
    none = DatasetOrder.none()
    assert none.dataset == "0x0000000000000000000000000000000000000000"
    assert order_to_json(none)["sign"] == "0x"


def test_tags() -> None:
    tag = make_tag(TagBit.TEE, TagBit.TDX, TagBit.GPU)
    assert tag_value(tag) == 0b1_0000_0101
    assert tag_bits(tag) == {TagBit.TEE, TagBit.TDX, TagBit.GPU}
    assert missing_bits(offered=make_tag(TagBit.TEE, TagBit.SGX), required=tag) == {TagBit.TDX, TagBit.GPU}
    assert missing_bits(offered=tag, required=make_tag(TagBit.TEE)) == frozenset()
    with pytest.raises(OrderError):
        tag_value(b"\x01")
