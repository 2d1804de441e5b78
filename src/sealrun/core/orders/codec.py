"""The one order codec and the one table of order kinds.

An order has three forms: the model (:mod:`.models`, frozen and validated), the EIP-712
struct (``Order.message()``: what :mod:`.typed_data` hashes and a wallet shows) and the
JSON document that travels (files, the market's bodies). The JSON document is the struct
plus ``"type"`` (the EIP-712 type name) and ``"sign"``::

    {"type": "AppOrder", "app": "0x…", "appprice": "1", …, "tag": "0x…", "salt": "0x…", "sign": "0x…"}

uint256 values are decimal strings (JSON numbers lose precision past 2**53 in JavaScript;
integers are accepted on input), ``bytes32`` values ``0x`` + 64 hex digits, ``sign`` ``0x``-hex
(``"0x"`` for an order pre-signed on chain). Field names are PoCo's, as iExec's SDK writes them.

:data:`ORDER_KINDS` names each kind once: its short name (the CLI's ``--app``, the market's
``kind``), its model, its key in an orders file and the price the book sorts it by.

Errors (:class:`~sealrun.errors.OrderError`) depend on the reader, through
:class:`OrderCodes`: an orders file (:data:`FILE_CODES`) says ``ORDER_JSON_INVALID`` for a
malformed document and ``ORDER_FIELD_INVALID`` for a malformed value; the market
(:data:`MARKET_CODES`) says ``ORDER_INVALID`` for both. Out-of-range values are always the
models' ``ORDER_FIELD_INVALID``; a signature the reader requires is ``ORDER_SIGNATURE_INVALID``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sealrun.core.orders.models import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder
from sealrun.core.orders.numbers import parse_uint
from sealrun.errors import OrderError

__all__ = [
    "FILE_CODES",
    "MARKET_CODES",
    "ORDER_KINDS",
    "ORDER_TYPES",
    "OrderCodes",
    "OrderKind",
    "dumps_order",
    "kind_of",
    "loads_order",
    "order_from_json",
    "order_kind",
    "order_to_json",
]


@dataclass(frozen=True)
class OrderKind:
    """One kind of order.

    Attributes:
        name: the short name (``"app"``): CLI flags, the market's ``kind`` and routes.
        type: the model class; ``type.TYPE_NAME`` is the EIP-712 type and the JSON ``"type"``.
        file_key: its key in an orders file (``"apporder"``, as iExec's ``orders.json``).
        price_field: the price the market indexes and sorts it by.
    """

    name: str
    type: type[Order]
    file_key: str
    price_field: str


#: Every order kind, by short name, in the hub's order (app, dataset, workerpool, request).
ORDER_KINDS: Mapping[str, OrderKind] = {
    kind.name: kind
    for kind in (
        OrderKind("app", AppOrder, "apporder", "appprice"),
        OrderKind("dataset", DatasetOrder, "datasetorder", "datasetprice"),
        OrderKind("workerpool", WorkerpoolOrder, "workerpoolorder", "workerpoolprice"),
        OrderKind("request", RequestOrder, "requestorder", "workerpoolmaxprice"),
    )
}
#: EIP-712 type name -> model class.
ORDER_TYPES: Mapping[str, type[Order]] = {kind.type.TYPE_NAME: kind.type for kind in ORDER_KINDS.values()}
_BY_TYPE = {kind.type: kind for kind in ORDER_KINDS.values()}


@dataclass(frozen=True)
class OrderCodes:
    """The codes one reader raises: ``shape`` for a malformed document, ``value`` for a malformed value."""

    shape: str
    value: str


#: An orders file or the CLI (``order_from_json``'s default).
FILE_CODES = OrderCodes(shape="ORDER_JSON_INVALID", value="ORDER_FIELD_INVALID")
#: The market's API.
MARKET_CODES = OrderCodes(shape="ORDER_INVALID", value="ORDER_INVALID")

_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGN = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_SIGNED = re.compile(r"0x(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{130})")


def order_kind(name: str, *, code: str = "ORDER_JSON_INVALID") -> OrderKind:
    """The kind named ``name`` (``app``, ``dataset``, ``workerpool``, ``request``).

    Raises:
        OrderError: ``code`` for an unknown name.
    """
    kind = ORDER_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise OrderError(
            f"unknown order kind {str(name)[:40]!r} (one of {', '.join(ORDER_KINDS)})", code=code
        )
    return kind


def kind_of(order: Order) -> OrderKind:
    """The kind of a model."""
    return _BY_TYPE[type(order)]


def order_to_json(order: Order) -> dict[str, str]:
    """The JSON document of ``order`` (see the module docstring)."""
    return {"type": order.TYPE_NAME, **order.message(), "sign": "0x" + order.sign.hex()}


def _field(raw: object, name: str, kind: str, codes: OrderCodes) -> object:
    if kind == "uint256":
        # ASCII digits only, at most uint256's 78 (int() takes "٣" and fails past 4300 digits).
        return parse_uint(raw, name=name, code=codes.value)
    if kind == "bytes32":
        if not isinstance(raw, str) or not _HEX32.fullmatch(raw):
            raise OrderError(f"{name} must be 0x + 32 bytes hex", code=codes.value)
        return bytes.fromhex(raw[2:])
    return raw


def _sign(raw: object, where: str, codes: OrderCodes, *, signed: bool) -> bytes:
    if signed:
        if not isinstance(raw, str) or not _SIGNED.fullmatch(raw):
            raise OrderError(f"{where} must be 0x + 64 or 65 bytes hex", code="ORDER_SIGNATURE_INVALID")
    elif not isinstance(raw, str) or not _SIGN.fullmatch(raw):
        raise OrderError(f"{where} must be 0x-hex", code=codes.value)
    return bytes.fromhex(raw[2:])


def order_from_json(
    data: object, *, kind: str | None = None, codes: OrderCodes = FILE_CODES, signed: bool = False
) -> Order:
    """Parse and validate one order document.

    Args:
        data: the parsed JSON.
        kind: the expected kind's short name; then ``"type"`` may be omitted (the market's
            bodies), and must match when present. Without it ``"type"`` is required.
        codes: the reader's codes (:data:`FILE_CODES` or :data:`MARKET_CODES`).
        signed: refuse a pre-signed order (``sign`` must be 64 or 65 bytes).

    Raises:
        OrderError: see the module docstring.
    """
    if not isinstance(data, Mapping):
        raise OrderError("an order must be a JSON object", code=codes.shape)
    type_name = data.get("type")
    if kind is not None:
        cls = order_kind(kind, code=codes.shape).type
        if "type" in data and type_name != cls.TYPE_NAME:
            raise OrderError(f"a {kind} order must have type {cls.TYPE_NAME}", code=codes.shape)
    else:
        found = ORDER_TYPES.get(type_name) if isinstance(type_name, str) else None
        if found is None:
            raise OrderError(f"unknown order type {str(type_name)[:40]!r}", code=codes.shape)
        cls = found
    expected = {name for name, _ in cls.EIP712_FIELDS} | {"sign"}
    given = set(data) - {"type"}
    if given != expected:
        missing, unknown = sorted(expected - given), sorted(given - expected)
        raise OrderError(
            f"{cls.TYPE_NAME} fields wrong: missing {missing}, unknown {[str(u)[:40] for u in unknown]}",
            code=codes.shape,
        )
    values = {
        name: _field(data[name], f"{cls.TYPE_NAME}.{name}", kind_of_field, codes)
        for name, kind_of_field in cls.EIP712_FIELDS
    }
    sign = _sign(data["sign"], f"{cls.TYPE_NAME}.sign", codes, signed=signed)
    return cls(**values, sign=sign)  # type: ignore[arg-type]


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
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise OrderError(f"order is not valid JSON: {str(error)[:120]}", code="ORDER_JSON_INVALID") from error
    return order_from_json(data)
