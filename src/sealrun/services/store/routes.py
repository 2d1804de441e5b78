"""HTTP routes of the store: ``PUT``/``GET``/``HEAD /v1/blobs/{sha256}`` and ``GET /v1/status``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from sealrun.services.store.schemas import BlobOut, StatusOut
from sealrun.services.store.usecases import StoreService

__all__ = ["router"]

router = APIRouter(prefix="/v1")


def _service(request: Request) -> StoreService:
    service: StoreService = request.app.state.service
    return service


@router.put("/blobs/{checksum}", response_model=BlobOut, status_code=200)
async def put_blob(checksum: str, request: Request) -> BlobOut:
    """Upload a blob under the sha256 of its bytes (needs a token or a signed request)."""
    service = _service(request)
    uploader = service.authorize_upload("PUT", request.url.path, request.headers)
    length = request.headers.get("content-length")
    declared = int(length) if length is not None and length.isdigit() else None
    blob = await service.upload(checksum, request.stream(), declared_size=declared, uploader=uploader)
    base = request.app.state.base_url
    return BlobOut(
        checksum="0x" + blob.checksum,
        size=blob.size,
        url=f"{base}/v1/blobs/{blob.checksum}",
        created=blob.created,
    )


@router.api_route("/blobs/{checksum}", methods=["GET", "HEAD"], response_class=FileResponse)
async def get_blob(checksum: str, request: Request) -> FileResponse:
    """Download a blob (ranges supported). The name is always its hash, never an upload name."""
    blob = _service(request).locate(checksum)
    return FileResponse(
        blob.path,
        media_type="application/octet-stream",
        headers={
            "etag": f'"{blob.checksum}"',
            "cache-control": "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
            "content-disposition": f'attachment; filename="{blob.checksum}"',
        },
    )


@router.get("/status", response_model=StatusOut)
async def status(request: Request) -> StatusOut:
    """Liveness and capacity of the store."""
    repository = _service(request).repository
    return StatusOut(
        status="ok",
        used_bytes=repository.used_bytes,
        quota_bytes=repository.quota_bytes,
        max_blob_bytes=repository.max_blob_bytes,
    )
