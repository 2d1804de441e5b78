"""The worker's JSON bodies."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["StatusOut"]


class StatusOut(BaseModel):
    """What the worker is doing."""

    status: str
    worker: str
    tee: str
    slots: int
    busy: int
    settled: int
