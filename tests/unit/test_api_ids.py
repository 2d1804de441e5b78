"""The identifier codecs of ``sealrun.api.ids`` and their pydantic fields: every accepted
form parses to the one canonical value, the wire form round-trips, refused forms carry the
stable code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from sealrun.api import ids
from sealrun.api.fields import AddressField, Bytes32Field, DealIdField, OrderHashField, TaskIdField
from sealrun.errors import ConfigError

raw32 = st.binary(min_size=32, max_size=32)
raw20 = st.binary(min_size=20, max_size=20)
PARSERS = [
    (ids.parse_task_id, ids.task_id_hex),
    (ids.parse_deal_id, ids.deal_id_hex),
    (ids.parse_order_hash, ids.order_hash_hex),
    (ids.parse_bytes32, ids.bytes32_hex),
]


@pytest.mark.parametrize(("parse", "write"), PARSERS)
@given(
    raw=raw32,
    upper=st.booleans(),
    prefix=st.sampled_from(["0x", "0X", ""]),
    pad=st.sampled_from(["", " ", "\n"]),
)
def test_every_accepted_bytes32_form_parses_to_the_same_value(
    parse: Callable[[object], bytes],
    write: Callable[[bytes], str],
    raw: bytes,
    upper: bool,
    prefix: str,
    pad: str,
) -> None:
    digits = raw.hex().upper() if upper else raw.hex()
    for form in (raw, bytearray(raw), memoryview(raw), f"{pad}{prefix}{digits}{pad}"):
        assert parse(form) == raw
    wire = write(raw)
    assert wire == "0x" + raw.hex()
    assert parse(wire) == raw


@pytest.mark.parametrize(("parse", "write"), PARSERS)
@pytest.mark.parametrize(
    "bad",
    ["", "0x", "0x" + "00" * 31, "0x" + "00" * 33, "0x" + "zz" * 32, "0x " + "00" * 32, "0x0x" + "00" * 31,
     b"\x00" * 31, b"\x00" * 33, None, 12, ["0x" + "00" * 32], "0x" + "٣" * 64],
)  # fmt: skip
def test_refused_bytes32_forms_say_invalid_bytes32(
    parse: Callable[[object], bytes], write: Callable[[bytes], str], bad: object
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(bad)
    assert raised.value.code == "INVALID_BYTES32"
    if isinstance(bad, bytes | str):
        with pytest.raises(ConfigError) as raised:
            write(bad)
        assert raised.value.code == "INVALID_BYTES32"


@given(raw=raw20, case=st.sampled_from(["lower", "upper", "checksum"]))
def test_every_accepted_address_form_gives_the_checksummed_address(raw: bytes, case: str) -> None:
    expected = to_checksum_address(raw)
    digits = {"lower": raw.hex(), "upper": raw.hex().upper(), "checksum": expected[2:]}[case]
    for form in (raw, "0x" + digits, f" 0x{digits}\n", digits):
        assert ids.parse_address(form) == expected
    assert ids.address_key(expected) == expected.lower()
    assert ids.address_bytes(expected.lower()) == raw


@given(raw=raw20)
def test_a_mistyped_checksum_is_refused(raw: bytes) -> None:
    good = to_checksum_address(raw)[2:]
    letters = [i for i, c in enumerate(good) if c.isalpha()]
    if not letters or good in (good.lower(), good.upper()):
        return
    i = letters[0]
    flipped = good[:i] + good[i].swapcase() + good[i + 1 :]
    if flipped in (flipped.lower(), flipped.upper()):
        return  # flipping the only mixed letter made it single-case: that form is accepted
    with pytest.raises(ConfigError) as raised:
        ids.parse_address("0x" + flipped)
    assert raised.value.code == "INVALID_ADDRESS"


@pytest.mark.parametrize(
    "bad",
    ["", "0x", "0x" + "00" * 19, "0x" + "00" * 21, "00" * 19, "0xzz" + "00" * 19, b"\x00" * 19, None, 7],
)
def test_refused_address_forms_say_invalid_address(bad: object) -> None:
    with pytest.raises(ConfigError) as raised:
        ids.parse_address(bad)
    assert raised.value.code == "INVALID_ADDRESS"


class _Body(BaseModel):
    task: TaskIdField
    deal: DealIdField
    order: OrderHashField
    salt: Bytes32Field
    who: AddressField


@given(task=raw32, deal=raw32, order=raw32, salt=raw32, who=raw20)
def test_fields_hold_the_canonical_value_and_write_the_wire_form(
    task: bytes, deal: bytes, order: bytes, salt: bytes, who: bytes
) -> None:
    body = _Body.model_validate(
        {
            "task": "0X" + task.hex().upper(),
            "deal": deal,
            "order": order.hex(),
            "salt": salt,
            "who": "0x" + who.hex(),
        }
    )
    assert (body.task, body.deal, body.order, body.salt) == (task, deal, order, salt)
    assert body.who == to_checksum_address(who)
    dumped = body.model_dump(mode="json")
    assert dumped == {
        "task": "0x" + task.hex(), "deal": "0x" + deal.hex(), "order": "0x" + order.hex(),
        "salt": "0x" + salt.hex(), "who": to_checksum_address(who),
    }  # fmt: skip
    assert _Body.model_validate_json(body.model_dump_json()) == body


def test_a_refused_field_is_a_validation_error_named_by_its_code() -> None:
    good = {"task": "0x" + "11" * 32, "deal": "0x" + "22" * 32, "order": "0x" + "33" * 32,
            "salt": "0x" + "44" * 32, "who": "0x" + "55" * 20}  # fmt: skip
    for field, bad, code in (("task", "0x12", "INVALID_BYTES32"), ("who", "0x12", "INVALID_ADDRESS")):
        with pytest.raises(ValidationError) as raised:
            _Body.model_validate({**good, field: bad})
        assert raised.value.errors()[0]["type"] == code
    schema = _Body.model_json_schema()["properties"]
    assert schema["task"]["pattern"] == r"^0x[0-9a-fA-F]{64}$"
    assert schema["who"]["pattern"] == r"^0x[0-9a-fA-F]{40}$"
