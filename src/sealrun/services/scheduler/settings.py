"""Settings of a workerpool's scheduler, read once at startup from ``SEALRUN_SCHEDULER_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SchedulerSettings"]


class SchedulerSettings(BaseSettings):
    """Everything one scheduler needs; the pool owner's key is masked in ``repr``.

    Attributes:
        workerpool: the workerpool this scheduler serves.
        owner_key: the workerpool owner's private key (``0x`` + 64 hex): it signs the
            authorizations, the SMS challenge requests and the pool's orders.
        database_url, database_schema: the scheduler's SQL state.
        rpc_url, hub, start_block: the chain and where a fresh database starts reading.
        sms_url: the SMS that creates each task's enclave challenge.
        market_url: the market where the pool's orders are published (empty: do not publish).
        order_price, order_volume, order_category, order_tag, order_trust: the pool's offer.
        worker_timeout: seconds without a heartbeat after which a worker is lost.
        long_poll_max: the longest a worker's ``next`` request is held open.
        poll_interval: seconds between chain polls; sweep_interval: between lost-worker sweeps.
        allowed_workers: worker addresses allowed to register (empty: any signer).
        request_window: seconds a signed request's timestamp may be off.
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_SCHEDULER_", extra="forbid")

    workerpool: str
    owner_key: SecretStr
    database_url: str = "sqlite:///scheduler.db"
    database_schema: str | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    hub: str
    start_block: int = Field(default=0, ge=0)
    sms_url: str = "http://127.0.0.1:8702"
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
    allowed_workers: list[str] = Field(default_factory=list)
    request_window: int = Field(default=300, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8703, ge=0, le=65535)
