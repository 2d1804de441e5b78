"""Settings of a worker, read once at startup from ``SEALRUN_WORKER_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealrun.adapters.http.base import ServiceUrls
from sealrun.adapters.tls import TlsSettings

__all__ = ["WorkerSettings"]


class WorkerSettings(BaseSettings, TlsSettings):
    """Everything one worker needs; its key is masked in ``repr``.

    Attributes:
        key: the worker's private key (``0x`` + 64 hex): signs its requests to the scheduler
            and its transactions (it pays its own gas). Give it as the file
            ``SEALRUN_WORKER_KEY`` of the 0700 folder ``SEALRUN_WORKER_SECRETS_DIR``
            (:mod:`sealrun.adapters.secretfiles`), not as a variable.
        work_dir: where the journal lives (local disk, the worker's own).
        task_root: where the tasks' work folders live. When the worker runs as root each task
            runs as its own uid, which must reach its folder: the default is then a folder of
            ours under the system's temporary folder (mode 0711, named after ``work_dir`` so a
            restarted worker finds its tasks again); otherwise ``work_dir/tasks``.
        rpc_url, hub: the chain.
        scheduler_url: the pool's scheduler; sms_url: the SMS the enclave attests to (each
            one URL or several comma-separated replicas' URLs the clients fail over between).
        tee: the TEE backend: ``simulated`` (the default: protects nothing, for development),
            ``tdx`` or ``sev-snp`` (the worker runs inside that confidential VM; quotes through
            configfs-tsm or the guest device) or ``gramine-sgx`` (enclaves under Gramine);
            checked at startup against the host (``sealrun tee doctor`` shows the same).
        simulator_key_file: the simulated TEE's key (simulated only).
        isolation: ``strict`` (the default: one enclave launched and attested per task) or
            ``session`` (one enclave per slot, attested once, each task in a fresh sandbox;
            simulated TEE only for now; decision 0080).
        gramine_manifest: the operator's signed ``<name>.manifest.sgx`` (gramine-sgx only).
        tee_root: the folder that stands for ``/`` when looking for TEE interfaces (tests).
        input_http_origins: origins (``http://host:port``) whose plain-http inputs tasks may
            fetch, such as the pool's own store on a private network; everything else must be
            https on the public internet (``docs/enclave.md``, Inputs).
        max_input_bytes: the most input bytes one task may fetch (default: the enclave's, 1 GiB).
        slots: how many tasks run at once.
        poll_wait: seconds of each long poll for an assignment.
        settle_batch_size: the most results settled in one ``finalizeMany`` (default 50; 1
            sends one ``finalize`` per task as soon as it reports).
        settle_batch_delay: the longest a result waits for its batch, in seconds (default 2).
        settle_when_idle: an idle worker (no running task could join the batch) settles a
            partial batch at once instead of waiting out the delay (default true).
        host, port: where the status API listens (no HTTP server when ``port`` is unset).
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_WORKER_", extra="forbid")

    key: SecretStr
    work_dir: Path
    task_root: Path | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    hub: str
    scheduler_url: ServiceUrls = "http://127.0.0.1:8703"
    sms_url: ServiceUrls = "http://127.0.0.1:8702"
    tee: str = "simulated"
    simulator_key_file: Path | None = None
    isolation: Literal["strict", "session"] = "strict"
    gramine_manifest: Path | None = None
    tee_root: Path = Path("/")
    input_http_origins: list[str] = Field(default_factory=list)
    max_input_bytes: int | None = Field(default=None, ge=1, le=1 << 42)
    slots: int = Field(default=1, ge=1, le=64)
    poll_wait: float = Field(default=10.0, gt=0, le=60)
    settle_batch_size: int = Field(default=50, ge=1, le=128)  # the hub's MAX_BATCH
    settle_batch_delay: float = Field(default=2.0, ge=0, le=60)
    settle_when_idle: bool = True
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)
