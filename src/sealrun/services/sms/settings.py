"""Settings of the SMS, read once at startup from ``SEALRUN_SMS_*`` variables.

:meth:`SmsSettings.check` enforces the deployment rules before anything starts:

- ``production`` needs a master key (``master_key`` or ``master_key_file``), a chain RPC
  URL, a hub and a chain id, and refuses simulated evidence (``SMS_SIMULATED_IN_PRODUCTION``);
- ``embedded-devnet`` may run without a master key: one is generated into
  ``<data_dir>/master.key`` (mode 0600) on first start and reused afterwards.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealrun.adapters.tls import TlsSettings
from sealrun.errors import ConfigError

__all__ = ["SmsSettings", "decode_key_material"]


def decode_key_material(text: str, what: str) -> bytes:
    """Decode a 32-byte key given as ``0x``-hex or base64.

    Raises:
        ConfigError: ``SMS_MASTER_KEY_INVALID`` if it is not 32 bytes in either encoding.
    """
    value = text.strip()
    try:
        raw = bytes.fromhex(value[2:]) if value.startswith("0x") else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as error:
        raise ConfigError(f"{what} is neither 0x-hex nor base64", code="SMS_MASTER_KEY_INVALID") from error
    if len(raw) != 32:
        raise ConfigError(f"{what} must be 32 bytes", code="SMS_MASTER_KEY_INVALID")
    return raw


class SmsSettings(BaseSettings, TlsSettings):
    """Everything the SMS needs; secrets are ``SecretStr`` and never logged.

    Attributes:
        mode: ``embedded-devnet`` (one machine, generated master key allowed) or ``production``.
        data_dir: where the devnet keeps its SQLite file and generated master key.
        database_url: SQLAlchemy URL; default ``sqlite:///<data_dir>/sms.db``.
        database_schema: PostgreSQL schema to use (created if missing).
        master_key / master_key_file: the 32-byte AES-256-GCM master key (0x-hex or base64).
        master_key_id: the id written into every envelope sealed under the master key.
        previous_master_keys: retired keys still able to open rows, ``{"id": "key"}``, for rotation.
        chain_rpc_url, chain_id, hub: the chain the SMS reads and the EIP-712 domain.
        chain_start_block: the hub's deployment block (where the deal index starts reading).
        allow_simulated_evidence: accept ``simulated`` evidence (devnet only).
        simulator_public_key_file: the deployment's simulator public key (PEM).
        trusted_images_file: confidential-VM mode: the trusted base images (TOML or JSON,
            ``docs/attestation.md``); ``tdx-dcap`` / ``sev-snp`` evidence then attests the app
            by its RTMR3 event log / HOST_DATA on one of these images.
        allowed_tee_types: hardware evidence types accepted (``simulated`` is added only by
            ``allow_simulated_evidence``).
        accepted_tcb_statuses: TCB statuses the attestation policy accepts.
        rejected_advisories: advisory ids that refuse evidence.
        nonce_ttl: seconds an attestation nonce stays valid.
        request_window: seconds a signed request's timestamp may differ from now.
        result_upload_url: the store's blob URL the enclave uploads results to.
        upload_token_key: the key shared with the store for result upload tokens.
        upload_token_ttl: seconds an upload token stays valid after release.
        max_releases_per_task: how many times a task's secrets may be released (one per
            attempt); past it the enclave receives a failure bundle ``ATTEMPTS_EXHAUSTED``.
        session_ttl: seconds an attested session lives (isolation mode ``session``, decision
            0080): past it the enclave is refused ``RELEASE_SESSION_EXPIRED`` and attests again.
    """

    model_config = SettingsConfigDict(env_prefix="SEALRUN_SMS_", extra="forbid")

    mode: Literal["embedded-devnet", "production"] = "embedded-devnet"
    data_dir: Path = Path(".sealrun/sms")
    database_url: str | None = None
    database_schema: str | None = None
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    master_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    previous_master_keys: dict[str, SecretStr] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(default=8702, ge=0, le=65535)
    chain_rpc_url: str | None = None
    chain_id: int | None = Field(default=None, gt=0)
    hub: str | None = None
    chain_start_block: int = Field(default=0, ge=0)
    allow_simulated_evidence: bool = False
    simulator_public_key_file: Path | None = None
    trusted_images_file: Path | None = None
    allowed_tee_types: list[str] = Field(default_factory=lambda: ["sgx-dcap", "tdx-dcap", "sev-snp", "nitro"])
    accepted_tcb_statuses: list[str] = Field(default_factory=lambda: ["UpToDate"])
    rejected_advisories: list[str] = Field(default_factory=list)
    nonce_ttl: int = Field(default=120, gt=0, le=3600)
    request_window: int = Field(default=300, gt=0, le=3600)
    result_upload_url: str = "http://127.0.0.1:8701/v1/blobs"
    upload_token_key: SecretStr | None = None
    upload_token_ttl: int = Field(default=86400, gt=0)
    max_releases_per_task: int = Field(default=6, ge=1, le=1000)
    session_ttl: int = Field(default=900, gt=0, le=86400)

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'sms.db'}"

    def check(self) -> None:
        """Refuse configurations that must never start.

        Raises:
            ConfigError: ``SMS_SIMULATED_IN_PRODUCTION``, ``SMS_MASTER_KEY_MISSING``,
                ``SMS_CHAIN_MISSING``.
        """
        if self.mode != "production":
            return
        if self.allow_simulated_evidence:
            raise ConfigError(
                "a production SMS must not accept simulated evidence", code="SMS_SIMULATED_IN_PRODUCTION"
            )
        if self.master_key is None and self.master_key_file is None:
            raise ConfigError("a production SMS needs a master key", code="SMS_MASTER_KEY_MISSING")
        if self.chain_rpc_url is None or self.chain_id is None or self.hub is None:
            raise ConfigError(
                "a production SMS needs chain_rpc_url, chain_id and hub", code="SMS_CHAIN_MISSING"
            )

    def master_keys(self) -> tuple[str, dict[str, bytes]]:
        """Return the current key id and every usable key by id.

        In ``embedded-devnet`` without a configured key, a key is generated into
        ``<data_dir>/master.key`` once (written to a temp file then renamed).

        Raises:
            ConfigError: ``SMS_MASTER_KEY_MISSING`` or ``SMS_MASTER_KEY_INVALID``.
        """
        keys = {
            key_id: decode_key_material(value.get_secret_value(), f"previous master key {key_id!r}")
            for key_id, value in self.previous_master_keys.items()
        }
        if self.master_key is not None:
            current = decode_key_material(self.master_key.get_secret_value(), "the master key")
        elif self.master_key_file is not None:
            current = decode_key_material(_read_key_file(self.master_key_file), "the master key file")
        elif self.mode == "embedded-devnet":
            current = _devnet_key(self.data_dir / "master.key")
        else:
            raise ConfigError("no master key configured", code="SMS_MASTER_KEY_MISSING")
        keys[self.master_key_id] = current
        return self.master_key_id, keys


def _read_key_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read the master key file {path}", code="SMS_MASTER_KEY_MISSING") from error


def _devnet_key(path: Path) -> bytes:
    import os

    if path.exists():
        return decode_key_material(_read_key_file(path), "the devnet master key")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("0x" + key.hex() + "\n")
    temporary.replace(path)
    return key
