"""The store's JSON bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BlobOut", "StatusOut"]


class BlobOut(BaseModel):
    """A stored blob: ``checksum`` is ``0x`` + sha256 hex, ``url`` its public address."""

    model_config = ConfigDict(frozen=True)

    checksum: str
    size: int
    url: str
    created: bool


class StatusOut(BaseModel):
    """Health and capacity."""

    status: str
    used_bytes: int
    quota_bytes: int
    max_blob_bytes: int
