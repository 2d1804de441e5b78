"""HTTP routes of the store: ``PUT``/``GET``/``HEAD /v1/blobs/{sha256}``,
``GET /v1/tasks/{task id}/blobs`` and ``GET /v1/status``."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from sealrun.adapters.web import problem_response
from sealrun.api.blobs import blob_url
from sealrun.api.ids import parse_task_id, task_id_hex
from sealrun.api.store import BlobOut, Routes, StatusOut, TaskBlobOut, TaskBlobsOut
from sealrun.errors import StorageError
from sealrun.services.store.usecases import StoreService

__all__ = ["parse_range", "router"]

router = APIRouter()

#: ``bytes=<start>-<end>``, ``bytes=<start>-`` or ``bytes=-<suffix>``: ASCII digits, at most
#: 19 of them (a file offset fits an int64); one range per request.
_RANGE = re.compile(r"^bytes=(?:([0-9]{1,19})-([0-9]{0,19})|-([0-9]{1,19}))$")
_LENGTH = re.compile(r"^[0-9]{1,19}$")
_TASK_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")


def _service(request: Request) -> StoreService:
    service: StoreService = request.app.state.service
    return service


def parse_range(header: str, size: int) -> tuple[int, int]:
    """Return the ``[start, end)`` a ``Range`` header asks of a blob of ``size`` bytes.

    Raises:
        StorageError: ``STORAGE_RANGE_INVALID`` (not one ``bytes=`` range of ASCII digits, or
            ``start > end``), ``STORAGE_RANGE_NOT_SATISFIABLE`` (starts past the end).
    """
    match = _RANGE.match(header.strip())
    if match is None:
        raise StorageError(
            f"Range {header[:80]!r} is not one bytes=<start>-<end> range of decimal digits",
            code="STORAGE_RANGE_INVALID",
        )
    first, last, suffix = match.groups()
    if suffix is not None:
        start, end = max(0, size - int(suffix)), size
    else:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
        if last and int(last) < start:
            raise StorageError("Range: the start is after the end", code="STORAGE_RANGE_INVALID")
    if start >= size:
        raise StorageError(
            f"Range starts at {start}, past the blob's {size} bytes", code="STORAGE_RANGE_NOT_SATISFIABLE"
        )
    return start, end


@router.put(Routes.BLOB, response_model=BlobOut, status_code=200)
async def put_blob(checksum: str, request: Request) -> BlobOut:
    """Upload a blob under the sha256 of its bytes (needs a token or a signed request for an owned asset)."""
    service = _service(request)
    uploader = await run_in_threadpool(
        service.authorize_upload, "PUT", request.url.path, request.headers, checksum=checksum
    )
    length = request.headers.get("content-length")
    declared = int(length) if length is not None and _LENGTH.match(length) else None
    client = request.client.host if request.client is not None else "unknown"
    with service.upload_slot(client):
        blob = await service.upload(checksum, request.stream(), declared_size=declared, uploader=uploader)
    base = request.app.state.base_url
    return BlobOut(
        checksum="0x" + blob.checksum,
        size=blob.size,
        url=blob_url(base, blob.checksum),
        created=blob.created,
    )


@router.api_route(Routes.BLOB, methods=["GET", "HEAD"], response_class=FileResponse, response_model=None)
async def get_blob(checksum: str, request: Request) -> FileResponse | JSONResponse:
    """Download a blob (one byte range supported). The name is always its hash, never an upload name.

    A task's blob needs a request signed by the task's beneficiary; a dataset's is public.
    """
    service = _service(request)
    blob = service.locate(checksum)  # absent is 404 for anyone: a task blob's name is on chain anyway
    task = await run_in_threadpool(
        service.authorize_download, request.method, request.url.path, request.headers, checksum=checksum
    )
    wanted = request.headers.get("range")
    if wanted is not None:
        try:
            parse_range(wanted, blob.size)
        except StorageError as error:
            if error.code != "STORAGE_RANGE_NOT_SATISFIABLE":
                raise
            response = problem_response(416, error.code, error.message)
            response.headers["content-range"] = f"bytes */{blob.size}"
            return response
    return FileResponse(
        blob.path,
        media_type="application/octet-stream",
        headers={
            "etag": f'"{blob.checksum}"',
            # A task's output is one reader's: no shared cache may keep it.
            "cache-control": "private, no-store" if task else "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
            "content-disposition": f'attachment; filename="{blob.checksum}"',
        },
    )


@router.get(Routes.TASK_RECEIPTS, response_model=TaskBlobsOut)
async def task_receipts(task_id: str, request: Request) -> TaskBlobsOut:
    """A task's receipts (``docs/formats.md``): public, for anyone who wants to verify it."""
    if not _TASK_ID.match(task_id):
        raise StorageError(f"{task_id[:80]!r} is not a task id (0x + 64 hex)", code="STORAGE_BAD_TASK_ID")
    parsed = parse_task_id(task_id)
    found = await run_in_threadpool(_service(request).task_receipts, parsed)
    base = request.app.state.base_url
    return TaskBlobsOut(
        task=task_id_hex(parsed),
        blobs=[
            TaskBlobOut(
                checksum="0x" + blob.checksum, kind=blob.kind, size=size,
                url=blob_url(base, blob.checksum), recorded_at=blob.recorded_at,
            )
            for blob, size in found
        ],
    )  # fmt: skip


@router.get(Routes.TASK_BLOBS, response_model=TaskBlobsOut)
async def task_blobs(task_id: str, request: Request) -> TaskBlobsOut:
    """The sealed result(s) and logs of a task, for the task's beneficiary (signed request)."""
    if not _TASK_ID.match(task_id):
        raise StorageError(f"{task_id[:80]!r} is not a task id (0x + 64 hex)", code="STORAGE_BAD_TASK_ID")
    service = _service(request)
    found = await run_in_threadpool(
        service.task_blobs,
        request.method,
        request.url.path,
        request.headers,
        task_id=parse_task_id(task_id),
    )
    base = request.app.state.base_url
    return TaskBlobsOut(
        task=task_id_hex(parse_task_id(task_id)),
        blobs=[
            TaskBlobOut(
                checksum="0x" + blob.checksum,
                kind=blob.kind,
                size=size,
                url=blob_url(base, blob.checksum),
                recorded_at=blob.recorded_at,
            )
            for blob, size in found
        ],
    )


@router.get(Routes.STATUS, response_model=StatusOut)
async def status(request: Request) -> StatusOut:
    """Liveness and capacity of the store."""
    repository = _service(request).repository
    return StatusOut(
        status="ok",
        used_bytes=repository.used_bytes,
        quota_bytes=repository.quota_bytes,
        max_blob_bytes=repository.max_blob_bytes,
    )
