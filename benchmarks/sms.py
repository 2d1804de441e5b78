"""SMS benchmark: attested key releases per second and p50/p99 latency.

For each configuration it prepares ``--releases`` complete release requests (a fresh nonce,
a fresh ephemeral key, evidence binding both, the scheduler's authorization) and then times
only ``SmsUseCases.release`` for each: nonce consumption, chain reads (in-memory reader),
evidence verification, report-data binding, policy, authorization, dataset order, reading
and decrypting the stored secrets, sealing the bundle (age) and appending the audit record,
all in one process on a real database.

Configurations: ``simulated`` evidence, and ``dcap``: the same release plus a real
``sgx-dcap`` verification of the shared SGX vector (``dcap-qvl``, pinned Intel root) at its
``verify_at`` inside the verifier. The vector's report data cannot bind a fresh nonce and its
measurement is not our app, so in the ``dcap`` run its claims are verified but not appraised
(the measurement check aside); the simulated evidence then carries the binding. Each runs on
SQLite (a file) and on PostgreSQL (``--postgres URL``, a throw-away schema; skipped with
``--no-postgres``).

Reference: ``ratio`` is each configuration's p50 over the bare DCAP verification p50 of the
same vector (``dcap_qvl.verify_with_root_ca``), i.e. what one release costs in units of the
quote verification a key broker cannot avoid.

Run: ``uv run python benchmarks/sms.py [--releases 1000] [--json] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dcap_qvl
from eth_account import Account

from sealrun.adapters.db import create_database_engine, drop_schema
from sealrun.adapters.web import SignedCall
from sealrun.api.signing import request_action
from sealrun.core.attestation import (
    Claims,
    Evidence,
    EvidenceType,
    SgxDcapVerifier,
    SimulatedVerifier,
    SimulatorKey,
    decode_evidence_text,
    make_simulated_evidence,
    report_data_for,
)
from sealrun.core.attestation.roots import INTEL_SGX_ROOT_CA
from sealrun.core.chainstate import (
    AppRecord,
    DatasetRecord,
    DealRecord,
    TaskRecord,
    TaskStatus,
    WorkerpoolRecord,
)
from sealrun.core.requests import sign_request
from sealrun.core.sealing import Identity
from sealrun.core.tasks import authorization_digest, sign_digest, task_id
from sealrun.services.sms.app import build_components
from sealrun.services.sms.release import ReleaseRequest
from sealrun.services.sms.settings import SmsSettings
from sealrun.services.sms.usecases import SmsUseCases
from sealrun.testing.chainstate import InMemoryChainReader

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO.parent / "shared" / "attestation-vectors"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = 1_800_000_000
HUB = "0x" + "48" * 20
CHAIN_ID = 65535


def _account(seed: str) -> Any:
    return Account.from_key(hashlib.sha256(seed.encode()).digest())


@dataclass
class DcapThenSimulated:
    """Runs the real SGX DCAP verification of the vector, then verifies the simulated binding."""

    dcap: SgxDcapVerifier
    quote: Evidence
    verify_at: int
    simulated: SimulatedVerifier

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        self.dcap.verify(self.quote, now=self.verify_at)
        return self.simulated.verify(evidence, now=now)


def _sgx_vector() -> tuple[Evidence, int]:
    entry = next(
        e for e in json.loads((VECTORS / "vectors.json").read_text()) if e["id"] == "sgx-dcapqvl-sample"
    )
    evidence = Evidence(
        EvidenceType.SGX_DCAP,
        decode_evidence_text((VECTORS / entry["evidence"]).read_bytes()),
        (VECTORS / entry["collateral"]).read_bytes(),
    )
    return evidence, int(entry["verify_at"])


class Market:
    """One TEE deal with a dataset, its parties and their secrets, on an in-memory chain."""

    def __init__(self, simulator: SimulatorKey) -> None:
        self.simulator = simulator
        self.chain = InMemoryChainReader()
        self.owner, self.dev, self.pool_owner = _account("o"), _account("d"), _account("p")
        self.requester, self.worker = _account("r"), _account("w")
        self.app, self.dataset, self.pool = "0x" + "a1" * 20, "0x" + "d5" * 20, "0x" + "9f" * 20
        self.fingerprint = hashlib.sha256(b"app").digest()
        self.deal = hashlib.sha256(b"deal").digest()
        self.task = task_id(self.deal, 0)
        self.chain.add_app(AppRecord(self.app, self.dev.address, self.fingerprint))
        self.chain.add_dataset(
            DatasetRecord(self.dataset, self.owner.address, "http://store/x", b"\x01" * 32)
        )
        self.chain.add_workerpool(WorkerpoolRecord(self.pool, self.pool_owner.address))
        params = json.dumps({"iexec_args": "x", "iexec_secrets": {"1": "api"}})
        self.chain.add_deal(
            DealRecord(
                self.deal,
                self.app,
                self.dataset,
                self.pool,
                self.requester.address,
                self.requester.address,
                (1).to_bytes(32, "big"),
                params,
                600,
            )
        )
        self.chain.add_task(TaskRecord(self.task, self.deal, 0, TaskStatus.ACTIVE, NOW + 10**6))

    def signed(self, account: Any, method: str, path: str, body: dict[str, str] | None) -> SignedCall:
        raw = b"" if body is None else json.dumps(body).encode()
        action = request_action(method, path)
        domain = _domain()
        signature = sign_request(
            account.key, domain, action=action, body=raw, timestamp=NOW, nonce=uuid.uuid4().bytes * 2
        )
        return SignedCall(action, raw, signature)

    def setup(self, sms: SmsUseCases) -> str:
        key = str(Identity.generate())
        sms.put_dataset_key(self.signed(self.owner, "PUT", "/k", {"key": key}), self.dataset, key)
        sms.put_requester_secret(
            self.signed(self.requester, "PUT", "/s", None), self.requester.address, "api", "v"
        )
        recipient = str(Identity.generate().recipient)
        sms.put_result_recipient(
            self.signed(self.requester, "PUT", "/r", None), self.requester.address, recipient
        )
        return sms.enclave_challenge(self.signed(self.pool_owner, "POST", "/c", None), self.task)

    def request(self, sms: SmsUseCases, enclave: str) -> ReleaseRequest:
        nonce, _ = sms.issue_nonce(self.task)
        identity = Identity.generate()
        data = report_data_for(nonce, identity.public_bytes, self.task)
        evidence = make_simulated_evidence(self.simulator, measurement=self.fingerprint, report_data=data)
        authorization = sign_digest(
            bytes(self.pool_owner.key), authorization_digest(self.worker.address, self.task, enclave)
        )
        return ReleaseRequest(
            self.task, nonce, self.worker.address, authorization, evidence.to_json(), str(identity.recipient)
        )


def _domain() -> Any:
    from sealrun.core.requests import RequestDomain

    return RequestDomain(chain_id=CHAIN_ID, hub=HUB)


def _run(
    database: str, schema: str | None, folder: Path, verifier: Any, simulator: SimulatorKey, count: int
) -> dict[str, float]:
    pem = folder / "sim.pem"
    pem.write_bytes(simulator.public_key.to_pem())
    settings = SmsSettings(
        data_dir=folder,
        database_url=database,
        database_schema=schema,
        master_key="0x" + "42" * 32,
        chain_id=CHAIN_ID,
        hub=HUB,
        allow_simulated_evidence=True,
        simulator_public_key_file=pem,
        nonce_ttl=3600,
    )
    market = Market(simulator)
    verifiers = None if verifier is None else {EvidenceType.SIMULATED: verifier}
    components = build_components(settings, chain=market.chain, clock=lambda: NOW, verifiers=verifiers)
    try:
        sms = components.usecases
        enclave = market.setup(sms)
        requests = [market.request(sms, enclave) for _ in range(count)]
        samples = []
        started = time.perf_counter()
        for request in requests:
            begin = time.perf_counter_ns()
            sms.release(request)
            samples.append(time.perf_counter_ns() - begin)
        elapsed = time.perf_counter() - started
    finally:
        components.close()
    samples.sort()
    return {
        "releases": count,
        "per_second": count / elapsed,
        "p50_ms": statistics.median(samples) / 1e6,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1e6,
    }


def _bare_dcap_ms(quote: Evidence, verify_at: int, iterations: int = 200) -> float:
    collateral = dcap_qvl.QuoteCollateralV3.from_json((quote.collateral or b"").decode())
    root = INTEL_SGX_ROOT_CA.der
    samples = []
    for _ in range(iterations):
        begin = time.perf_counter_ns()
        dcap_qvl.verify_with_root_ca(quote.payload, collateral, root, verify_at)
        samples.append(time.perf_counter_ns() - begin)
    return statistics.median(samples) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--postgres", default=PG_URL)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (VECTORS / "vectors.json").is_file():
        print(f"attestation vectors missing at {VECTORS}", file=sys.stderr)
        return 1
    simulator = SimulatorKey.generate()
    quote, verify_at = _sgx_vector()
    dcap = DcapThenSimulated(SgxDcapVerifier(), quote, verify_at, SimulatedVerifier(simulator.public_key))
    reference = _bare_dcap_ms(quote, verify_at)
    results: list[dict[str, Any]] = []
    backends: list[tuple[str, Callable[[Path], tuple[str, str | None]]]] = [
        ("sqlite", lambda folder: (f"sqlite:///{folder / 'sms.db'}", None)),
    ]
    if not args.no_postgres:
        backends.append(("postgresql", lambda _folder: (args.postgres, f"sms_bench_{uuid.uuid4().hex[:10]}")))
    for backend, locate in backends:
        for evidence, verifier in (("simulated", None), ("dcap", dcap)):
            with tempfile.TemporaryDirectory() as scratch:
                url, schema = locate(Path(scratch))
                try:
                    figures = _run(url, schema, Path(scratch), verifier, simulator, args.releases)
                finally:
                    if schema is not None:
                        engine = create_database_engine(url)
                        drop_schema(engine, schema)
                        engine.dispose()
            results.append(
                {
                    "backend": backend,
                    "evidence": evidence,
                    **figures,
                    "reference_dcap_verify_p50_ms": reference,
                    "ratio": figures["p50_ms"] / reference,
                }
            )
    if args.json:
        print(json.dumps({"benchmark": "sms-release", "results": results}, indent=2))
        return 0
    print(f"SMS attested releases ({args.releases} each)")
    print(f"reference: bare dcap-qvl SGX verify p50 = {reference:.2f} ms")
    print(f"{'backend':<11} {'evidence':<10} {'rel/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50/ref':>8}")
    for row in results:
        print(
            f"{row['backend']:<11} {row['evidence']:<10} {row['per_second']:>8.1f} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {row['ratio']:>8.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
