"""Numbers at the edges: ASCII decimal digits only, bounded to what the chain and SQL hold.

``"²".isdigit()`` is true and ``int("²")`` fails; ``int("٣")`` is 3; ``int()`` of more than
4300 digits raises. Every decimal that comes from outside (HTTP fields and query strings, CLI
options, orders files) is read by :func:`parse_uint`: ``[0-9]+`` and no more digits than its
bound has, then compared with the bound.

Bounds, and why:

- :data:`UINT256_MAX`: every order number on chain (prices, volume, category, trust, ...).
- :data:`SQL_BIGINT_MAX` (``2**63 - 1``): uint256 values the services *store* in a 64-bit
  ``BIGINT`` column (the market's volume and remaining volume, UNIX times); a larger value
  would overflow SQLite and PostgreSQL, so it is refused up front rather than saturated.
- :data:`SQL_INT_MAX` (``2**31 - 1``): values stored in an ``INTEGER`` column (PostgreSQL's
  is 32-bit; the market's category). Categories are created one by one on chain, so no real
  category comes near it.
- :data:`MAX_REQUEST_TRUST` (1): the hub refuses a request order whose trust is above 1
  (``trust-unsupported``: sealrun runs each task once, in a TEE), so no such order can match.
  A workerpool order's trust stays a uint256, as the contract takes it (only
  ``request.trust <= workerpool.trust`` is checked).
"""

from __future__ import annotations

import re

from sealrun.core.orders.models import Order, RequestOrder
from sealrun.errors import OrderError

__all__ = [
    "MAX_REQUEST_TRUST",
    "SQL_BIGINT_MAX",
    "SQL_INT_MAX",
    "UINT256_MAX",
    "check_request_trust",
    "parse_uint",
]

UINT256_MAX = 2**256 - 1
SQL_BIGINT_MAX = 2**63 - 1
SQL_INT_MAX = 2**31 - 1
MAX_REQUEST_TRUST = 1
_DIGITS = re.compile(r"[0-9]+")


def parse_uint(
    value: object,
    *,
    name: str,
    maximum: int = UINT256_MAX,
    minimum: int = 0,
    code: str = "ORDER_FIELD_INVALID",
    allow_int: bool = True,
) -> int:
    """Read a non-negative integer given as ASCII decimal digits (or as an ``int``).

    Args:
        value: the raw value (a string of digits, or an int when ``allow_int``).
        name: what it is, for the message.
        maximum: the largest accepted value.
        minimum: the smallest accepted value.
        code: the error code to raise (the caller's family).
        allow_int: whether a JSON number (a Python ``int``, not ``bool``) is accepted too.

    Raises:
        OrderError: ``code`` if the value is not ASCII digits or lies outside the bounds.
    """
    if isinstance(value, int) and not isinstance(value, bool) and allow_int:
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= len(str(maximum)):
        number = int(value)
    else:
        raise OrderError(
            f"{name} must be a decimal integer of ASCII digits, not {str(value)[:40]!r}", code=code
        )
    if not minimum <= number <= maximum:
        raise OrderError(f"{name} must be between {minimum} and {maximum}, not {number}", code=code)
    return number


def check_request_trust(order: Order) -> None:
    """Refuse a request order whose trust the hub would refuse (``trust-unsupported``).

    Raises:
        OrderError: ``ORDER_FIELD_INVALID``.
    """
    if isinstance(order, RequestOrder) and order.trust > MAX_REQUEST_TRUST:
        raise OrderError(
            f"RequestOrder.trust must be 0 or 1 (the hub refuses more: trust-unsupported), not {order.trust}",
            code="ORDER_FIELD_INVALID",
        )
