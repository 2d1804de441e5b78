"""Orders on the wire: the codec of :mod:`sealrun.core.orders.codec`, named here for readers of the API.

The codec is pure domain (it validates through the order models), so it lives in the core;
this module is where the wire contract points to it. See that module for the document's
format, the table of kinds and the readers' codes.
"""

from __future__ import annotations

from sealrun.core.orders.codec import (
    FILE_CODES,
    MARKET_CODES,
    ORDER_KINDS,
    ORDER_TYPES,
    OrderCodes,
    OrderKind,
    dumps_order,
    kind_of,
    loads_order,
    order_from_json,
    order_kind,
    order_to_json,
)

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
