"""Settings of the blob store, read once at startup from ``SEALRUN_STORE_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealrun.adapters.tls import TlsSettings

__all__ = ["StoreSettings"]


class StoreSettings(BaseSettings, TlsSettings):
    """Everything the store needs; secrets are masked in ``repr``.

    Attributes:
        root: the folder that holds the blobs (``SEALRUN_STORE_ROOT``).
        host, port: where the HTTP server listens.
        public_url: the base URL written into blob URLs (defaults to ``http://host:port``,
            ``https://`` with TLS).
        max_blob_bytes: the largest accepted blob.
        quota_bytes: the most bytes all blobs together may take on disk.
        upload_token_key: the secret shared with the SMS that authenticates per-task result
            upload tokens; without it result uploads are refused.
        chain_id, hub: the EIP-712 domain of signed upload requests (dataset uploads).
        rpc_url: the chain's JSON-RPC endpoint, read to check that a signed upload's signer
            owns the registered dataset whose checksum is the blob; without it signed uploads
            are refused (``STORAGE_UNAUTHORIZED``).
        allowed_uploaders: if set, a further restriction: only these accounts may upload by
            signed request (and only blobs of datasets they own).
        request_max_age: seconds a signed request stays valid.
        upload_idle_timeout: seconds an upload may send nothing before it is abandoned (its
            partial file deleted, its quota given back).
        max_uploads_per_client: uploads in progress at once from one client address.
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_STORE_", extra="forbid")

    root: Path
    host: str = "127.0.0.1"
    port: int = Field(default=8701, ge=0, le=65535)
    public_url: str | None = None
    max_blob_bytes: int = Field(default=4 << 30, gt=0)
    quota_bytes: int = Field(default=64 << 30, gt=0)
    upload_token_key: SecretStr | None = None
    chain_id: int | None = None
    hub: str | None = None
    allowed_uploaders: list[str] = Field(default_factory=list)
    rpc_url: str | None = None
    request_max_age: int = Field(default=300, gt=0)
    upload_idle_timeout: float = Field(default=30.0, gt=0)
    max_uploads_per_client: int = Field(default=8, gt=0)

    def base_url(self) -> str:
        """The public base URL of the store (no trailing slash)."""
        return (self.public_url or f"{self.scheme}://{self.host}:{self.port}").rstrip("/")
