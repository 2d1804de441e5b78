"""The number parser every edge uses: ASCII digits only, bounded (issue 13, finding 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.orders import AppOrder, order_from_json, order_to_json
from sealrun.core.orders.numbers import (
    SQL_BIGINT_MAX,
    UINT256_MAX,
    check_request_trust,
    parse_uint,
)
from sealrun.errors import OrderError
from tests.orders.strategies import request_orders

#: Characters ``str.isdigit()`` accepts that are not ASCII digits (``int()`` takes some of them).
UNICODE_DIGITS = [c for c in map(chr, range(0x80, 0x3000)) if c.isdigit()]


@given(st.integers(min_value=0, max_value=UINT256_MAX))
def test_every_uint256_reads_back_from_its_decimal(number: int) -> None:
    assert parse_uint(str(number), name="x") == number
    assert parse_uint(number, name="x") == number


@given(st.integers(min_value=UINT256_MAX + 1, max_value=UINT256_MAX * 10**5))
def test_past_the_bound_is_refused(number: int) -> None:
    for value in (number, str(number)):
        with pytest.raises(OrderError) as caught:
            parse_uint(value, name="x")
        assert caught.value.code == "ORDER_FIELD_INVALID"


@given(st.integers(min_value=0, max_value=SQL_BIGINT_MAX * 4), st.sampled_from(["BAD", "ORDER_INVALID"]))
def test_a_column_bound_and_the_callers_code(number: int, code: str) -> None:
    if number <= SQL_BIGINT_MAX:
        assert parse_uint(str(number), name="x", maximum=SQL_BIGINT_MAX, code=code) == number
    else:
        with pytest.raises(OrderError) as caught:
            parse_uint(str(number), name="x", maximum=SQL_BIGINT_MAX, code=code)
        assert caught.value.code == code


@given(st.text(min_size=1, max_size=20), st.sampled_from(UNICODE_DIGITS))
def test_any_text_with_a_non_ascii_digit_is_refused(prefix: str, digit: str) -> None:
    for value in (digit, "1" + digit, digit + "1", prefix + digit):
        with pytest.raises(OrderError) as caught:
            parse_uint(value, name="x")
        assert caught.value.code == "ORDER_FIELD_INVALID"


@given(st.text(max_size=30))
def test_only_ascii_digit_strings_are_numbers(text: str) -> None:
    ascii_digits = bool(text) and all("0" <= c <= "9" for c in text) and len(text) <= 78
    if ascii_digits and int(text) <= UINT256_MAX:
        assert parse_uint(text, name="x") == int(text)
    else:
        with pytest.raises(OrderError):
            parse_uint(text, name="x")


@pytest.mark.parametrize("value", [True, False, None, 1.0, "", "9" * 5000, b"1", -1])
def test_other_shapes_are_refused(value: object) -> None:
    with pytest.raises(OrderError) as caught:
        parse_uint(value, name="x")
    assert caught.value.code == "ORDER_FIELD_INVALID"


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "1e3", str(UINT256_MAX + 1)])
def test_orders_files_refuse_them_with_a_code(value: str) -> None:
    data = order_to_json(AppOrder(app="0x" + "11" * 20, appprice=1, volume=1, tag=bytes(32)))
    data["volume"] = value
    with pytest.raises(OrderError) as caught:
        order_from_json(data)
    assert caught.value.code == "ORDER_FIELD_INVALID"


@given(request_orders)
def test_request_trust_above_1_is_refused(order: object) -> None:
    from sealrun.core.orders import RequestOrder

    assert isinstance(order, RequestOrder)
    if order.trust <= 1:
        check_request_trust(order)
    else:
        with pytest.raises(OrderError) as caught:
            check_request_trust(order)
        assert caught.value.code == "ORDER_FIELD_INVALID"
