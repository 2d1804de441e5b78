"""The worker's composition root: ``create_app`` serves its status while its loop runs beside.

Importing does nothing. :func:`build_worker` assembles the worker from settings (chain,
scheduler, TEE backend); the lifespan of :func:`create_app` starts it in a thread (recover,
register, take assignments) and stops it on shutdown. ``__main__`` runs the same loop
without HTTP when no port is configured.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from eth_account import Account
from fastapi import FastAPI

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.tee import SessionTee, SimulatedTee, TeeBackend
from sealrun.adapters.tee.confidential import ConfidentialVmTee, GramineSgxTee
from sealrun.adapters.tee.hardware import BACKENDS, HostReport, backend_availability, probe_host
from sealrun.adapters.web import install_problem_handlers
from sealrun.adapters.web.observability import (
    Check,
    ServiceMetrics,
    http_check,
    install_observability,
    rpc_check,
)
from sealrun.core.netpolicy import FetchPolicy
from sealrun.core.requests import RequestDomain
from sealrun.errors import ConfigError
from sealrun.services.worker.bundles import RegistryBundles
from sealrun.services.worker.journal import TaskJournal
from sealrun.services.worker.routes import router
from sealrun.services.worker.settings import WorkerSettings
from sealrun.services.worker.settlement import HubSettlement
from sealrun.services.worker.usecases import Worker

__all__ = ["build_worker", "create_app", "readiness_checks", "task_root", "tee_backend"]

log = logging.getLogger("sealrun.worker")


def tee_backend(settings: WorkerSettings, *, host: HostReport | None = None) -> TeeBackend:
    """The configured TEE backend, checked against what this host can do.

    Args:
        settings: the worker's settings (``tee``, and each backend's own).
        host: what the host offers (default: :func:`probe_host` of ``settings.tee_root``).

    Raises:
        ConfigError: ``CONFIG_TEE_UNKNOWN`` for a name that is no backend,
            ``CONFIG_TEE_UNAVAILABLE`` for a hardware backend this host cannot run,
            ``CONFIG_INVALID`` for a missing simulator key or Gramine manifest, or isolation
            ``session`` with a hardware backend (not wired yet: decision 0080).
    """
    if settings.tee not in BACKENDS:
        raise ConfigError(
            f"unknown TEE backend {settings.tee!r} (known: {', '.join(BACKENDS)})", code="CONFIG_TEE_UNKNOWN"
        )
    if settings.tee == "simulated":
        if settings.simulator_key_file is None:
            raise ConfigError(
                "the simulated TEE needs SEALRUN_WORKER_SIMULATOR_KEY_FILE", code="CONFIG_INVALID"
            )
        log.warning("TEE backend: simulated: it protects nothing from this host (development and tests only)")
        if settings.isolation == "session":
            log.info("isolation: session (one attested enclave per slot, a fresh sandbox per task)")
            return SessionTee(
                simulator_key_file=settings.simulator_key_file, stderr_dir=settings.work_dir / "enclaves"
            )
        return SimulatedTee(simulator_key_file=settings.simulator_key_file)
    if settings.isolation == "session":
        raise ConfigError(
            f"isolation 'session' is wired for the simulated TEE only, not {settings.tee}",
            code="CONFIG_INVALID",
        )
    available, why = backend_availability(
        settings.tee, host or probe_host(settings.tee_root, try_bubblewrap=False)
    )
    if not available:
        raise ConfigError(
            f"the {settings.tee} TEE backend cannot run on this host: {why} (see `sealrun tee doctor`)",
            code="CONFIG_TEE_UNAVAILABLE",
        )
    log.info("TEE backend: %s (%s)", settings.tee, why)
    if settings.tee == "gramine-sgx":
        if settings.gramine_manifest is None:
            raise ConfigError(
                "the gramine-sgx TEE needs SEALRUN_WORKER_GRAMINE_MANIFEST", code="CONFIG_INVALID"
            )
        return GramineSgxTee(manifest=settings.gramine_manifest)
    return ConfidentialVmTee(name=settings.tee, root=settings.tee_root)


def task_root(settings: WorkerSettings) -> Path:
    """The folder of the tasks' work folders (see :class:`WorkerSettings`), created.

    Raises:
        ConfigError: ``CONFIG_INVALID`` if the folder exists and is not ours alone to write.
    """
    if settings.task_root is not None:
        root = settings.task_root
    elif os.geteuid() == 0:
        tag = hashlib.sha256(str(settings.work_dir.resolve()).encode()).hexdigest()[:16]
        root = Path(tempfile.gettempdir()) / f"sealrun-tasks-{tag}"
    else:
        return settings.work_dir / "tasks"
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    info = root.lstat()
    # Another local user could have made the folder first (it is in a shared place).
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise ConfigError(
            f"the task folder {str(root)!r} is not ours alone to write: "
            "remove it or set SEALRUN_WORKER_TASK_ROOT",
            code="CONFIG_INVALID",
        )
    root.chmod(0o711)
    return root


def enclave_options(settings: WorkerSettings) -> tuple[str, ...]:
    """The enclave arguments of the worker's fetch policy.

    Raises:
        ConfigError: ``FETCH_POLICY_INVALID`` for an origin that is not ``http(s)://host[:port]``.
    """
    origins = FetchPolicy(allowed_http_origins=frozenset(settings.input_http_origins)).allowed_http_origins
    options: list[str] = []
    for origin in sorted(origins):
        options += ["--allow-http-origin", origin]
    if settings.max_input_bytes is not None:
        options += ["--max-input-bytes", str(settings.max_input_bytes)]
    if settings.tls_ca_file is not None:
        options += ["--tls-ca-file", str(settings.tls_ca_file)]
    return tuple(options)


def build_worker(settings: WorkerSettings) -> Worker:
    """Connect to the chain with the worker's wallet and assemble the worker.

    Raises:
        ChainError: if the chain or the hub cannot be reached; ConfigError: bad settings.
    """
    account = Account.from_key(settings.key.get_secret_value())
    market = Marketplace.connect(settings.rpc_url, hub=settings.hub, account=account)
    domain = RequestDomain(chain_id=market.rpc.chain_id, hub=settings.hub)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    return Worker(
        address=account.address,
        scheduler=SchedulerClient(
            settings.scheduler_url, key=bytes(account.key), domain=domain, ca_file=settings.tls_ca_file
        ),
        tee=tee_backend(settings),
        settlement=HubSettlement(market.hub),
        bundle_of=RegistryBundles(market.registry),
        journal=TaskJournal(settings.work_dir),
        task_root=task_root(settings),
        sms_url=settings.sms_url,
        slots=settings.slots,
        poll_wait=settings.poll_wait,
        enclave_options=enclave_options(settings),
        batch_size=settings.settle_batch_size,
        batch_delay=settings.settle_batch_delay,
        settle_when_idle=settings.settle_when_idle,
    )


def readiness_checks(settings: WorkerSettings) -> dict[str, Check]:
    """Readiness: the chain, the pool's scheduler and the SMS its enclaves attest to."""
    return {
        "chain": rpc_check(settings.rpc_url),
        "scheduler": http_check(settings.scheduler_url, ca_file=settings.tls_ca_file),
        "sms": http_check(settings.sms_url, ca_file=settings.tls_ca_file),
    }


def _metrics(worker: Worker) -> ServiceMetrics:
    """Tasks running here, results settled, the settlement queue (read at each scrape: memory only)."""
    metrics = ServiceMetrics("worker")
    metrics.sampled(
        "sealrun_tasks",
        "This worker's tasks, by status (running: started and not yet settled).",
        ["status"],
        lambda: {("running",): float(worker.busy()), ("settled",): float(worker.settled)},
        ttl=0.0,
    )
    metrics.sampled(
        "sealrun_queue_depth",
        "Items waiting in a queue (settlement: results waiting for their transaction).",
        ["queue"],
        lambda: {("settlement",): float(worker.settlements.pending())},
        ttl=0.0,
    )
    return metrics


def create_app(worker: Worker, *, tee: str, checks: Mapping[str, Check] | None = None) -> FastAPI:
    """Serve ``worker``'s status and run its loop for the application's lifetime.

    ``checks`` are the ``/readyz`` checks (:func:`readiness_checks`; none: always ready).
    """
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(worker.start)
        loop = threading.Thread(target=worker.run, args=(stop,), name="worker", daemon=True)
        loop.start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(loop.join, 120)

    app = FastAPI(title="sealrun worker", version="1", lifespan=lifespan)
    app.state.worker = worker
    app.state.tee = tee
    install_problem_handlers(app)
    app.include_router(router)
    install_observability(app, _metrics(worker), checks or {})
    return app
