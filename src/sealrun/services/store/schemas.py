"""The store's JSON bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BlobOut", "StatusOut", "TaskBlobOut", "TaskBlobsOut"]


class BlobOut(BaseModel):
    """A stored blob: ``checksum`` is ``0x`` + sha256 hex, ``url`` its public address."""

    model_config = ConfigDict(frozen=True)

    checksum: str
    size: int
    url: str
    created: bool


class TaskBlobOut(BaseModel):
    """One blob of a task: ``kind`` is ``result`` or ``logs``; ``recorded_at`` a unix time."""

    model_config = ConfigDict(frozen=True)

    checksum: str
    kind: str
    size: int
    url: str
    recorded_at: int


class TaskBlobsOut(BaseModel):
    """The blobs the store holds for one task, oldest first."""

    task: str
    blobs: list[TaskBlobOut]


class StatusOut(BaseModel):
    """Health and capacity."""

    status: str
    used_bytes: int
    quota_bytes: int
    max_blob_bytes: int
