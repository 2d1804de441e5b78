"""Errors as ``application/problem+json`` (RFC 9457) with the stable sealrun code.

A body looks like ``{"type": "urn:sealrun:problem:SECRET_EXISTS", "title": "...", "status":
409, "detail": "...", "code": "SECRET_EXISTS"}``. Request-shape errors answer 422 with code
``VALIDATION_FAILED``; unknown routes 404 ``NOT_FOUND``; a database that cannot be reached
(SQLAlchemy's ``OperationalError`` from any query a route makes: PostgreSQL restarting) 503
``DB_UNAVAILABLE``, a failure of the infrastructure that a client retries, not of its request;
anything unexpected 500 ``INTERNAL`` with no detail (the traceback stays in the server log).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from sealrun.adapters.web.guards import (
    MAX_JSON_DEPTH,
    JsonDepthLimit,
    restore_recursion_limit,
)
from sealrun.errors import ChainError, RequestError, SealrunError, StorageError

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("sealrun.web")


class Problem(BaseModel):
    """The problem document every error response carries."""

    type: str
    title: str
    status: int
    detail: str
    code: str


def problem_response(status: int, code: str, detail: str) -> JSONResponse:
    """A problem document response with this status, code and detail."""
    return _response(status, code, detail)


def _response(status: int, code: str, detail: str) -> JSONResponse:
    title = code.replace("_", " ").capitalize()
    body = Problem(type=f"urn:sealrun:problem:{code}", title=title, status=status, detail=detail, code=code)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON)


def _default_status(error: SealrunError) -> int:
    if isinstance(error, RequestError):
        return 401
    if isinstance(error, ChainError):
        return 502
    if isinstance(error, StorageError):
        return 503
    return 400


def install_problem_handlers(
    app: FastAPI,
    statuses: Mapping[str, int] | None = None,
    *,
    max_json_depth: int = MAX_JSON_DEPTH,
    raw_body_paths: Sequence[str] = (),
) -> None:
    """Translate every error raised in ``app`` into a problem response, and guard its bodies.

    Every service calls this once its app is built, so each one also gets the guards of
    :mod:`.guards`: request bodies nested deeper than ``max_json_depth`` are refused (400
    ``REQUEST_TOO_DEEP``) before any parser sees them, and the interpreter's recursion limit
    is put back to a safe value now, at startup and before each request.

    Args:
        app: the FastAPI application.
        statuses: HTTP status per error code (e.g. ``{"SECRET_NOT_FOUND": 404}``); codes not
            listed get 401 for request authentication, 502 for the chain, 503 for storage,
            400 otherwise.
        max_json_depth: the deepest nesting a request body may have.
        raw_body_paths: path prefixes whose bodies are raw bytes, not JSON (not scanned).
    """
    table = dict(statuses or {})
    restore_recursion_limit()
    _guard_lifespan(app)
    app.add_middleware(JsonDepthLimit, max_depth=max_json_depth, raw_paths=tuple(raw_body_paths))

    async def sealrun_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, SealrunError)
        status = table.get(error.code) or _default_status(error)
        return _response(status, error.code, error.message)

    async def validation_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        parts = []
        for item in error.errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return _response(422, "VALIDATION_FAILED", "; ".join(parts) or "the request is invalid")

    async def http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}
        return _response(error.status_code, codes.get(error.status_code, "HTTP_ERROR"), str(error.detail))

    async def database_down(_request: Request, error: Exception) -> JSONResponse:
        # Only the class in the log: the driver's message can quote the database URL.
        _log.warning("database unavailable: %s", type(getattr(error, "orig", None) or error).__name__)
        return _response(503, "DB_UNAVAILABLE", "the service's database is unavailable; try again")

    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=error)
        return _response(500, "INTERNAL", "the service failed unexpectedly")

    handlers: dict[type[Exception], Callable[[Request, Exception], Any]] = {
        SealrunError: sealrun_error,
        RequestValidationError: validation_error,
        HTTPException: http_error,
        OperationalError: database_down,
        Exception: unexpected,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


def _guard_lifespan(app: FastAPI) -> None:
    """Restore the recursion limit when the app starts (after every import of its parts)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
        restore_recursion_limit()
        async with inner(scope_app) as state:
            restore_recursion_limit()
            yield state

    app.router.lifespan_context = lifespan


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` entries documenting problem bodies for these statuses."""
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "a problem document"}
        for status in (*statuses, 422)
    }
