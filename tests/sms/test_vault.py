"""The at-rest envelope: round trips, binding to the row, tampering, key ids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.errors import ConfigError, SecretError
from sealrun.services.sms.vault import MasterKeyring

RING = MasterKeyring("k1", {"k1": b"\x01" * 32})


@given(plaintext=st.binary(max_size=512), row=st.text(max_size=40))
@settings(max_examples=50, deadline=None)
def test_round_trip(plaintext: bytes, row: str) -> None:
    envelope = RING.seal(plaintext, kind="app-secret", row=row)
    assert RING.open(envelope, kind="app-secret", row=row) == plaintext


@given(position=st.integers(min_value=0, max_value=60), bit=st.integers(min_value=0, max_value=7))
@settings(max_examples=100, deadline=None)
def test_every_bit_flip_is_refused(position: int, bit: int) -> None:
    envelope = bytearray(RING.seal(b"a secret value!!", kind="app-secret", row="r"))
    envelope[position % len(envelope)] ^= 1 << bit
    with pytest.raises(SecretError) as caught:
        RING.open(bytes(envelope), kind="app-secret", row="r")
    assert caught.value.code in {"SECRET_AT_REST_CORRUPT", "SECRET_AT_REST_KEY_UNKNOWN"}


@given(data=st.binary(max_size=80))
@settings(max_examples=100, deadline=None)
def test_garbage_only_raises_secret_errors(data: bytes) -> None:
    with pytest.raises(SecretError):
        RING.open(data, kind="app-secret", row="r")


def test_an_envelope_moved_to_another_row_or_kind_does_not_open() -> None:
    envelope = RING.seal(b"k", kind="dataset-key", row="0xaa")
    for kind, row in (("dataset-key", "0xbb"), ("app-secret", "0xaa")):
        with pytest.raises(SecretError) as caught:
            RING.open(envelope, kind=kind, row=row)
        assert caught.value.code == "SECRET_AT_REST_CORRUPT"


def test_key_ids_and_rotation() -> None:
    envelope = RING.seal(b"v", kind="k", row="r")
    assert RING.key_id_of(envelope) == "k1"
    new = MasterKeyring("k2", {"k1": b"\x01" * 32, "k2": b"\x02" * 32})
    resealed = new.reseal(envelope, kind="k", row="r")
    assert resealed is not None
    assert new.key_id_of(resealed) == "k2"
    assert new.reseal(resealed, kind="k", row="r") is None
    with pytest.raises(SecretError) as caught:
        RING.open(resealed, kind="k", row="r")
    assert caught.value.code == "SECRET_AT_REST_KEY_UNKNOWN"


def test_bad_keyrings_are_refused() -> None:
    with pytest.raises(ConfigError):
        MasterKeyring("k1", {"k2": b"\x01" * 32})
    with pytest.raises(ConfigError):
        MasterKeyring("k1", {"k1": b"short"})
    assert "\\x01" not in repr(RING)
