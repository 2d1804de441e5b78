"""Signed requests at their edges: each guard of core/requests has a test that fails without it
(the survivors of `scripts/mutation.py core/requests`)."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account

from sealrun.core.requests import RequestDomain, RequestSignature, RequestVerifier, sign_request
from sealrun.core.requests.verification import VerifiedRequest
from sealrun.core.tasks.signatures import SECP256K1_N
from sealrun.errors import ConfigError, RequestError

DOMAIN = RequestDomain(chain_id=1337, hub="0x" + "11" * 20)
KEY = b"\x05" * 32
SIGNER = Account.from_key(KEY).address
ACTION, BODY = "PUT /v1/x", b"{}"


class RecordingLedger:
    """A nonce ledger that remembers what it was asked to keep, and until when."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, int]] = []

    def consume(self, signer: str, nonce: bytes, *, expires_at: int) -> None:
        self.calls.append((signer, nonce, expires_at))


def _sign(timestamp: int = 1000, nonce: bytes = b"\x01" * 32) -> RequestSignature:
    return sign_request(KEY, DOMAIN, action=ACTION, body=BODY, timestamp=timestamp, nonce=nonce)


def _verify(signed: RequestSignature, *, now: int = 1000, ledger: RecordingLedger | None = None) -> str:
    verifier = RequestVerifier(DOMAIN, ledger or RecordingLedger())
    return verifier.verify(action=ACTION, body=BODY, signed=signed, now=now).signer


def _refused(signed: RequestSignature) -> str:
    with pytest.raises(RequestError) as caught:
        _verify(signed)
    return caught.value.code


def test_the_default_window_is_five_minutes_either_way() -> None:
    signed = _sign(timestamp=1000)
    assert _verify(signed, now=1300) == SIGNER
    assert _verify(_sign(timestamp=1000, nonce=b"\x02" * 32), now=700) == SIGNER
    for now in (1301, 699):
        with pytest.raises(RequestError) as caught:
            _verify(_sign(timestamp=1000, nonce=bytes([now % 256]) * 32), now=now)
        assert caught.value.code == "REQUEST_EXPIRED"


def test_a_nonce_is_kept_until_its_request_could_no_longer_be_fresh() -> None:
    ledger = RecordingLedger()
    _verify(_sign(timestamp=1000), now=1010, ledger=ledger)
    assert ledger.calls == [(SIGNER, b"\x01" * 32, 1300)]


@pytest.mark.parametrize("window", [0, -1])
def test_a_verifier_needs_a_positive_window(window: int) -> None:
    with pytest.raises(ConfigError) as caught:
        RequestVerifier(DOMAIN, RecordingLedger(), window=window)
    assert caught.value.code == "CONFIG_INVALID"
    assert RequestVerifier(DOMAIN, RecordingLedger(), window=1).window == 1  # the smallest one


def test_timestamp_zero_is_a_uint64() -> None:
    assert _verify(_sign(timestamp=0), now=0) == SIGNER


def test_a_bad_private_key_is_refused() -> None:
    for key in (b"\x00" * 32, SECP256K1_N.to_bytes(32, "big")):
        with pytest.raises(ConfigError) as caught:
            sign_request(key, DOMAIN, action=ACTION, body=BODY, timestamp=1, nonce=b"\x01" * 32)
        assert caught.value.code == "INVALID_PRIVATE_KEY"


def test_short_long_high_s_and_odd_v_signatures_are_refused() -> None:
    good = _sign()
    r, s, v = good.signature[:32], int.from_bytes(good.signature[32:64], "big"), good.signature[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the same signer, high s
    for signature in (
        good.signature[:64],
        good.signature + b"\x00",
        twin,
        r + good.signature[32:64] + b"\x1d",
    ):
        assert _refused(dataclasses.replace(good, signature=signature)) == "REQUEST_SIGNATURE_INVALID"


def test_v_as_zero_or_one_names_the_same_signer() -> None:
    # Both parities: find one signature of each (the nonce changes the message).
    seen = set()
    for index in range(64):
        good = _sign(nonce=bytes([index]) * 32)
        if good.signature[64] in seen:
            continue
        seen.add(good.signature[64])
        low_v = good.signature[:64] + bytes([good.signature[64] - 27])
        assert _verify(dataclasses.replace(good, signature=low_v)) == SIGNER
    assert seen == {27, 28}


def test_a_canonical_shape_that_recovers_nothing_is_refused() -> None:
    good = _sign()
    # r must be the x of a curve point; most small values are not (x^3 + 7 has no square root).
    for r in range(1, 200):
        candidate = r.to_bytes(32, "big") + good.signature[32:]
        try:
            Account._recover_hash(b"\x01" * 32, signature=candidate)
        except Exception:
            break
    else:  # pragma: no cover - the curve guarantees one in the first few values
        pytest.fail("no r without a curve point below 200")
    assert _refused(dataclasses.replace(good, signature=candidate)) == "REQUEST_SIGNATURE_INVALID"


def test_requests_and_their_verdicts_are_immutable() -> None:
    signed = _sign()
    verified = RequestVerifier(DOMAIN, RecordingLedger()).verify(
        action=ACTION, body=BODY, signed=signed, now=1000
    )
    for frozen, field in ((DOMAIN, "chain_id"), (signed, "timestamp"), (verified, "signer")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(frozen, field, 1)
    verifier = RequestVerifier(DOMAIN, RecordingLedger())
    with pytest.raises(dataclasses.FrozenInstanceError):
        verifier.window = 10**9  # type: ignore[misc]
    assert isinstance(verified, VerifiedRequest)
