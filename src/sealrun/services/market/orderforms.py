"""How the market reads a signed order off the wire and indexes it.

On the wire an order is its EIP-712 message (``Order.message()`` of
:mod:`sealrun.core.orders`: uints as decimal strings or integers, ``bytes32`` as ``0x``
hex) plus ``sign`` (``0x`` + 64 or 65 bytes hex) and, optionally, ``type`` (the EIP-712
type name, as ``sealrun.core.orders``' JSON writes it). Hashing and signer recovery are
:mod:`sealrun.core.orders`' (exactly what the hub and ``eth_signTypedData_v4`` compute).

Numbers are ASCII digits (:mod:`sealrun.core.orders.numbers`), bounded to what the chain
and the book's columns hold: volume ≤ 2^63-1 (BIGINT), category ≤ 2^31-1 (INTEGER), a request
order's trust ≤ 1 (the hub's ``trust-unsupported``).

Errors (:class:`~sealrun.errors.OrderError`): ``ORDER_INVALID`` (a missing, unknown or
malformed field), ``ORDER_FIELD_INVALID`` (a value out of range, from the order models),
``ORDER_SIGNATURE_INVALID`` / ``ORDER_NOT_SIGNED`` (a signature that recovers nobody).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sealrun.core.orders.models import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder
from sealrun.core.orders.numbers import SQL_BIGINT_MAX, SQL_INT_MAX, check_request_trust, parse_uint
from sealrun.core.orders.signing import recover_order_signer
from sealrun.core.orders.typed_data import Domain, order_hash
from sealrun.errors import OrderError

__all__ = ["KINDS", "BookEntry", "order_from_wire", "order_to_wire", "read_order"]

KINDS: dict[str, type[Order]] = {
    "app": AppOrder,
    "dataset": DatasetOrder,
    "workerpool": WorkerpoolOrder,
    "request": RequestOrder,
}
_PRICE = {
    "app": "appprice",
    "dataset": "datasetprice",
    "workerpool": "workerpoolprice",
    "request": "workerpoolmaxprice",
}
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{130})$")
_MAX_VOLUME = SQL_BIGINT_MAX  # volume and remaining are BIGINT columns


@dataclass(frozen=True)
class BookEntry:
    """A parsed, signature-recovered order and the columns the book indexes it by.

    ``owner_of`` names what the signer must own on chain: ``("app", address)``,
    ``("dataset", ...)``, ``("workerpool", ...)`` or ``("request", requester)`` (the signer
    must be the requester itself).
    """

    kind: str
    order_hash: bytes
    signer: str
    owner_of: tuple[str, str]
    app: str
    dataset: str
    workerpool: str
    requester: str
    category: int | None
    tag: bytes
    price: int
    volume: int
    order: Mapping[str, Any] = field(repr=False)


def _value(raw: Mapping[str, Any], name: str, kind: str) -> Any:
    if name not in raw:
        raise OrderError(f"order field {name!r} is missing", code="ORDER_INVALID")
    value = raw[name]
    if kind == "uint256" and isinstance(value, str):
        # ASCII digits only: "²".isdigit() is true but int("²") fails (that was a 500).
        return parse_uint(value, name=f"order field {name!r}", code="ORDER_INVALID")
    if kind == "bytes32":
        if not isinstance(value, str) or not _HEX32.match(value):
            raise OrderError(f"order field {name!r} is not 0x + 32 bytes hex", code="ORDER_INVALID")
        return bytes.fromhex(value[2:])
    return value


def order_from_wire(kind: str, raw: Mapping[str, Any]) -> Order:
    """Build the order model of ``kind`` from its wire form.

    Raises:
        OrderError: ``ORDER_INVALID``, ``ORDER_FIELD_INVALID`` or ``ORDER_SIGNATURE_INVALID``.
    """
    order_type = KINDS.get(kind)
    if order_type is None:
        raise OrderError(f"unknown order kind {kind!r}", code="ORDER_INVALID")
    if "type" in raw and raw["type"] != order_type.TYPE_NAME:
        raise OrderError(f"a {kind} order must have type {order_type.TYPE_NAME}", code="ORDER_INVALID")
    names = {name for name, _ in order_type.EIP712_FIELDS}
    unknown = set(raw) - names - {"sign", "type"}
    if unknown:
        raise OrderError(f"unknown order field(s): {', '.join(sorted(unknown))}", code="ORDER_INVALID")
    sign = raw.get("sign")
    if not isinstance(sign, str) or not _SIGNATURE.match(sign):
        raise OrderError("order signature must be 0x + 64 or 65 bytes hex", code="ORDER_SIGNATURE_INVALID")
    values = {name: _value(raw, name, kind_of) for name, kind_of in order_type.EIP712_FIELDS}
    order: Order = order_type(**values, sign=bytes.fromhex(sign[2:]))
    return order


def order_to_wire(order: Order) -> dict[str, Any]:
    """The wire form of an order (its EIP-712 message plus ``sign``)."""
    return {**order.message(), "sign": "0x" + order.sign.hex()}


def read_order(kind: str, raw: Mapping[str, Any], domain: Domain) -> BookEntry:
    """Validate an order of ``kind`` under ``domain`` and recover its signer.

    Raises:
        OrderError: see the module docstring.
    """
    order = order_from_wire(kind, raw)
    if not 0 < order.volume <= _MAX_VOLUME:
        raise OrderError("order volume must be between 1 and 2^63-1", code="ORDER_INVALID")
    check_request_trust(order)
    signer = recover_order_signer(order, domain)
    if isinstance(order, AppOrder):
        columns = (order.app, order.datasetrestrict, order.workerpoolrestrict, order.requesterrestrict)
        owned = order.app
    elif isinstance(order, DatasetOrder):
        columns = (order.apprestrict, order.dataset, order.workerpoolrestrict, order.requesterrestrict)
        owned = order.dataset
    elif isinstance(order, WorkerpoolOrder):
        columns = (order.apprestrict, order.datasetrestrict, order.workerpool, order.requesterrestrict)
        owned = order.workerpool
    else:
        columns = (order.app, order.dataset, order.workerpool, order.requester)
        owned = order.requester
    category = order.category if isinstance(order, WorkerpoolOrder | RequestOrder) else None
    if category is not None and category > SQL_INT_MAX:
        # The book's category column is an INTEGER (32-bit on PostgreSQL); categories are
        # numbered from 0 on chain, so no real one comes near.
        raise OrderError(f"order category {category} is above 2^31-1", code="ORDER_FIELD_INVALID")
    return BookEntry(
        kind=kind,
        order_hash=order_hash(order, domain),
        signer=signer,
        owner_of=(kind, owned),
        app=columns[0],
        dataset=columns[1],
        workerpool=columns[2],
        requester=columns[3],
        category=category,
        tag=order.tag,
        price=getattr(order, _PRICE[kind]),
        volume=order.volume,
        order=order_to_wire(order),
    )
