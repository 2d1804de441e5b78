"""Checking secrets without reading them: existence, the requester's own list (signed, owner
only), and the name and value rules (``core.secretrules``) on both sides of the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.http.sms import SmsClient
from sealrun.api.sms import RequesterSecretsOut
from sealrun.core.secretrules import MAX_SECRET_VALUE, check_secret_name, decode_secret_value
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from sealrun.services.sms.settings import SmsSettings
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import World


def _code(call: object) -> str:
    with pytest.raises(SealrunError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


@pytest.fixture
def client(settings: SmsSettings, world: World) -> Iterator[SmsClient]:
    with TestClient(create_app(settings, chain=world.chain, clock=world.clock)) as http:
        yield SmsClient("http://testserver", domain=world.domain, http=http, clock=world.clock)


BAD_NAMES = [".", "..", "-x", "_x", "a/b", "a%2fb", "a?b", "a#b", "é", "a b", "", "x" * 65]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_by_the_rule(name: str) -> None:
    assert _code(lambda: check_secret_name(name)) == "SECRET_NAME_INVALID"


@pytest.mark.parametrize("name", ["a", "API_key-2.v1", "0", "x" * 64])
def test_good_names_pass(name: str) -> None:
    assert check_secret_name(name) == name


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b"a\0b", "NUL"),
        (b"x" * (MAX_SECRET_VALUE + 1), "characters"),
        (b"x" * (4 * MAX_SECRET_VALUE + 1), "bytes"),
    ],
)
def test_bad_values_are_refused_without_quoting_them(raw: bytes, why: str) -> None:
    with pytest.raises(SealrunError) as caught:
        decode_secret_value(raw)
    assert caught.value.code == "SECRET_VALUE_INVALID"
    assert why in caught.value.message
    if raw:
        assert raw.decode("utf-8", "replace") not in caught.value.message


def test_values_are_kept_exactly() -> None:
    assert decode_secret_value("é\n".encode()) == "é\n"
    assert decode_secret_value(("é" * MAX_SECRET_VALUE).encode()) == "é" * MAX_SECRET_VALUE


def test_the_use_cases_refuse_bad_names_and_values_before_storing(sms: SmsUseCases, world: World) -> None:
    requester = world.requester.address
    call = world.signed(world.requester, "PUT", f"/v1/requesters/{requester}/secrets/..", {"value": "x"})
    assert _code(lambda: sms.put_requester_secret(call, requester, "..", "x")) == "SECRET_NAME_INVALID"
    path = f"/v1/requesters/{requester}/secrets/api"
    call = world.signed(world.requester, "PUT", path, {"value": "a\0b"})
    assert _code(lambda: sms.put_requester_secret(call, requester, "api", "a\0b")) == "SECRET_VALUE_INVALID"
    call = world.signed(world.app_owner, "PUT", f"/v1/apps/{world.app}/secret", {"value": "a\0b"})
    assert _code(lambda: sms.put_app_secret(call, world.app, "a\0b")) == "SECRET_VALUE_INVALID"
    assert _code(lambda: sms.requester_secret_status(requester, "api")) == "SECRET_NOT_FOUND"
    assert _code(lambda: sms.app_secret_status(world.app)) == "SECRET_NOT_FOUND"


def test_the_client_refuses_a_dot_dot_name_before_sending(client: SmsClient, world: World) -> None:
    # httpx folds "/secrets/.." into "/v1/requesters/<address>": the name would address another
    # route. The client refuses it before any request, with the rule's code.
    key = bytes(world.requester.key)
    for name in ("..", ".", "a/b"):
        assert _code(lambda name=name: client.push_requester_secret(key, name, "v")) == "SECRET_NAME_INVALID"
        assert (
            _code(lambda name=name: client.requester_secret_status(world.requester.address, name))
            == "SECRET_NAME_INVALID"
        )
    assert _code(lambda: client.push_app_secret(bytes(world.app_owner.key), world.app, "")) == (
        "SECRET_VALUE_INVALID"
    )
    assert _code(lambda: client.app_secret_status("0x12/../../health")) == "SECRET_INVALID"
    assert client.requester_secret_names(key) == []


def test_the_server_refuses_what_a_raw_client_sends(client: SmsClient, world: World) -> None:
    http = client._http
    requester = world.requester.address
    refused = http.get(f"/v1/requesters/{requester}/secrets/-x")
    assert (refused.status_code, refused.json()["code"]) == (422, "VALIDATION_FAILED")
    unsigned = http.get(f"/v1/requesters/{requester}/secrets")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "REQUEST_UNSIGNED")


def test_existence_and_the_owners_list_never_carry_a_value(client: SmsClient, world: World) -> None:
    requester = bytes(world.requester.key)
    assert client.requester_secret_status(world.requester.address, "api") is None
    assert client.app_secret_status(world.app) is None
    assert client.dataset_key_status(world.dataset) is None
    for name in ("zeta", "api", "b.2"):
        client.push_requester_secret(requester, name, f"value-of-{name}")
    client.push_app_secret(bytes(world.app_owner.key), world.app, "developer-value")
    client.push_dataset_key(bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key))

    status = client.requester_secret_status(world.requester.address, "api")
    assert status is not None
    assert (status.owner, status.subject) == (world.requester.address, f"{world.requester.address}/api")
    app_status = client.app_secret_status(world.app)
    assert app_status is not None
    assert app_status.owner == world.app_owner.address
    assert client.dataset_key_exists(world.dataset)
    names = client.requester_secret_names(requester)
    assert [entry.name for entry in names] == ["api", "b.2", "zeta"]
    assert all(set(entry.model_dump()) == {"name", "updated_at"} for entry in names)
    assert client.missing_requester_secrets(world.requester.address, ["api", "gone", "zeta"]) == ["gone"]
    everything: list[Any] = [status, app_status, names, client.dataset_key_status(world.dataset)]
    for value in ("value-of-", "developer-value", str(world.dataset_key)):
        assert value not in str(everything)


def test_only_the_requester_lists_its_names(client: SmsClient, world: World, sms: SmsUseCases) -> None:
    client.push_requester_secret(bytes(world.requester.key), "api", "v")
    requester = world.requester.address
    call = world.signed(world.stranger, "GET", f"/v1/requesters/{requester}/secrets")
    assert (
        _code(lambda: sms.requester_secret_names(call, requester, after="", limit=10)) == "SECRET_NOT_OWNER"
    )
    # Over HTTP too: a stranger signing for the requester's path is refused with the code.
    path = f"/v1/requesters/{requester}/secrets?limit=10"
    assert (
        _code(lambda: client._signed(RequesterSecretsOut, "GET", path, bytes(world.stranger.key)))
        == "SECRET_NOT_OWNER"
    )
    assert client.requester_secret_names(bytes(world.stranger.key)) == []


def test_the_list_pages_by_name(sms: SmsUseCases, world: World) -> None:
    requester = world.requester.address
    for index in range(5):
        name = f"s{index}"
        call = world.signed(
            world.requester, "PUT", f"/v1/requesters/{requester}/secrets/{name}", {"value": "v"}
        )
        sms.put_requester_secret(call, requester, name, "v")
    first = sms.requester_secret_names(
        world.signed(world.requester, "GET", "/l"), requester, after="", limit=2
    )
    rest = sms.requester_secret_names(
        world.signed(world.requester, "GET", "/l"), requester, after=first[-1][0], limit=10
    )
    assert [name for name, _ in first + rest] == ["s0", "s1", "s2", "s3", "s4"]
