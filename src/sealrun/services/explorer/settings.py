"""The explorer's settings, from ``SEALRUN_EXPLORER_*`` variables (it has no secret: no key at all)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealrun.adapters.http.base import parse_service_urls
from sealrun.errors import ConfigError

__all__ = ["ExplorerSettings"]


class ExplorerSettings(BaseSettings):
    """Where the public data is.

    ``rpc_url`` and ``hub`` name the chain; ``scheduler_url`` a pool's scheduler (tasks, their
    timelines and live updates) and ``market_url`` the market (the order book): each optional.
    ``store_url`` (with ``sms_url``) shows each task's receipt and ``sealrun verify``'s verdict;
    ``simulator_key_file`` is a simulated deployment's public key, and ``allow_simulated`` lets
    a simulated TEE's receipt count as verified (its check still reads ``simulated``).
    Each service URL is one URL: the explorer relays streams and builds links from it, so it
    does not fail over between replicas (``SERVICE_URL_INVALID`` for a list or a bad URL).
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_EXPLORER_", extra="ignore")

    rpc_url: str
    hub: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    start_block: int = Field(default=0, ge=0)
    scheduler_url: str | None = None
    market_url: str | None = None
    store_url: str | None = None
    sms_url: str | None = None
    simulator_key_file: Path | None = None
    allow_simulated: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8710, ge=1, le=65535)

    @field_validator("scheduler_url", "market_url", "store_url", "sms_url")
    @classmethod
    def _one_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        urls = parse_service_urls(value)
        if len(urls) != 1:
            raise ConfigError(
                "the explorer takes one URL per service (a replica's, or a load balancer's)",
                code="SERVICE_URL_INVALID",
            )
        return urls[0]
