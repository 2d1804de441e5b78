"""The enclave's per-task release round trip, ``strict`` vs ``session`` (decision 0080).

A real SMS served over HTTP on loopback (uvicorn, a SQLite file or PostgreSQL, the in-memory
chain reader of the SMS tests, simulated evidence), and the enclave's own client code timed
from the enclave's side, per task:

- ``strict``: :class:`~sealrun.enclave.smssecrets.SmsSecrets` ``fetch``: ask a nonce, make an
  ephemeral key, quote, present the evidence (the SMS verifies it, appraises, releases, seals,
  audits), open the bundle: two HTTP round trips and one evidence per task;
- ``session``: :class:`~sealrun.enclave.sessions.EnclaveSession` ``release`` after the session
  was opened once (not timed; printed apart): a fresh ephemeral key, a request signed by the
  session key, every per-task check at the SMS, the audit record, open the bundle: one round
  trip, no evidence.

Goal (issue 17): session p50 ≤ 10 ms; printed side by side with the strict round trip (the
reference) as a ratio.

Run: ``uv run python benchmarks/session_release.py [--tasks 200] [--postgres] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sms.conftest import PG_URL, Clock, World, make_settings, serve

from sealrun.adapters.db import create_database_engine, drop_schema
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.tee import SimulatedQuoter
from sealrun.core.attestation import SimulatorKey, make_simulated_evidence
from sealrun.enclave.sessions import EnclaveSession
from sealrun.enclave.smssecrets import SmsSecrets
from sealrun.services.sms.app import create_app
from sealrun.testing.chainstate import InMemoryChainReader

GOAL_MS = 10.0


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 3),
    }


def run(tasks: int, *, postgres: bool) -> dict[str, Any]:
    simulator = SimulatorKey.generate()
    world = World(chain=InMemoryChainReader(), clock=Clock(), simulator=simulator)
    folder = Path(tempfile.mkdtemp(prefix="sealrun-bench-session-"))
    overrides: dict[str, Any] = {}
    if postgres:
        overrides = {"database_url": PG_URL, "database_schema": f"bench_{uuid.uuid4().hex[:12]}"}
    app = create_app(make_settings(folder, simulator, **overrides), chain=world.chain, clock=world.clock)
    sms = app.state.sms
    world.push_secrets(sms)
    strict_tasks = [world.add_deal(os.urandom(32)) for _ in range(tasks)]
    session_tasks = [world.add_deal(os.urandom(32)) for _ in range(tasks)]
    challenges = {task: world.challenge(sms, task) for task in [*strict_tasks, *session_tasks]}
    strict: list[float] = []
    in_session: list[float] = []
    with serve(app) as url, SmsClient(url) as client:
        quoter = SimulatedQuoter(key=simulator, measurement=world.fingerprint)
        for task in strict_tasks:
            source = SmsSecrets(
                client=client, task_id=task, worker=world.worker.address,
                authorization=world.authorization(challenges[task], task=task),
            )  # fmt: skip
            began = time.perf_counter()
            source.fetch(quoter)
            strict.append(time.perf_counter() - began)
        fingerprint = world.fingerprint
        session = EnclaveSession(
            client=client, worker=world.worker.address, measurement=fingerprint, requires_strict=False,
            quote=lambda data: make_simulated_evidence(simulator, measurement=fingerprint, report_data=data),
        )  # fmt: skip
        began = time.perf_counter()
        session.open()
        opened_s = time.perf_counter() - began
        for task in session_tasks:
            authorization = world.authorization(challenges[task], task=task)
            began = time.perf_counter()
            session.release(task, authorization)
            in_session.append(time.perf_counter() - began)
    app.state.components.close()
    if postgres:  # a throw-away schema
        engine = create_database_engine(PG_URL)
        try:
            drop_schema(engine, overrides["database_schema"])
        finally:
            engine.dispose()
    session_figures = _percentiles(in_session)
    strict_figures = _percentiles(strict)
    return {
        "database": "postgresql" if postgres else "sqlite",
        "tasks": tasks,
        "session_open_ms": round(opened_s * 1000, 3),
        "session": session_figures,
        "strict": strict_figures,
        "session_over_strict_p50": round(session_figures["p50_ms"] / strict_figures["p50_ms"], 3),
        "goal_p50_ms": GOAL_MS,
        "ratio_to_goal": round(session_figures["p50_ms"] / GOAL_MS, 3),
        "cores": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of a SQLite file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.tasks, postgres=args.postgres)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
        return 0
    print(f"per-task release round trip, {figures['tasks']} tasks, {figures['database']}")
    print(f"  {'mode':<8} {'p50 ms':>8} {'p95 ms':>8}")
    for mode in ("strict", "session"):
        print(f"  {mode:<8} {figures[mode]['p50_ms']:>8} {figures[mode]['p95_ms']:>8}")
    print(
        f"session p50 / strict p50: {figures['session_over_strict_p50']}x   session p50 / goal "
        f"({GOAL_MS} ms): {figures['ratio_to_goal']}x   "
        f"(session opened once in {figures['session_open_ms']} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
