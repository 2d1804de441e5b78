"""Two real SMS processes on one PostgreSQL schema, hammered at once, then one killed.

Both run the production app (:mod:`tests.sms.crashserver`, as ``test_crash.py``). First,
every release request is sent to *both* replicas at the same instant (bounded rounds): each
nonce is accepted by exactly one of them, and per task no more secrets bundles go out than
the cap. Then a client listing both URLs releases task after task while the first replica is
killed with ``kill -9``: the client carries on with the second (at most the one request in
flight at the kill is cut, and it is never sent twice). At the end the audit chain both
wrote is one line and verifies, and per task: bundles seen <= ``RELEASED`` records <=
the release counter <= the cap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from sealrun.adapters.http.sms import SmsClient
from sealrun.core.attestation import SimulatorKey
from sealrun.core.tasks import task_id
from sealrun.services.sms.app import build_components
from sealrun.services.sms.audit import verify_audit_chain
from tests.sms.conftest import PG_URL
from tests.sms.crashserver import crash_deal, crash_world
from tests.sms.test_crash import CAP, TASKS, Attempt, CrashedSms, _attempt, _release

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.extended]  # 52 s: two SMS processes

ROUNDS = 4  # rounds of "the same request to both replicas at once", per task
SERIES = 12  # releases in the series during which the first replica is killed


def _both(urls: list[str], world: object, attempt: Attempt, enclave: str) -> list[str]:
    """Send one release to every replica at the same instant; return their answers."""
    answers = [""] * len(urls)
    gate = threading.Barrier(len(urls))

    def send(index: int) -> None:
        client = SmsClient(urls[index])
        try:
            gate.wait(timeout=30)
            answers[index] = _release(client, world, attempt, enclave)  # type: ignore[arg-type]
        finally:
            client.close()

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_two_sms_processes_serve_one_database_and_a_client_survives_a_kill(
    tmp_path: Path, simulator: SimulatorKey, pg_schema: str
) -> None:
    database = {"SEALRUN_SMS_DATABASE_URL": PG_URL, "SEALRUN_SMS_DATABASE_SCHEMA": pg_schema}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    replicas = [CrashedSms(tmp_path / name, simulator, database) for name in ("a", "b")]
    world = crash_world(simulator, TASKS + 1)
    tasks = [task_id(crash_deal(number), 0) for number in range(TASKS + 1)]
    urls = [replica.url for replica in replicas]
    client = SmsClient(",".join(urls), domain=world.domain, clock=world.clock)
    seen: Counter[bytes] = Counter()
    try:
        for replica in replicas:
            replica.start()
        client.push_dataset_key(bytes(world.dataset_owner.key), world.dataset, str(world.dataset_key))
        client.push_requester_secret(bytes(world.requester.key), "api", "s3cr3t")
        client.push_app_secret(bytes(world.app_owner.key), world.app, "dev")
        client.set_result_recipient(bytes(world.requester.key), str(world.result_key.recipient))
        enclaves = {task: client.enclave_challenge(bytes(world.pool_owner.key), task) for task in tasks}

        # 1. The same request to both replicas at once: each nonce is used once.
        for task in tasks[:TASKS]:
            for _ in range(ROUNDS):
                attempt = _attempt(client, world, task, enclaves[task])
                answers = _both(urls, world, attempt, enclaves[task])
                assert sorted(answers) in (
                    ["RELEASE_NONCE_USED", "secrets"],
                    ["RELEASE_NONCE_USED", "failure"],  # past the cap: a failure bundle, once
                ), answers
                seen[task] += answers.count("secrets")
            assert seen[task] == CAP  # ROUNDS > CAP: the cap held across both replicas

        # 2. A series of releases through the client listing both; the first replica dies.
        spare, answers = tasks[TASKS], []
        killer = threading.Timer(0.5, replicas[0].kill)
        killer.start()
        started = time.monotonic()
        for _ in range(SERIES):
            attempt = _attempt(client, world, spare, enclaves[spare])
            answers.append(_release(client, world, attempt, enclaves[spare]))
            time.sleep(0.1)
        killer.join()
        assert time.monotonic() - started < 120
        assert replicas[0].process is not None
        assert replicas[0].process.process is not None
        assert replicas[0].process.process.returncode == -9  # the kill landed during the series
        assert client.base_url == urls[1]  # the client moved to the live replica
        cut = [answer for answer in answers if answer == "SERVICE_UNREACHABLE"]
        assert len(cut) <= 1  # only a request in flight at the kill, never resent
        done = [answer for answer in answers if answer != "SERVICE_UNREACHABLE"]
        assert done == ["secrets"] * min(CAP, len(done)) + ["failure"] * max(0, len(done) - CAP)
        seen[spare] += done.count("secrets")
        head = client.audit_head()
        assert head is not None
    finally:
        for replica in replicas:
            replica.stop()
        client.close()

    components = build_components(replicas[1].settings, chain=world.chain, clock=world.clock)
    try:
        repository = components.usecases.repository
        records = repository.audit_records(limit=1_000_000)
        assert [record.seq for record in records] == list(range(1, len(records) + 1))
        assert verify_audit_chain(records) == head.entry_hash
        audited = Counter(record.task_id for record in records if record.code == "RELEASED")
        for task in tasks:
            counted = repository.releases("0x" + task.hex())
            assert seen[task] <= audited["0x" + task.hex()] <= counted <= CAP, (task.hex(), seen, audited)
    finally:
        components.close()
