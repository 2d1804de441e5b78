"""Settings of the market, read once at startup from ``SEALRUN_MARKET_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealrun.adapters.tls import TlsSettings

__all__ = ["MarketSettings"]


class MarketSettings(BaseSettings, TlsSettings):
    """Everything the market needs.

    Attributes:
        database_url: SQLAlchemy URL (``sqlite:///market.db`` or ``postgresql+psycopg://...``).
        database_schema: PostgreSQL only: the schema holding the market's tables.
        rpc_url: the chain's JSON-RPC endpoint.
        hub: the hub contract address (the EIP-712 verifying contract).
        chain_id: the chain id orders must be signed for (read from the node when unset).
        start_block: the first block to follow on a fresh database (the hub's deployment).
        poll_interval: seconds between chain polls for ``OrdersMatched``/``OrderClosed``.
        request_window: seconds a signed request's timestamp may be off.
        host, port: where the HTTP server listens.
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_MARKET_", extra="forbid")

    database_url: str = "sqlite:///market.db"
    database_schema: str | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    hub: str
    chain_id: int | None = None
    start_block: int = Field(default=0, ge=0)
    poll_interval: float = Field(default=1.0, gt=0)
    request_window: int = Field(default=300, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8704, ge=0, le=65535)
