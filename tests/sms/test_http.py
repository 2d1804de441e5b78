"""The SMS over HTTP: in-process (TestClient, ASGITransport) and as a real uvicorn server on
loopback, on SQLite and on PostgreSQL, through :class:`SmsClient`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.http.sms import SmsClient
from sealrun.core.attestation import Evidence, SimulatorKey
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle
from sealrun.errors import SealrunError
from sealrun.services.sms.app import create_app
from sealrun.services.sms.audit import AuditRecord, verify_audit_chain
from sealrun.services.sms.settings import SmsSettings
from tests.sms.conftest import PG_URL, World, free_port, make_settings, serve


def _client(app: Any, world: World, opened: list[Any]) -> SmsClient:
    http = TestClient(app)
    http.__enter__()  # runs the lifespan; the fixture runs its end (closing the database)
    opened.append(lambda: http.__exit__(None, None, None))
    return SmsClient("http://testserver", domain=world.domain, http=http, clock=world.clock)


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    closers: list[Any] = []
    yield closers
    for close in reversed(closers):
        close()


def _push_all(client: SmsClient, world: World) -> None:
    answers = [
        client.push_dataset_key(bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key)),
        client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t"),
        client.push_app_secret(bytes(world.app_owner.key), world.app, "dev"),
    ]
    # Writes answer with the secret's status, never its value.
    assert all(set(answer.model_dump()) == {"subject", "owner", "updated_at"} for answer in answers)
    assert not any(value in str(answers) for value in (str(world.dataset_key), "s3cr3t"))
    client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))


def _attest(client: SmsClient, world: World, enclave: str, **evidence: Any) -> tuple[Identity, Any]:
    identity = Identity.generate()
    nonce = client.attestation_nonce(world.task)
    envelope = Evidence.from_json(world.evidence(nonce, identity, **evidence))
    released = client.release(
        world.task, nonce=nonce, worker=world.worker.address, authorization=world.authorization(enclave),
        evidence=envelope, ephemeral_recipient=str(identity.recipient),
    )  # fmt: skip
    return identity, released


def _full_flow(client: SmsClient, world: World) -> None:
    _push_all(client, world)
    assert client.dataset_key_exists(world.dataset)
    assert client.result_recipient(world.requester.address) == str(world.result_key.recipient)
    enclave = client.enclave_challenge(bytes(world.pool_owner.key), world.task)
    identity, released = _attest(client, world, enclave)
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)
    with pytest.raises(SealrunError) as caught:
        _attest(client, world, enclave, debug=True)
    assert caught.value.code == "ATTEST_DEBUG"
    records = client.dataset_audit(bytes(world.dataset_owner.key), world.dataset)
    assert [r.code for r in records] == ["RELEASED", "ATTEST_DEBUG"]
    verify_audit_chain([AuditRecord(**r.model_dump()) for r in records])


def test_full_flow_in_process_on_sqlite(settings: SmsSettings, world: World, opened: list[Any]) -> None:
    _full_flow(_client(create_app(settings, chain=world.chain, clock=world.clock), world, opened), world)


@pytest.mark.postgres
def test_full_flow_in_process_on_postgres(
    tmp_path: Path, simulator: SimulatorKey, world: World, pg_schema: str, opened: list[Any]
) -> None:
    settings = make_settings(tmp_path, simulator, database_url=PG_URL, database_schema=pg_schema)
    _full_flow(_client(create_app(settings, chain=world.chain, clock=world.clock), world, opened), world)


def test_errors_are_problem_documents(settings: SmsSettings, world: World, opened: list[Any]) -> None:
    http = _client(create_app(settings, chain=world.chain, clock=world.clock), world, opened)._http
    unsigned = http.put(f"/v1/datasets/{world.dataset}/key", json={"key": str(world.dataset_key)})
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert unsigned.json()["code"] == "REQUEST_UNSIGNED"
    malformed = http.put(
        f"/v1/datasets/{world.dataset}/key", json={"key": "x"},
        headers={"Sealrun-Timestamp": "1", "Sealrun-Nonce": "0x12", "Sealrun-Signature": "0x34"},
    )  # fmt: skip
    assert malformed.json()["code"] == "REQUEST_MALFORMED"
    invalid = http.post(f"/v1/tasks/0x{world.task.hex()}/release", json={"nonce": "x" * 500})
    assert (invalid.status_code, invalid.json()["code"]) == (422, "VALIDATION_FAILED")
    assert http.get("/v1/nothing").json()["code"] == "NOT_FOUND"
    assert http.get(f"/v1/datasets/{world.dataset}/key").json()["code"] == "SECRET_NOT_FOUND"
    huge = http.post(f"/v1/tasks/0x{world.task.hex()}/release", content=b"x" * (5 << 20))
    assert (huge.status_code, huge.json()["code"]) == (413, "TOO_LARGE")
    unknown_task = http.post(f"/v1/tasks/0x{'00' * 32}/nonce")
    assert (unknown_task.status_code, unknown_task.json()["code"]) == (404, "RELEASE_TASK_UNKNOWN")


def test_asgi_transport_serves_openapi_and_health(settings: SmsSettings, world: World) -> None:
    app = create_app(settings, chain=world.chain, clock=world.clock)

    async def fetch() -> tuple[dict[str, Any], dict[str, Any]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sms") as client:
            return (await client.get("/openapi.json")).json(), (await client.get("/v1/health")).json()

    spec, health = asyncio.run(fetch())
    app.state.components.close()
    assert "/v1/tasks/{task_id}/release" in spec["paths"]
    signer = health.pop("release_signer")  # the release record key's address (docs/sms.md)
    assert isinstance(signer, str)
    assert len(signer) == 42
    assert signer.startswith("0x")
    assert health == {"status": "ok", "mode": "embedded-devnet", "chain_id": world.domain.chain_id,
                      "hub": world.domain.hub, "simulated_evidence": True}  # fmt: skip


def _restart(settings: SmsSettings, world: World, opened: list[Any]) -> None:
    first = _client(create_app(settings, chain=world.chain, clock=world.clock), world, opened)
    _push_all(first, world)
    enclave = first.enclave_challenge(bytes(world.pool_owner.key), world.task)
    _attest(first, world, enclave)
    pending = first.attestation_nonce(world.task)
    head = first.audit_head()
    # The first app stops (its database closed) before the second starts; the crash itself,
    # kill -9 of a real process mid-release, is tests/sms/test_crash.py.
    opened.pop()()
    second = _client(create_app(settings, chain=world.chain, clock=world.clock), world, opened)
    assert second.enclave_challenge(bytes(world.pool_owner.key), world.task) == enclave
    assert second.dataset_key_exists(world.dataset)
    assert second.audit_head() == head
    # Any link of the chain is public by position, hashes only (a receipt's verifier checks it).
    assert head is not None
    link = second.audit_link(head.seq)
    assert link is not None
    assert (link.seq, link.prev_hash, link.entry_hash) == (head.seq, head.prev_hash, head.entry_hash)
    assert set(link.model_dump()) == {"seq", "prev_hash", "entry_hash"}  # no content
    assert second.audit_link(head.seq + 1) is None
    identity = Identity.generate()
    release = {
        "nonce": pending, "worker": world.worker.address, "authorization": world.authorization(enclave),
        "evidence": Evidence.from_json(world.evidence(pending, identity)),
        "ephemeral_recipient": str(identity.recipient),
    }  # fmt: skip
    released = second.release(world.task, **release)
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [identity]))
    assert bundle.requester_secrets == {1: "s3cr3t"}
    with pytest.raises(SealrunError) as caught:
        second.release(world.task, **release)
    assert caught.value.code == "RELEASE_NONCE_USED"
    records = second.dataset_audit(bytes(world.dataset_owner.key), world.dataset)
    assert [r.code for r in records] == ["RELEASED", "RELEASED", "RELEASE_NONCE_USED"]
    verify_audit_chain([AuditRecord(**r.model_dump()) for r in records])


def test_a_restart_loses_nothing_on_sqlite(settings: SmsSettings, world: World, opened: list[Any]) -> None:
    _restart(settings, world, opened)


@pytest.mark.postgres
def test_a_restart_loses_nothing_on_postgres(tmp_path: Path, simulator: SimulatorKey, world: World,
                                             pg_schema: str, opened: list[Any]) -> None:  # fmt: skip
    _restart(
        make_settings(tmp_path, simulator, database_url=PG_URL, database_schema=pg_schema), world, opened
    )


@pytest.fixture
def served(settings: SmsSettings, world: World) -> Iterator[str]:
    """The SMS as a real uvicorn server on a loopback port."""
    with serve(create_app(settings, chain=world.chain, clock=world.clock)) as url:
        yield url


def test_full_flow_over_a_real_server(served: str, world: World) -> None:
    client = SmsClient(served, domain=world.domain, clock=world.clock)
    try:
        _full_flow(client, world)
    finally:
        client.close()


def test_client_reports_an_unreachable_sms(world: World) -> None:
    client = SmsClient(f"http://127.0.0.1:{free_port()}", domain=world.domain, timeout=2)
    with pytest.raises(SealrunError) as caught:
        client.health()
    assert caught.value.code == "SERVICE_UNREACHABLE"
