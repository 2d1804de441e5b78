"""The store's wire contract: its routes, headers and JSON bodies.

Blobs are named by the sha256 of their bytes (64 lowercase hex digits in the path, ``0x`` +
hex in bodies). Writes carry a credential: a per-task upload token
(``Authorization: Bearer <token>`` with :data:`KIND_HEADER`) or a signed request naming the
registered dataset in :data:`ASSET_HEADER` (see :mod:`sealrun.api.signing`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sealrun.api.blobs import BLOBS_PATH

__all__ = ["ASSET_HEADER", "KIND_HEADER", "BlobOut", "Routes", "StatusOut", "TaskBlobOut", "TaskBlobsOut"]

#: The header of a signed upload naming the registered dataset whose checksum is the blob.
ASSET_HEADER = "X-Sealrun-Asset"
#: The header of a token upload saying what the task's blob is: ``result`` or ``logs``.
KIND_HEADER = "X-Sealrun-Blob-Kind"


class Routes:
    """The store's paths (``str.format`` templates; the service declares exactly these)."""

    BLOB = BLOBS_PATH + "/{checksum}"
    TASK_BLOBS = "/v1/tasks/{task_id}/blobs"
    TASK_RECEIPTS = "/v1/tasks/{task_id}/receipts"
    STATUS = "/v1/status"


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
