"""The SMS's runtime knobs, read once from the settings and passed to the use cases."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SmsOptions"]


@dataclass(frozen=True)
class SmsOptions:
    """Runtime knobs from the settings (see :class:`~sealrun.services.sms.settings.SmsSettings`).

    Attributes:
        nonce_ttl: seconds an attestation nonce stays valid.
        result_upload_url: where the enclave uploads its sealed result.
        upload_token_key: the key shared with the store (``None``: no upload token).
        upload_token_ttl: seconds an upload token stays valid after release.
        max_releases: how many times one task's secrets may be released.
        session_ttl: seconds an attested session (isolation mode ``session``) lives.
    """

    nonce_ttl: int = 120
    result_upload_url: str = "http://127.0.0.1:8701/v1/blobs"
    upload_token_key: bytes | None = None
    upload_token_ttl: int = 86400
    max_releases: int = 6
    session_ttl: int = 900
