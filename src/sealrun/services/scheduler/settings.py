"""Settings of a workerpool's scheduler, read once at startup from ``SEALRUN_SCHEDULER_*``.

The pool is closed: ``allowed_workers`` must name every worker address (a JSON list in the
environment, ``SEALRUN_SCHEDULER_ALLOWED_WORKERS='["0xAbc…", "0xDef…"]'``, or the same
addresses separated by commas). Without it the
scheduler refuses to start (``CONFIG_WORKERS_MISSING``, a :class:`~sealrun.errors.ConfigError`);
an entry that is not an address is ``CONFIG_WORKERS_INVALID``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sealrun.adapters.http.base import ServiceUrls, normalize_service_urls
from sealrun.core.tasks import RetryPolicy
from sealrun.errors import ConfigError

__all__ = ["SchedulerSettings", "check_allowed_workers"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def check_allowed_workers(workers: list[str]) -> None:
    """Refuse an empty or malformed worker allow-list.

    Raises:
        ConfigError: ``CONFIG_WORKERS_MISSING`` (empty), ``CONFIG_WORKERS_INVALID`` (not addresses).
    """
    if not workers:
        raise ConfigError(
            "the scheduler needs an explicit list of its workers (allowed_workers): "
            "an empty list would let any key join the pool",
            code="CONFIG_WORKERS_MISSING",
        )
    bad = [worker for worker in workers if not isinstance(worker, str) or not _ADDRESS.match(worker)]
    if bad:
        raise ConfigError(f"allowed_workers holds non-addresses: {bad[:3]!r}", code="CONFIG_WORKERS_INVALID")


class SchedulerSettings(BaseSettings):
    """Everything one scheduler needs; the pool owner's key is masked in ``repr``.

    Attributes:
        workerpool: the workerpool this scheduler serves.
        owner_key: the workerpool owner's private key (``0x`` + 64 hex): it signs the
            authorizations, the SMS challenge requests and the pool's orders.
        database_url, database_schema: the scheduler's SQL state.
        rpc_url, hub, start_block: the chain and where a fresh database starts reading.
        sms_url: the SMS that creates each task's enclave challenge (or its replicas' URLs,
            comma-separated: the client fails over between them).
        market_url: the market where the pool's orders are published (empty: do not publish;
            several comma-separated URLs for replicas).
        order_price, order_volume, order_category, order_tag, order_trust: the pool's offer.
        worker_timeout: seconds without a heartbeat after which a worker is lost.
        long_poll_max: the longest a worker's ``next`` request is held open.
        poll_interval: seconds between chain polls; sweep_interval: between lost-worker sweeps.
        allowed_workers: the worker addresses of this pool (required, non-empty): any other
            signer is refused ``WORKER_NOT_ALLOWED`` on every worker call.
        max_claims_per_task: how many times a task may be handed out; a task past it is
            ``expired`` (refunded after the deadline). Keep it above the SMS's
            ``max_releases_per_task`` so the attempt that gets ``ATTEMPTS_EXHAUSTED`` happens.
        max_hold_time: seconds a worker may hold an assignment, heartbeats or not; ``None``
            means ``2 × the category's time + 60``.
        request_window: seconds a signed request's timestamp may be off.
        retry_base_delay, retry_max_delay: the backoff of an infrastructure failure's retry
            (full jitter in ``[0, min(max, base · 2^(n-1))]`` after the ``n``-th failure).
        retry_deadline_margin: seconds kept before the deal's deadline: a retry is made only
            if it can run the category's whole time and still end this long before it;
            past that the attempt's failure receipt is settled. ``CONFIG_RETRY_INVALID`` for
            ``max < base`` (the bounds themselves are checked by their fields).
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_SCHEDULER_", extra="forbid")

    workerpool: str
    owner_key: SecretStr
    database_url: str = "sqlite:///scheduler.db"
    database_schema: str | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    hub: str
    start_block: int = Field(default=0, ge=0)
    sms_url: ServiceUrls = "http://127.0.0.1:8702"
    market_url: str = ""
    order_price: int = Field(default=0, ge=0)
    order_volume: int = Field(default=1000, gt=0)
    order_category: int = Field(default=0, ge=0)
    order_tag: str = "0x" + "00" * 31 + "01"
    order_trust: int = Field(default=1, ge=0)
    worker_timeout: float = Field(default=30.0, gt=0)
    long_poll_max: float = Field(default=20.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    sweep_interval: float = Field(default=2.0, gt=0)
    #: Webhook receivers: the hosts allowed (empty: any public host) and whether loopback is.
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    webhook_allow_loopback: bool = False
    allowed_workers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_claims_per_task: int = Field(default=10, ge=1, le=1000)
    max_hold_time: float | None = Field(default=None, gt=0)
    request_window: int = Field(default=300, gt=0)
    retry_base_delay: float = Field(default=2.0, gt=0, le=3600, allow_inf_nan=False)
    retry_max_delay: float = Field(default=120.0, gt=0, le=86400, allow_inf_nan=False)
    retry_deadline_margin: float = Field(default=120.0, ge=0, le=86400 * 30, allow_inf_nan=False)
    host: str = "127.0.0.1"
    port: int = Field(default=8703, ge=0, le=65535)

    @field_validator("allowed_workers", mode="before")
    @classmethod
    def _read_workers(cls, value: Any) -> Any:
        """Read the environment's text: a JSON list, or addresses separated by commas."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError as error:
                raise ConfigError(
                    "allowed_workers is not a JSON list", code="CONFIG_WORKERS_INVALID"
                ) from error
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("market_url")
    @classmethod
    def _market_urls(cls, value: str) -> str:
        """Empty (do not publish) or the market's URLs (``SERVICE_URL_INVALID``)."""
        return normalize_service_urls(value) if value.strip() else ""

    @model_validator(mode="after")
    def _closed_pool(self) -> SchedulerSettings:
        # A ConfigError (not a ValueError) passes through pydantic, so the CLI prints its code.
        check_allowed_workers(self.allowed_workers)
        self.retry_policy()
        return self

    def retry_policy(self) -> RetryPolicy:
        """The pool's :class:`~sealrun.core.tasks.RetryPolicy` (``CONFIG_RETRY_INVALID``)."""
        return RetryPolicy(
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
            deadline_margin=self.retry_deadline_margin,
        )
