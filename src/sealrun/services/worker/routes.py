"""HTTP routes of the worker (``/v1``): its status, for operators and health checks."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sealrun.services.worker.schemas import StatusOut
from sealrun.services.worker.usecases import Worker

__all__ = ["router"]

router = APIRouter(prefix="/v1")


@router.get("/status", response_model=StatusOut)
async def status(request: Request) -> StatusOut:
    """The worker's address, TEE backend, slots and how busy it is."""
    worker: Worker = request.app.state.worker
    return StatusOut(
        status="ok", worker=worker.address, tee=request.app.state.tee, slots=worker.slots,
        busy=worker.busy(), settled=worker.settled,
    )  # fmt: skip
