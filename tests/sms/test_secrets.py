"""Secret writes through the use cases: owners only, signed, fresh, once; values never echoed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sealrun.core.attestation import SimulatorKey
from sealrun.errors import ConfigError, SealrunError
from sealrun.services.sms.app import build_components
from sealrun.services.sms.models import DatasetKey
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import World, make_settings


def _code(call: object) -> str:
    with pytest.raises(SealrunError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_dataset_key_is_written_once_by_its_owner(sms: SmsUseCases, world: World) -> None:
    path = f"/v1/datasets/{world.dataset}/key"
    key = str(world.dataset_key)
    body = {"key": key}
    assert _code(lambda: sms.dataset_key_status(world.dataset)) == "SECRET_NOT_FOUND"
    status = sms.put_dataset_key(world.signed(world.dataset_owner, "PUT", path, body), world.dataset, key)
    assert status.owner == world.dataset_owner.address
    assert key not in repr(status)
    assert sms.dataset_key_status(world.dataset).owner == world.dataset_owner.address
    again = world.signed(world.dataset_owner, "PUT", path, body)
    assert _code(lambda: sms.put_dataset_key(again, world.dataset, key)) == "SECRET_EXISTS"


def test_the_key_is_encrypted_at_rest(sms: SmsUseCases, world: World) -> None:
    world.push_secrets(sms)
    with sms.repository._sessions() as session:
        row = session.scalars(select(DatasetKey)).one()
    assert str(world.dataset_key).encode() not in row.sealed
    assert b"AGE-SECRET-KEY" not in row.sealed


def test_wrong_signer_is_refused_everywhere(sms: SmsUseCases, world: World) -> None:
    key = str(world.dataset_key)
    path = f"/v1/datasets/{world.dataset}/key"
    call = world.signed(world.stranger, "PUT", path, {"key": key})
    assert _code(lambda: sms.put_dataset_key(call, world.dataset, key)) == "SECRET_NOT_OWNER"
    path = f"/v1/apps/{world.app}/secret"
    call = world.signed(world.dataset_owner, "PUT", path, {"value": "x"})
    assert _code(lambda: sms.put_app_secret(call, world.app, "x")) == "SECRET_NOT_OWNER"
    path = f"/v1/requesters/{world.requester.address}/secrets/api"
    call = world.signed(world.stranger, "PUT", path, {"value": "x"})
    assert (
        _code(lambda: sms.put_requester_secret(call, world.requester.address, "api", "x"))
        == "SECRET_NOT_OWNER"
    )
    recipient = str(world.result_key.recipient)
    path = f"/v1/beneficiaries/{world.requester.address}/recipient"
    call = world.signed(world.stranger, "PUT", path, {"recipient": recipient})
    assert (
        _code(lambda: sms.put_result_recipient(call, world.requester.address, recipient))
        == "SECRET_NOT_OWNER"
    )


def test_unregistered_assets_and_bad_values(sms: SmsUseCases, world: World) -> None:
    unknown = "0x" + "77" * 20
    key = str(world.dataset_key)
    call = world.signed(world.dataset_owner, "PUT", f"/v1/datasets/{unknown}/key", {"key": key})
    assert _code(lambda: sms.put_dataset_key(call, unknown, key)) == "SECRET_ASSET_UNKNOWN"
    call = world.signed(world.dataset_owner, "PUT", f"/v1/datasets/{world.dataset}/key", {"key": "nope"})
    assert _code(lambda: sms.put_dataset_key(call, world.dataset, "nope")) == "SECRET_INVALID"
    path = f"/v1/beneficiaries/{world.requester.address}/recipient"
    call = world.signed(world.requester, "PUT", path, {"recipient": "age1bad"})
    assert (
        _code(lambda: sms.put_result_recipient(call, world.requester.address, "age1bad")) == "SECRET_INVALID"
    )


def test_replayed_stale_and_tampered_requests_are_refused(sms: SmsUseCases, world: World) -> None:
    path = f"/v1/requesters/{world.requester.address}/secrets/api"
    call = world.signed(world.requester, "PUT", path, {"value": "one"})
    sms.put_requester_secret(call, world.requester.address, "api", "one")
    assert (
        _code(lambda: sms.put_requester_secret(call, world.requester.address, "api", "one"))
        == "REQUEST_REPLAYED"
    )
    stale = world.signed(world.requester, "PUT", path, {"value": "two"})
    world.clock.now += 301
    assert (
        _code(lambda: sms.put_requester_secret(stale, world.requester.address, "api", "two"))
        == "REQUEST_EXPIRED"
    )
    fresh = world.signed(world.requester, "PUT", path, {"value": "two"})
    # Same signature, other body or other path: the recovered signer is someone else.
    tampered = replace(fresh, body=b'{"value": "evil"}')
    assert _code(lambda: sms.put_requester_secret(tampered, world.requester.address, "api", "evil")) == (
        "SECRET_NOT_OWNER"
    )
    moved = replace(fresh, action=f"PUT /v1/requesters/{world.requester.address}/secrets/other")
    assert _code(lambda: sms.put_requester_secret(moved, world.requester.address, "other", "two")) == (
        "SECRET_NOT_OWNER"
    )
    sms.put_requester_secret(fresh, world.requester.address, "api", "two")


def test_a_request_signed_for_another_deployment_is_refused(sms: SmsUseCases, world: World) -> None:
    from sealrun.core.requests import RequestDomain

    elsewhere = replace(world, domain=RequestDomain(chain_id=1, hub=world.domain.hub))
    path = f"/v1/requesters/{world.requester.address}/secrets/api"
    call = elsewhere.signed(world.requester, "PUT", path, {"value": "x"})
    assert (
        _code(lambda: sms.put_requester_secret(call, world.requester.address, "api", "x"))
        == "SECRET_NOT_OWNER"
    )


def test_production_refuses_simulated_evidence_and_missing_master_key(
    tmp_path: Path, simulator: SimulatorKey, world: World
) -> None:
    production = make_settings(tmp_path, simulator, mode="production", chain_rpc_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError) as caught:
        build_components(production, chain=world.chain)
    assert caught.value.code == "SMS_SIMULATED_IN_PRODUCTION"
    keyless = make_settings(
        tmp_path, simulator, mode="production", chain_rpc_url="http://127.0.0.1:1",
        allow_simulated_evidence=False, master_key=None,
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        build_components(keyless, chain=world.chain)
    assert caught.value.code == "SMS_MASTER_KEY_MISSING"


def test_devnet_generates_and_keeps_its_master_key(
    tmp_path: Path, simulator: SimulatorKey, world: World, build: Any
) -> None:
    settings = make_settings(tmp_path, simulator, master_key=None)
    sms = build(settings)
    world.push_secrets(sms)
    key_file = tmp_path / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = build(settings)
    assert again.keyring.keys == sms.keyring.keys
    assert "0x" not in repr(settings.master_key)


def test_master_key_rotation_reseals_everything(
    tmp_path: Path, simulator: SimulatorKey, world: World, build: Any
) -> None:
    from sealrun.core.sealing import Identity

    old = make_settings(tmp_path, simulator)
    sms = build(old)
    world.push_secrets(sms)
    world.challenge(sms)
    rotated = make_settings(
        tmp_path, simulator, master_key="0x" + "43" * 32, master_key_id="k2",
        previous_master_keys={"k1": "0x" + "42" * 32},
    )  # fmt: skip
    sms2 = build(rotated)
    assert sms2.rotate_master_key() == 4
    assert sms2.rotate_master_key() == 0
    only_new = make_settings(tmp_path, simulator, master_key="0x" + "43" * 32, master_key_id="k2")
    sms3 = build(only_new)
    enclave = world.challenge(sms3)
    sms3.release(world.release_request(sms3, enclave, Identity.generate()))
    # The old key alone can no longer open anything.
    stale = build(old)
    with pytest.raises(SealrunError) as caught:
        stale.release(world.release_request(stale, enclave, Identity.generate()))
    assert caught.value.code == "SECRET_AT_REST_KEY_UNKNOWN"


def test_stale_nonces_are_pruned(sms: SmsUseCases, world: World) -> None:
    from sqlalchemy import func

    from sealrun.services.sms.models import AttestationNonce, RequestNonce

    world.push_secrets(sms)
    sms.issue_nonce(world.task)
    world.clock.now += 2 * 86400
    sms.repository.prune(world.clock())
    with sms.repository._sessions() as session:
        assert session.scalar(select(func.count()).select_from(RequestNonce)) == 0
        assert session.scalar(select(func.count()).select_from(AttestationNonce)) == 0


def test_a_key_with_a_bad_checksum_is_refused(sms: SmsUseCases, world: World) -> None:
    key = str(world.dataset_key)
    broken = key[:-1] + ("Q" if key[-1] != "Q" else "P")
    call = world.signed(world.dataset_owner, "PUT", f"/v1/datasets/{world.dataset}/key", {"key": broken})
    assert _code(lambda: sms.put_dataset_key(call, world.dataset, broken)) == "SECRET_INVALID"


@pytest.mark.parametrize(
    "filename", ["../etc/passwd", "a/b", "a\\b", "..", "", "x" * 256, "a\nb", "bad-\udcff"]
)
def test_a_bad_dataset_filename_is_refused_and_nothing_is_written(
    sms: SmsUseCases, world: World, filename: str
) -> None:
    path = f"/v1/datasets/{world.dataset}/key"
    key = str(world.dataset_key)
    call = world.signed(world.dataset_owner, "PUT", path, {"key": key})
    assert _code(lambda: sms.put_dataset_key(call, world.dataset, key, filename=filename)) == (
        "DATASET_FILENAME_INVALID"
    )
    assert _code(lambda: sms.dataset_key_status(world.dataset)) == "SECRET_NOT_FOUND"


def test_the_dataset_filename_is_kept_with_the_key(sms: SmsUseCases, world: World) -> None:
    path = f"/v1/datasets/{world.dataset}/key"
    key = str(world.dataset_key)
    call = world.signed(world.dataset_owner, "PUT", path, {"key": key, "filename": "scores é.csv"})
    sms.put_dataset_key(call, world.dataset, key, filename="scores é.csv")
    row = sms.repository.dataset_key(world.dataset)
    assert row is not None
    assert row.filename == "scores é.csv"
