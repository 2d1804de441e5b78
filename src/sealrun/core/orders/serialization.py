"""JSON (de)serialisation of signed orders, validated on the way in.

A serialised order is one flat JSON object with PoCo's field names (as iExec's SDK writes
them), a ``"type"`` naming the order type, uint256 values as decimal strings (JSON numbers
lose precision past 2**53 in JavaScript; plain integers are accepted on input), ``tag`` and
``salt`` as 0x-hex, and ``sign`` as 0x-hex (``"0x"`` for a pre-signed order).

Errors: :class:`~sealrun.errors.OrderError` ``ORDER_JSON_INVALID`` for malformed JSON or an
unknown type/field, ``ORDER_FIELD_INVALID`` for a bad value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sealrun.core.orders.models import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder
from sealrun.core.orders.numbers import parse_uint
from sealrun.errors import OrderError

__all__ = ["ORDER_TYPES", "dumps_order", "loads_order", "order_from_json", "order_to_json"]

#: type name -> order class.
ORDER_TYPES: Mapping[str, type[AppOrder | DatasetOrder | WorkerpoolOrder | RequestOrder]] = {
    cls.TYPE_NAME: cls for cls in (AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder)
}


def order_to_json(order: Order) -> dict[str, Any]:
    """Return ``order`` as a JSON-ready dict (see the module docstring for the format)."""
    return {"type": order.TYPE_NAME, **order.message(), "sign": "0x" + order.sign.hex()}


def _hex(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise OrderError(f"{name} must be a 0x-hex string", code="ORDER_FIELD_INVALID")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as error:
        raise OrderError(f"{name} is not valid hex", code="ORDER_FIELD_INVALID") from error


def _uint(value: object, name: str) -> int:
    # ASCII digits only, at most uint256's 78 (int() takes "٣" and fails past 4300 digits).
    return parse_uint(value, name=name)


def order_from_json(data: object) -> Order:
    """Parse and validate one serialised order.

    Raises:
        OrderError: ``ORDER_JSON_INVALID`` or ``ORDER_FIELD_INVALID`` (see module docstring).
    """
    if not isinstance(data, Mapping):
        raise OrderError("an order must be a JSON object", code="ORDER_JSON_INVALID")
    type_name = data.get("type")
    cls = ORDER_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise OrderError(f"unknown order type {type_name!r}", code="ORDER_JSON_INVALID")
    expected = {name for name, _ in cls.EIP712_FIELDS} | {"type", "sign"}
    if set(data) != expected:
        missing, unknown = sorted(expected - set(data)), sorted(set(data) - expected)
        raise OrderError(
            f"{type_name} fields wrong: missing {missing}, unknown {unknown}", code="ORDER_JSON_INVALID"
        )
    values: dict[str, Any] = {}
    for name, kind in cls.EIP712_FIELDS:
        raw = data[name]
        where = f"{type_name}.{name}"
        if kind == "uint256":
            values[name] = _uint(raw, where)
        elif kind == "bytes32":
            values[name] = _hex(raw, where)
        else:
            values[name] = raw
    values["sign"] = _hex(data["sign"], f"{type_name}.sign")
    return cls(**values)


def dumps_order(order: Order) -> str:
    """Return ``order`` serialised as a JSON string (sorted keys, stable)."""
    return json.dumps(order_to_json(order), sort_keys=True)


def loads_order(text: str | bytes) -> Order:
    """Parse a JSON string into a validated order.

    Raises:
        OrderError: ``ORDER_JSON_INVALID`` if ``text`` is not JSON, or as :func:`order_from_json`.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise OrderError(f"order is not valid JSON: {error}", code="ORDER_JSON_INVALID") from error
    return order_from_json(data)
