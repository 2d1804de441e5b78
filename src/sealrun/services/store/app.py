"""The store's composition root: ``create_app(settings)`` builds everything; importing does nothing."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sealrun.adapters.web import install_problem_handlers
from sealrun.adapters.web.observability import Check, ServiceMetrics, install_observability, rpc_check
from sealrun.core.chainstate import ChainReader
from sealrun.core.requests import RequestDomain
from sealrun.errors import ConfigError
from sealrun.services.store.blobs import BlobRepository
from sealrun.services.store.routes import router
from sealrun.services.store.settings import StoreSettings
from sealrun.services.store.signedrequests import SignedRequestAuthenticator
from sealrun.services.store.usecases import StoreService

__all__ = ["STATUS_BY_CODE", "create_app"]

STATUS_BY_CODE = {
    "STORAGE_NOT_FOUND": 404,
    "STORAGE_BAD_CHECKSUM": 400,
    "STORAGE_CHECKSUM_MISMATCH": 422,
    "STORAGE_TRUNCATED": 400,
    "STORAGE_TOO_LARGE": 413,
    "STORAGE_QUOTA_EXCEEDED": 507,
    "STORAGE_UNAUTHORIZED": 401,
    "STORAGE_FORBIDDEN": 403,
    "STORAGE_ASSET_INVALID": 400,
    "STORAGE_KIND_INVALID": 400,
    "STORAGE_BAD_TASK_ID": 400,
    "STORAGE_PRIVATE": 401,
    "STORAGE_NOT_BENEFICIARY": 403,
    "STORAGE_BUSY": 429,
    "STORAGE_UPLOAD_IDLE": 408,
    "STORAGE_RANGE_INVALID": 400,
    "STORAGE_RANGE_NOT_SATISFIABLE": 416,
    "UPLOAD_TOKEN_INVALID": 401,
    "UPLOAD_TOKEN_EXPIRED": 401,
}


def create_app(
    settings: StoreSettings, *, clock: Callable[[], float] = time.time, chain: ChainReader | None = None
) -> FastAPI:
    """Build the store's FastAPI application.

    Args:
        settings: the store's settings.
        clock: the unix-time source (tests inject a fixed one).
        chain: the reader that says who owns which dataset and who is a task's beneficiary
            (``__main__`` connects one when ``rpc_url`` is set); without it signed uploads are
            refused and tasks' blobs are served to nobody.

    Raises:
        ConfigError: ``CONFIG_INVALID`` if signed uploads are half configured.
    """
    if (settings.chain_id is None) != (settings.hub is None):
        raise ConfigError("set both chain_id and hub to accept signed uploads", code="CONFIG_INVALID")
    authenticator = None
    if settings.chain_id is not None and settings.hub is not None:
        authenticator = SignedRequestAuthenticator(
            RequestDomain(chain_id=settings.chain_id, hub=settings.hub), window=settings.request_max_age
        )
    repository = BlobRepository(
        settings.root, max_blob_bytes=settings.max_blob_bytes, quota_bytes=settings.quota_bytes
    )
    key = settings.upload_token_key.get_secret_value().encode() if settings.upload_token_key else None
    service = StoreService(
        repository,
        token_key=key,
        authenticator=authenticator,
        allowed_uploaders=frozenset(settings.allowed_uploaders),
        clock=clock,
        chain=chain,
        idle_timeout=settings.upload_idle_timeout,
        max_uploads_per_client=settings.max_uploads_per_client,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        repository.open()
        service.tasks.open()
        yield

    app = FastAPI(title="sealrun store", version="1", lifespan=lifespan)
    app.state.service = service
    app.state.base_url = settings.base_url()
    # Blobs are bytes, not JSON: their size is counted by the repository, not scanned.
    install_problem_handlers(app, STATUS_BY_CODE, raw_body_paths=("/v1/blobs/",))
    app.include_router(router)
    install_observability(app, ServiceMetrics("store"), _checks(settings))
    return app


def _checks(settings: StoreSettings) -> dict[str, Check]:
    """Readiness: the blob folder is there and writable; the chain answers (when one is set)."""

    def storage() -> None:
        if not (settings.root.is_dir() and os.access(settings.root, os.W_OK | os.X_OK)):
            raise OSError("the blob folder is missing or read-only")

    checks: dict[str, Check] = {"storage": storage}
    if settings.rpc_url is not None:
        checks["chain"] = rpc_check(settings.rpc_url)
    return checks
