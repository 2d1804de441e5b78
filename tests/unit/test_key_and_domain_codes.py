"""Keys and domains that cannot sign are refused with their codes, before anything is sent."""

from __future__ import annotations

import pytest

from sealrun.adapters.http.sms import SmsClient
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.core.tasks import address_of, sign_digest
from sealrun.errors import ConfigError

HUB = "0x" + "48" * 20
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1's n


@pytest.mark.parametrize("chain_id", [0, -1, True, "1"])
def test_a_chain_id_that_is_not_a_positive_int_is_refused(chain_id: object) -> None:
    with pytest.raises(ConfigError) as caught:
        RequestDomain(chain_id=chain_id, hub=HUB)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_CHAIN_ID"


@pytest.mark.parametrize("key", [b"", b"\x01" * 31, b"\x00" * 32, ORDER.to_bytes(32, "big")])
def test_a_key_that_is_not_a_secp256k1_scalar_is_refused_everywhere(key: bytes) -> None:
    domain = RequestDomain(chain_id=1, hub=HUB)
    calls = (
        lambda: address_of(key),
        lambda: address_of("0x" + key.hex()),
        lambda: sign_digest(key, b"\x00" * 32),
        lambda: sign_request(key, domain, action="GET /", body=b"", timestamp=1, nonce=b"\x00" * 32),
    )
    for call in calls:
        with pytest.raises(ConfigError) as caught:
            call()
        assert (caught.value.code, caught.value.message) == ("INVALID_PRIVATE_KEY", "invalid private key")


def test_a_key_that_is_not_hex_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        address_of("0xnothex")
    assert caught.value.code == "INVALID_PRIVATE_KEY"


def test_signed_sms_calls_without_the_deployments_domain_are_refused_before_sending() -> None:
    # Port 1 on loopback: were the call sent, it would fail SERVICE_UNREACHABLE instead.
    client = SmsClient("http://127.0.0.1:1")
    try:
        with pytest.raises(ConfigError) as caught:
            client.push_requester_secret(b"\x01" * 32, "api", "value")
        assert caught.value.code == "SMS_DOMAIN_MISSING"
    finally:
        client.close()
