"""A small marketplace for SMS tests: accounts, an in-memory chain, a simulated enclave."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.adapters.web import SignedCall
from sealrun.api.signing import request_action
from sealrun.core.attestation import SimulatorKey, make_simulated_evidence, report_data_for
from sealrun.core.chainstate import (
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    TaskStatus,
    WorkerpoolRecord,
)
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.core.sealing import Identity
from sealrun.core.tasks import authorization_digest, sign_digest, task_id
from sealrun.services.sms.app import build_components
from sealrun.services.sms.release import ReleaseRequest
from sealrun.services.sms.settings import SmsSettings
from sealrun.services.sms.usecases import SmsUseCases
from sealrun.testing.chainstate import InMemoryChainReader

CHAIN_ID = 65535
HUB = "0x" + "48" * 20
T0 = 1_800_000_000
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEE_TAG = (1).to_bytes(32, "big")


class Clock:
    """A settable clock (UNIX seconds)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _account(seed: str) -> LocalAccount:
    return Account.from_key(hashlib.sha256(seed.encode()).digest())


@dataclass
class World:
    """Accounts, chain records and helpers to sign requests and attest as an enclave."""

    chain: InMemoryChainReader
    clock: Clock
    simulator: SimulatorKey
    domain: RequestDomain = field(default_factory=lambda: RequestDomain(chain_id=CHAIN_ID, hub=HUB))
    dataset_owner: LocalAccount = field(default_factory=lambda: _account("dataset-owner"))
    app_owner: LocalAccount = field(default_factory=lambda: _account("app-owner"))
    pool_owner: LocalAccount = field(default_factory=lambda: _account("pool-owner"))
    requester: LocalAccount = field(default_factory=lambda: _account("requester"))
    worker: LocalAccount = field(default_factory=lambda: _account("worker"))
    stranger: LocalAccount = field(default_factory=lambda: _account("stranger"))
    app: str = "0x" + "a1" * 20
    dataset: str = "0x" + "d5" * 20
    pool: str = "0x" + "9f" * 20
    fingerprint: bytes = hashlib.sha256(b"the app bundle").digest()
    dataset_key: Identity = field(default_factory=Identity.generate)
    result_key: Identity = field(default_factory=Identity.generate)
    deal_id: bytes = hashlib.sha256(b"deal").digest()
    params: dict[str, Any] = field(
        default_factory=lambda: {"iexec_args": "--fast", "iexec_secrets": {"1": "api"}}
    )

    def __post_init__(self) -> None:
        chain = self.chain
        chain.add_app(AppRecord(address=self.app, owner=self.app_owner.address, fingerprint=self.fingerprint))
        chain.add_dataset(
            DatasetRecord(
                address=self.dataset,
                owner=self.dataset_owner.address,
                url="http://store/blob",
                checksum=b"\x07" * 32,
            )
        )
        chain.add_workerpool(WorkerpoolRecord(address=self.pool, owner=self.pool_owner.address))
        self.add_deal(self.deal_id)

    def add_deal(self, deal_id: bytes, **changes: Any) -> bytes:
        """Record a TEE deal with one ACTIVE task; return the task id."""
        values: dict[str, Any] = {
            "deal_id": deal_id, "app": self.app, "dataset": self.dataset, "workerpool": self.pool,
            "requester": self.requester.address, "beneficiary": self.requester.address, "tag": TEE_TAG,
            "params": json.dumps(self.params), "category_time": 600,
        }  # fmt: skip
        values.update(changes)
        self.chain.add_deal(DealRecord(**values))
        task = task_id(deal_id, 0)
        self.chain.add_task(
            TaskRecord(
                task_id=task, deal_id=deal_id, index=0, status=TaskStatus.ACTIVE, final_deadline=T0 + 3600
            )
        )
        return task

    @property
    def task(self) -> bytes:
        return task_id(self.deal_id, 0)

    def signed(
        self, account: LocalAccount, method: str, path: str, body: Any = None, query: str = ""
    ) -> SignedCall:
        """A signed call as the HTTP layer would build it."""
        raw = b"" if body is None else json.dumps(body).encode()
        action = request_action(method, path, query)
        signature = sign_request(
            account.key, self.domain, action=action, body=raw, timestamp=self.clock(), nonce=os.urandom(32)
        )
        return SignedCall(action=action, body=raw, signature=signature)

    def authorization(
        self, enclave: str, *, signer: LocalAccount | None = None, task: bytes | None = None
    ) -> bytes:
        """The scheduler's authorization of the worker for a task and enclave challenge."""
        digest = authorization_digest(self.worker.address, task or self.task, enclave)
        return sign_digest(bytes((signer or self.pool_owner).key), digest)

    def evidence(
        self,
        nonce: bytes,
        identity: Identity,
        *,
        task: bytes | None = None,
        measurement: bytes | None = None,
        debug: bool = False,
        report_data: bytes | None = None,
        tcb_status: str = "UpToDate",
    ) -> str:
        """Simulated evidence (JSON envelope) binding the nonce, the ephemeral key and the task."""
        data = report_data or report_data_for(nonce, identity.public_bytes, task or self.task)
        evidence = make_simulated_evidence(
            self.simulator,
            measurement=measurement or self.fingerprint,
            report_data=data,
            debug=debug,
            tcb_status=tcb_status,
        )
        return evidence.to_json()

    def push_secrets(self, sms: SmsUseCases) -> None:
        """Push every secret the default task needs, as their owners."""
        path = f"/v1/datasets/{self.dataset}/key"
        body = {"key": str(self.dataset_key)}
        sms.put_dataset_key(
            self.signed(self.dataset_owner, "PUT", path, body), self.dataset, str(self.dataset_key)
        )
        path = f"/v1/requesters/{self.requester.address}/secrets/api"
        sms.put_requester_secret(
            self.signed(self.requester, "PUT", path, {"value": "s3cr3t"}),
            self.requester.address,
            "api",
            "s3cr3t",
        )
        path = f"/v1/apps/{self.app}/secret"
        sms.put_app_secret(self.signed(self.app_owner, "PUT", path, {"value": "dev"}), self.app, "dev")
        path = f"/v1/beneficiaries/{self.requester.address}/recipient"
        recipient = str(self.result_key.recipient)
        sms.put_result_recipient(
            self.signed(self.requester, "PUT", path, {"recipient": recipient}),
            self.requester.address,
            recipient,
        )

    def challenge(self, sms: SmsUseCases, task: bytes | None = None) -> str:
        """Ask for the task's enclave challenge as the pool owner."""
        task = task or self.task
        path = f"/v1/tasks/0x{task.hex()}/enclave-challenge"
        return sms.enclave_challenge(self.signed(self.pool_owner, "POST", path), task)

    def release_request(
        self, sms: SmsUseCases, enclave: str, identity: Identity, **evidence: Any
    ) -> ReleaseRequest:
        """A complete, valid release request for the default task (overridable evidence)."""
        nonce, _ = sms.issue_nonce(self.task)
        return ReleaseRequest(
            task_id=self.task,
            nonce=nonce,
            worker=self.worker.address,
            authorization=self.authorization(enclave),
            evidence=self.evidence(nonce, identity, **evidence),
            ephemeral_recipient=str(identity.recipient),
        )


@pytest.fixture(scope="session")
def simulator() -> SimulatorKey:
    return SimulatorKey.generate()


@pytest.fixture
def world(simulator: SimulatorKey) -> World:
    return World(chain=InMemoryChainReader(), clock=Clock(), simulator=simulator)


def make_settings(tmp_path: Path, simulator: SimulatorKey, **overrides: Any) -> SmsSettings:
    """Devnet settings with simulated evidence, a fixed master key, a file database."""
    key_file = tmp_path / "simulator.pem"
    if not key_file.exists():
        key_file.write_bytes(simulator.public_key.to_pem())
    values: dict[str, Any] = {
        "mode": "embedded-devnet",
        "data_dir": tmp_path,
        "master_key": "0x" + "42" * 32,
        "chain_id": CHAIN_ID,
        "hub": HUB,
        "allow_simulated_evidence": True,
        "simulator_public_key_file": key_file,
        "upload_token_key": "u" * 32,
    }
    values.update(overrides)
    return SmsSettings(**values)


@pytest.fixture
def settings(tmp_path: Path, simulator: SimulatorKey) -> SmsSettings:
    return make_settings(tmp_path, simulator)


@pytest.fixture
def components() -> Iterator[list[Any]]:
    """Everything a test builds with :func:`build` is closed at teardown."""
    built: list[Any] = []
    yield built
    for item in reversed(built):
        item.close()


@pytest.fixture
def build(components: list[Any], world: World) -> Any:
    """Build the SMS use cases for some settings against the test world (closed at teardown)."""

    def make(settings: SmsSettings) -> SmsUseCases:
        built = build_components(settings, chain=world.chain, clock=world.clock)
        components.append(built)
        return built.usecases

    return make


@pytest.fixture
def sms(settings: SmsSettings, build: Any) -> SmsUseCases:
    return build(settings)  # type: ignore[no-any-return]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    from sealrun.adapters.db import create_database_engine, drop_schema

    schema = f"sms_test_{uuid.uuid4().hex[:12]}"
    yield schema
    engine = create_database_engine(PG_URL)
    try:
        drop_schema(engine, schema)
    finally:
        engine.dispose()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn server on a loopback port (in a thread)."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped at startup"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
