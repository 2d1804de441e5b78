"""kill -9 of the SMS while releases are in flight, then a fresh process on the same database.

The SMS runs as its own process (:mod:`tests.sms.crashserver`, the production app and
settings). Each round fires releases for several tasks at once and SIGKILLs the process
after a random delay inside the burst, so the kill lands between a nonce's consumption,
the release counter, the audit append and the answer. A fresh process on the same SQLite
file or PostgreSQL schema must then show:

- nothing lost: the audit chain verifies end to end, secrets stored before the crash still
  open in a release;
- nothing released twice beyond the cap: per task, bundles with secrets seen by clients
  <= ``RELEASED`` audit records <= ``sms_task_releases`` <= ``max_releases_per_task``;
- nonces single-use across the crash: a nonce answered before the kill is refused as
  ``RELEASE_NONCE_USED`` after it; one cut mid-flight is accepted at most once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.http.sms import SmsClient
from sealrun.core.attestation import Evidence, SimulatorKey
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import SecretsBundle, task_id
from sealrun.errors import SealrunError
from sealrun.services.sms.app import build_components
from sealrun.services.sms.audit import verify_audit_chain
from sealrun.services.sms.settings import SmsSettings
from tests.pool.servers import ServiceProcess, free_port
from tests.sms.conftest import PG_URL, World
from tests.sms.crashserver import crash_deal, crash_world

TASKS = 3  # tasks released during the crashes; one more is kept for after them
CAP = 3
ROUNDS = 3
BURST = 8  # releases in flight when the kill comes
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Attempt:
    """One release request, kept to replay it after the crash."""

    task: bytes
    body: dict[str, Any]
    identity: Identity
    answer: str | None = None  # "secrets", "failure" or an error code; None if cut by the kill


class CrashedSms:
    """Start, kill -9 and restart SMS processes on one database."""

    def __init__(self, tmp_path: Path, simulator: SimulatorKey, database: dict[str, str]) -> None:
        key_file = tmp_path / "simulator.pem"
        key_file.write_bytes(simulator.public_key.to_pem())
        (tmp_path / "sms").mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PYTHONPATH": str(REPO),
            "SEALRUN_CRASH_TASKS": str(TASKS + 1),
            "SEALRUN_SMS_MODE": "embedded-devnet",
            "SEALRUN_SMS_DATA_DIR": str(tmp_path / "sms"),
            "SEALRUN_SMS_PORT": str(self.port),
            "SEALRUN_SMS_MASTER_KEY": "0x" + "42" * 32,
            "SEALRUN_SMS_CHAIN_ID": "65535",
            "SEALRUN_SMS_HUB": "0x" + "48" * 20,
            "SEALRUN_SMS_ALLOW_SIMULATED_EVIDENCE": "true",
            "SEALRUN_SMS_SIMULATOR_PUBLIC_KEY_FILE": str(key_file),
            "SEALRUN_SMS_UPLOAD_TOKEN_KEY": "u" * 32,
            "SEALRUN_SMS_MAX_RELEASES_PER_TASK": str(CAP),
            **database,
        }
        self.settings = SmsSettings(**{k.removeprefix("SEALRUN_SMS_").lower(): v for k, v in self.env.items()
                                       if k.startswith("SEALRUN_SMS_")})  # fmt: skip
        self.log = tmp_path / "sms.log"
        self.process: ServiceProcess | None = None

    def start(self) -> None:
        self.process = ServiceProcess(
            "tests.sms.crashserver", self.env, health_url=self.url + "/v1/health", log=self.log
        ).start(timeout=120)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        assert self.process.process is not None
        assert self.process.process.returncode == -9

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _release(client: SmsClient, world: World, attempt: Attempt, enclave: str) -> str:
    """Send one release; return what came back (the bundle's kind, or the refusal's code)."""
    try:
        released = client.release(attempt.task, **attempt.body)
    except SealrunError as error:
        return error.code
    bundle = SecretsBundle.from_json(open_bytes(released.sealed_bundle, [attempt.identity]))
    if bundle.failure is not None:
        return "failure"
    # Secrets stored before any crash still open.
    assert bundle.dataset is not None
    assert bundle.dataset.key == str(world.dataset_key)
    assert bundle.requester_secrets == {1: "s3cr3t"}
    assert released.enclave_challenge == enclave
    return "secrets"


def _send(url: str, world: World, attempt: Attempt, enclave: str) -> None:
    """Send one release on its own connection (a thread of the burst)."""
    client = SmsClient(url)
    try:
        attempt.answer = _release(client, world, attempt, enclave)
    finally:
        client.close()


def _attempt(client: SmsClient, world: World, task: bytes, enclave: str) -> Attempt:
    identity = Identity.generate()
    nonce = client.attestation_nonce(task)
    body = {
        "nonce": nonce, "worker": world.worker.address,
        "authorization": world.authorization(enclave, task=task),
        "evidence": Evidence.from_json(world.evidence(nonce, identity, task=task)),
        "ephemeral_recipient": str(identity.recipient),
    }  # fmt: skip
    return Attempt(task=task, body=body, identity=identity)


def _crash_and_restart(tmp_path: Path, simulator: SimulatorKey, database: dict[str, str]) -> None:
    world = crash_world(simulator, TASKS + 1)
    tasks = [task_id(crash_deal(number), 0) for number in range(TASKS + 1)]
    crashing, spare = tasks[:TASKS], tasks[TASKS]
    sms = CrashedSms(tmp_path, simulator, database)
    sms.start()
    client = SmsClient(sms.url, domain=world.domain, clock=world.clock)
    client.push_dataset_key(bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key))
    client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t")
    client.push_app_secret(bytes(world.app_owner.key), world.app, "dev")
    client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
    enclaves = {task: client.enclave_challenge(bytes(world.pool_owner.key), task) for task in tasks}
    first = _attempt(client, world, crashing[0], enclaves[crashing[0]])
    first.answer = _release(client, world, first, enclaves[crashing[0]])
    assert first.answer == "secrets"
    attempts, cut_rounds, rng = [first], 0, random.Random(16)
    try:
        for _ in range(ROUNDS):
            burst = [_attempt(client, world, crashing[n % TASKS], enclaves[crashing[n % TASKS]])
                     for n in range(BURST)]  # fmt: skip
            attempts += burst
            senders = [
                threading.Thread(
                    target=_send, args=(sms.url, world, attempt, enclaves[attempt.task]), daemon=True
                )
                for attempt in burst
            ]
            for sender in senders:
                sender.start()
            # Inside the burst: once a few releases have answered, while the others are in flight.
            target, deadline = rng.randint(1, BURST // 2), time.monotonic() + 60
            while sum(a.answer is not None for a in burst) < target and time.monotonic() < deadline:
                time.sleep(0.002)
            sms.kill()
            for sender in senders:
                sender.join(timeout=60)
            cut = [attempt for attempt in burst if attempt.answer == "SERVICE_UNREACHABLE"]
            for attempt in cut:
                attempt.answer = None
            cut_rounds += bool(cut)
            sms.start()
            # Nonces are single-use across the crash.
            for attempt in burst:
                if attempt.answer is not None:
                    assert _release(client, world, attempt, enclaves[attempt.task]) == "RELEASE_NONCE_USED"
                else:
                    again = _release(client, world, attempt, enclaves[attempt.task])
                    attempt.answer = again  # processed now, at most once
                    assert _release(client, world, attempt, enclaves[attempt.task]) == "RELEASE_NONCE_USED"
        # The kills did land inside bursts: some releases answered, others cut.
        assert cut_rounds >= 1, "no kill landed inside a burst: the test proved nothing"
        # Secrets stored before the crashes still open for a task that was never released.
        late = _attempt(client, world, spare, enclaves[spare])
        assert _release(client, world, late, enclaves[spare]) == "secrets"
        head = client.audit_head()
        assert head is not None
    finally:
        sms.stop()
        client.close()

    components = build_components(sms.settings, chain=world.chain, clock=world.clock)
    try:
        repository = components.usecases.repository
        records = repository.audit_records(limit=1_000_000)
        assert [record.seq for record in records] == list(range(1, len(records) + 1))
        assert verify_audit_chain(records) == head.entry_hash
        seen = Counter(attempt.task for attempt in attempts if attempt.answer == "secrets")
        audited = Counter(record.task_id for record in records if record.code == "RELEASED")
        for task in crashing:
            counted = repository.releases("0x" + task.hex())
            assert seen[task] <= audited["0x" + task.hex()] <= counted <= CAP, (task.hex(), seen, audited)
        assert sum(seen.values()) >= 1
    finally:
        components.close()


@pytest.mark.e2e
@pytest.mark.extended  # the same rounds as on PostgreSQL (default tier), on the SQLite file
def test_kill_9_mid_release_on_sqlite(tmp_path: Path, simulator: SimulatorKey) -> None:
    _crash_and_restart(tmp_path, simulator, {})


@pytest.mark.e2e
@pytest.mark.postgres
def test_kill_9_mid_release_on_postgres(tmp_path: Path, simulator: SimulatorKey, pg_schema: str) -> None:
    database = {"SEALRUN_SMS_DATABASE_URL": PG_URL, "SEALRUN_SMS_DATABASE_SCHEMA": pg_schema}
    _crash_and_restart(tmp_path, simulator, database)
