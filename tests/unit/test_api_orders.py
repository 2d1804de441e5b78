"""The one order codec (``sealrun.core.orders.codec``, named on the wire by ``sealrun.api.orders``):
model ⇄ EIP-712 struct ⇄ JSON round trips for every kind, one table of kinds, each reader's codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from sealrun.api import orders as wire
from sealrun.core.orders import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder
from sealrun.errors import OrderError
from tests.orders.strategies import orders

SIGNED = AppOrder(app="0x" + "11" * 20, appprice=1, volume=2, tag=bytes(32), sign=b"\x01" * 65)


def test_one_table_names_every_kind_once() -> None:
    assert list(wire.ORDER_KINDS) == ["app", "dataset", "workerpool", "request"]
    assert [k.type for k in wire.ORDER_KINDS.values()] == [
        AppOrder,
        DatasetOrder,
        WorkerpoolOrder,
        RequestOrder,
    ]
    assert {k.file_key for k in wire.ORDER_KINDS.values()} == {
        "apporder",
        "datasetorder",
        "workerpoolorder",
        "requestorder",
    }
    for kind in wire.ORDER_KINDS.values():
        assert kind.price_field in {name for name, _ in kind.type.EIP712_FIELDS}
        assert wire.ORDER_TYPES[kind.type.TYPE_NAME] is kind.type
    with pytest.raises(OrderError) as raised:
        wire.order_kind("nope")
    assert raised.value.code == "ORDER_JSON_INVALID"


@given(orders)
def test_every_order_round_trips_through_json(order: Order) -> None:
    document = wire.order_to_json(order)
    assert document == {"type": order.TYPE_NAME, **order.message(), "sign": "0x" + order.sign.hex()}
    assert wire.order_from_json(json.loads(json.dumps(document))) == order
    assert wire.loads_order(wire.dumps_order(order)) == order
    kind = wire.kind_of(order)
    untyped = {k: v for k, v in document.items() if k != "type"}
    assert wire.order_from_json(untyped, kind=kind.name, codes=wire.MARKET_CODES) == order


def _refusal(document: dict[str, Any], **how: Any) -> str:
    with pytest.raises(OrderError) as raised:
        wire.order_from_json(document, **how)
    return raised.value.code


@pytest.mark.parametrize(
    ("mutation", "file_code", "market_code"),
    [
        ({"extra": 1}, "ORDER_JSON_INVALID", "ORDER_INVALID"),
        ({"type": "DatasetOrder"}, "ORDER_JSON_INVALID", "ORDER_INVALID"),
        ({"tag": "0x01"}, "ORDER_FIELD_INVALID", "ORDER_INVALID"),
        ({"tag": "00" * 32}, "ORDER_FIELD_INVALID", "ORDER_INVALID"),
        ({"appprice": "1.5"}, "ORDER_FIELD_INVALID", "ORDER_INVALID"),
        ({"appprice": True}, "ORDER_FIELD_INVALID", "ORDER_INVALID"),
        ({"app": "not an address"}, "ORDER_FIELD_INVALID", "ORDER_FIELD_INVALID"),
        ({"sign": "0x1234"}, "ORDER_FIELD_INVALID", "ORDER_SIGNATURE_INVALID"),
        ({"sign": "0x"}, None, "ORDER_SIGNATURE_INVALID"),
        ({"sign": 12}, "ORDER_FIELD_INVALID", "ORDER_SIGNATURE_INVALID"),
    ],
)
def test_each_reader_refuses_with_its_own_codes(
    mutation: dict[str, Any], file_code: str | None, market_code: str
) -> None:
    document = {**wire.order_to_json(SIGNED), **mutation}
    if file_code is None:
        wire.order_from_json(document)
    else:
        assert _refusal(document) == file_code
    assert _refusal(document, kind="app", codes=wire.MARKET_CODES, signed=True) == market_code


def test_a_missing_field_or_type_is_a_shape_error() -> None:
    document = wire.order_to_json(SIGNED)
    del document["salt"]
    assert _refusal(document) == "ORDER_JSON_INVALID"
    assert _refusal(document, kind="app", codes=wire.MARKET_CODES) == "ORDER_INVALID"
    untyped = {k: v for k, v in wire.order_to_json(SIGNED).items() if k != "type"}
    assert _refusal(untyped) == "ORDER_JSON_INVALID"
    assert _refusal([]) == "ORDER_JSON_INVALID"
