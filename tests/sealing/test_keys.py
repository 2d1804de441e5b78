"""age X25519 keys: known answers from age-keygen, strict parsing, no secrets in repr."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.sealing import Identity, Recipient
from sealrun.core.sealing.hazmat import bech32
from sealrun.errors import SealError


def test_age_keygen_identity_gives_the_same_recipient(age_keygen: str) -> None:
    text = subprocess.run([age_keygen], capture_output=True, text=True, check=True).stdout
    secret = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    public = next(line for line in text.splitlines() if line.startswith("# public key: ")).split(": ")[1]
    identity = Identity.parse(secret)
    assert str(identity.recipient) == public
    assert str(identity) == secret
    assert Recipient.parse(public).public_bytes == identity.public_bytes


def test_our_identity_is_understood_by_age_keygen(age_keygen: str, identity: Identity) -> None:
    done = subprocess.run([age_keygen, "-y"], input=str(identity), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(identity.recipient)


def test_repr_never_shows_the_secret(identity: Identity) -> None:
    assert str(identity) not in repr(identity)
    assert "SECRET" not in repr(identity)
    assert str(identity.recipient) in repr(identity)


@given(st.binary(min_size=32, max_size=32))
def test_keys_round_trip(secret: bytes) -> None:
    identity = Identity(secret)
    assert Identity.parse(str(identity)) == identity
    assert Recipient.parse(str(identity.recipient)) == identity.recipient
    assert len(identity.public_bytes) == 32


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age1",
        "AGE-SECRET-KEY-1",
        "ssh-ed25519 AAAA",
        "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
    ],
)
def test_garbage_is_a_bad_key(text: str) -> None:
    with pytest.raises(SealError) as caught:
        Recipient.parse(text)
    assert caught.value.code == "SEAL_BAD_KEY"
    with pytest.raises(SealError) as caught:
        Identity.parse(text)
    assert caught.value.code == "SEAL_BAD_KEY"


def test_checksum_case_and_prefix_errors(identity: Identity) -> None:
    recipient = str(identity.recipient)
    flipped = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")
    for bad in (flipped, recipient.upper(), recipient[:10] + recipient[10:].upper()):
        with pytest.raises(SealError) as caught:
            Recipient.parse(bad)
        assert caught.value.code == "SEAL_BAD_KEY"
    with pytest.raises(SealError):
        Identity.parse(str(identity).lower())
    with pytest.raises(SealError):  # a recipient is not an identity, and vice versa
        Identity.parse(bech32.encode("age-secret-key-", identity.public_bytes[:31]).upper())
    with pytest.raises(SealError):
        Recipient.parse(bech32.encode("age", b"\x01" * 33))


def test_bech32_known_answer() -> None:
    # BIP-173 test vector (valid bech32): "a12uel5l" decodes to hrp "a" and empty data.
    assert bech32.decode("a12uel5l") == ("a", b"")
    assert bech32.encode("a", b"") == "a12uel5l"
