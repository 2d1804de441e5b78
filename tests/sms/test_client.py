"""``SmsClient`` against the real SMS app in process: typed answers, signatures the SMS
verifies (signer, window, nonce), and its codes in their families. The whole release flow
through the client is in ``test_http.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.http.sms import SmsClient
from sealrun.api.sms import HealthOut, SecretStatusOut
from sealrun.errors import RequestError, SecretError
from sealrun.services.sms.app import create_app
from sealrun.services.sms.settings import SmsSettings
from tests.sms.conftest import World


@pytest.fixture
def client(settings: SmsSettings, world: World) -> Iterator[SmsClient]:
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
        yield SmsClient("http://testserver", domain=world.domain, http=http, clock=world.clock)


def test_typed_answers_and_signed_writes(client: SmsClient, world: World) -> None:
    health = client.health()
    assert isinstance(health, HealthOut)
    assert health.chain_id == world.domain.chain_id
    pushed = client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t")
    assert isinstance(pushed, SecretStatusOut)
    assert pushed.owner == world.requester.address
    assert client.requester_secret_status(world.requester.address, "api") == pushed
    assert client.requester_secret_status(world.requester.address, "other") is None
    assert [entry.name for entry in client.requester_secret_names(bytes(world.requester.key))] == ["api"]


def test_the_sms_verifies_the_signature_and_answers_its_codes(client: SmsClient, world: World) -> None:
    # A stranger's valid signature over the app owner's path: the SMS recovers the stranger.
    with pytest.raises(SecretError) as stranger:
        client.push_app_secret(bytes(world.stranger.key), world.app, "dev")
    assert stranger.value.code == "SECRET_NOT_OWNER"
    stale = SmsClient(
        client.base_url, domain=world.domain, http=client._http, clock=lambda: world.clock() - 3600
    )
    with pytest.raises(RequestError) as expired:
        stale.push_app_secret(bytes(world.app_owner.key), world.app, "dev")
    assert expired.value.code == "REQUEST_EXPIRED"
    with pytest.raises(SecretError) as unknown:
        client.attestation_nonce(b"\x99" * 32)
    assert unknown.value.code == "RELEASE_TASK_UNKNOWN"
