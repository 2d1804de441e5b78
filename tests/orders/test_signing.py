"""Signing orders: 65-byte and EIP-2098 64-byte signatures, recovery, malleability, bad keys."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.core.orders import (
    SECP256K1_HALF_N,
    AppOrder,
    Domain,
    TagBit,
    from_compact,
    make_tag,
    recover_order_signer,
    sign_order,
    to_compact,
)
from sealrun.errors import OrderError
from tests.orders.strategies import orders

DOMAIN = Domain(1, "0x" + "cd" * 20)
KEY = b"\x11" * 32
SIGNER = Account.from_key(KEY).address
ORDER = AppOrder(app="0x" + "11" * 20, appprice=1, volume=1, tag=make_tag(TagBit.TEE))


@settings(max_examples=25, deadline=None)
@given(order=orders, compact=st.booleans())
def test_sign_then_recover(order: AppOrder, compact: bool) -> None:
    signed = sign_order(order, KEY, DOMAIN, compact=compact)
    assert len(signed.sign) == (64 if compact else 65)
    assert recover_order_signer(signed, DOMAIN) == SIGNER
    # Another domain (chain or hub) recovers someone else.
    assert recover_order_signer(signed, Domain(2, DOMAIN.verifying_contract)) != SIGNER


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < 2**255))
def test_compact_round_trip(key: bytes) -> None:
    full = sign_order(ORDER, key, DOMAIN).sign
    assert from_compact(to_compact(full)) == full


def test_v_zero_or_one_is_accepted() -> None:
    full = sign_order(ORDER, KEY, DOMAIN).sign
    low_v = dataclasses.replace(ORDER, sign=full[:64] + bytes([full[64] - 27]))
    assert recover_order_signer(low_v, DOMAIN) == SIGNER


def test_high_s_is_rejected() -> None:
    full = sign_order(ORDER, KEY, DOMAIN).sign
    s = int.from_bytes(full[32:64], "big")
    twin = full[:32] + (2 * SECP256K1_HALF_N + 1 - s).to_bytes(32, "big") + bytes([55 - full[64]])
    with pytest.raises(OrderError) as raised:
        recover_order_signer(dataclasses.replace(ORDER, sign=twin), DOMAIN)
    assert raised.value.code == "ORDER_SIGNATURE_INVALID"
    with pytest.raises(OrderError):
        to_compact(twin)


def test_unsigned_and_malformed() -> None:
    with pytest.raises(OrderError) as raised:
        recover_order_signer(ORDER, DOMAIN)
    assert raised.value.code == "ORDER_NOT_SIGNED"
    for bad in (b"\x00" * 65, b"\x01" * 64 + b"\x1d"):
        with pytest.raises(OrderError) as raised:
            recover_order_signer(dataclasses.replace(ORDER, sign=bad), DOMAIN)
        assert raised.value.code == "ORDER_SIGNATURE_INVALID"
    with pytest.raises(OrderError):
        to_compact(b"\x00" * 64)
    with pytest.raises(OrderError):
        from_compact(b"\x00" * 65)


@pytest.mark.parametrize("key", [b"\x00" * 32, b"\x01" * 31, b"\xff" * 32])
def test_bad_keys(key: bytes) -> None:
    with pytest.raises(OrderError) as raised:
        sign_order(ORDER, key, DOMAIN)
    assert raised.value.code == "ORDER_KEY_INVALID"
