"""The per-task result upload token: minted by the SMS, checked by the store.

The SMS mints one token per released task and carries it to the attested enclave inside the
sealed secrets bundle (``result_upload: {url, token}``); the store checks it on
``PUT /v1/blobs/{sha256}`` (``Authorization: Bearer {token}``). The token is
``sru1.<taskid hex>.<expires unix>.<mac>`` where ``mac`` is the URL-safe base64 of
HMAC-SHA256 under a key shared by the SMS and the store over
``b"sealrun-upload-v1\\0" ‖ taskid (32 B) ‖ expires (8 B big-endian)``. It names one task,
expires, and only the SMS and the store can mint it. Pure: the clock is passed in.

Errors (:class:`~sealrun.errors.StorageError`): ``UPLOAD_TOKEN_INVALID`` (malformed or
forged), ``UPLOAD_TOKEN_EXPIRED``, ``UPLOAD_TOKEN_KEY_WEAK``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from sealrun.errors import StorageError

__all__ = ["UploadGrant", "mint_upload_token", "verify_upload_token"]

_TOKEN_PREFIX = "sru1"  # noqa: S105  # a format tag, not a secret
_MAC_CONTEXT = b"sealrun-upload-v1\x00"
_MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class UploadGrant:
    """What a verified upload token allows: uploads for ``task_id`` until ``expires_at``."""

    task_id: bytes
    expires_at: int


def _mac(key: bytes, task_id: bytes, expires_at: int) -> str:
    digest = hmac.new(key, _MAC_CONTEXT + task_id + expires_at.to_bytes(8, "big"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _check_key(key: bytes) -> bytes:
    if len(key) < _MIN_KEY_BYTES:
        raise StorageError("the upload token key must be at least 16 bytes", code="UPLOAD_TOKEN_KEY_WEAK")
    return key


def mint_upload_token(key: bytes, task_id: bytes, *, expires_at: int) -> str:
    """Mint the bearer token that lets the enclave of ``task_id`` upload its result.

    Args:
        key: the secret shared by the SMS and the store (at least 16 bytes).
        task_id: the 32-byte task id.
        expires_at: unix time after which the store refuses the token.

    Returns:
        The token string, safe to place in an HTTP header.

    Raises:
        StorageError: ``UPLOAD_TOKEN_KEY_WEAK`` or ``UPLOAD_TOKEN_INVALID`` on bad arguments.
    """
    if len(task_id) != 32 or not 0 < expires_at < 2**63:
        raise StorageError(
            "an upload token needs a 32-byte task id and a positive expiry", code="UPLOAD_TOKEN_INVALID"
        )
    return f"{_TOKEN_PREFIX}.{task_id.hex()}.{expires_at}.{_mac(_check_key(key), task_id, expires_at)}"


def verify_upload_token(key: bytes, token: str, *, now: int) -> UploadGrant:
    """Check a token's MAC and expiry and return what it grants.

    Raises:
        StorageError: ``UPLOAD_TOKEN_INVALID`` (malformed or wrong MAC), ``UPLOAD_TOKEN_EXPIRED``.
    """
    parts = token.split(".")
    invalid = StorageError(
        "the upload token is malformed or was not minted by the SMS", code="UPLOAD_TOKEN_INVALID"
    )
    if (
        len(parts) != 4
        or parts[0] != _TOKEN_PREFIX
        or len(parts[1]) != 64
        or not (parts[2].isascii() and parts[2].isdigit())
    ):
        raise invalid
    try:
        task_id = bytes.fromhex(parts[1])
    except ValueError:
        raise invalid from None
    expires_at = int(parts[2])
    if expires_at >= 2**63 or not hmac.compare_digest(parts[3], _mac(_check_key(key), task_id, expires_at)):
        raise invalid
    if now >= expires_at:
        raise StorageError("the upload token has expired", code="UPLOAD_TOKEN_EXPIRED")
    return UploadGrant(task_id=task_id, expires_at=expires_at)
