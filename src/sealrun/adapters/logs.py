"""The services' logs: JSON lines (or readable text), with the task and deal on every task line.

:func:`configure_logging` sets up the root logger of a service process once: one JSON object
per line (``ts``, ``level``, ``service``, ``logger``, ``message``, plus ``task_id`` and
``deal_id`` when known, ``exc`` for a traceback), or the readable form. The format comes from
``SEALRUN_LOG_FORMAT`` (``json``, the services' default, or ``text``); the CLI keeps its own
readable output and never calls this.

:func:`log_context` binds fields (``task_id``, ``deal_id``) to the current context: every
line logged inside it, by any logger, carries them. It is a :mod:`contextvars` variable, so
it follows an asyncio task or a thread's own context; a thread started inside does not
inherit it (bind again in the thread's function, as the worker does per task). Fields given
as ``extra={"task_id": ...}`` to one call win over the context.

Error codes (:class:`~sealrun.errors.ConfigError`): ``CONFIG_INVALID`` (an unknown format).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Literal, TextIO

from sealrun.errors import ConfigError

__all__ = [
    "CONTEXT_FIELDS",
    "FORMAT_ENV",
    "ContextFilter",
    "JsonFormatter",
    "LogFormat",
    "configure_logging",
    "current_context",
    "log_context",
    "log_format",
]

FORMAT_ENV = "SEALRUN_LOG_FORMAT"
LEVEL_ENV = "SEALRUN_LOG_LEVEL"
CONTEXT_FIELDS = ("task_id", "deal_id")
LogFormat = Literal["json", "text"]
_TEXT = "%(asctime)s %(levelname)s %(service)s %(name)s%(context)s: %(message)s"
_MAX_FIELD = 200  # a context value is an id: anything longer is cut, never a whole input

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "sealrun_log_context", default=_EMPTY
)


def current_context() -> Mapping[str, str]:
    """The fields bound by the enclosing :func:`log_context` blocks."""
    return _context.get()


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Bind ``task_id`` / ``deal_id`` (others are refused) to every line logged inside.

    ``None`` values are skipped, so a caller binds what it knows. Nested blocks add to the
    outer ones.

    Raises:
        ConfigError: ``CONFIG_INVALID`` for a field that is not a context field.
    """
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ConfigError(f"unknown log context field(s): {sorted(unknown)}", code="CONFIG_INVALID")
    bound = {**_context.get(), **{k: str(v)[:_MAX_FIELD] for k, v in fields.items() if v is not None}}
    token = _context.set(bound)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``service`` and the bound context fields to every record (never drops one)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        bound = _context.get()
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None and name in bound:
                setattr(record, name, bound[name])
        context = " ".join(f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if getattr(record, n, None))
        record.context = f" [{context}]" if context else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO 8601 UTC, ms), ``level``, ``service``, ``logger``,
    ``message``, the context fields when present, and ``exc`` (the traceback) if any."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        line: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": getattr(record, "service", ""),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)[:_MAX_FIELD]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # ensure_ascii: a hostile string cannot smuggle a newline or a terminal escape into the log.
        return json.dumps(line, ensure_ascii=True, default=str)


def log_format(environ: Mapping[str, str], default: LogFormat = "json") -> LogFormat:
    """The format named by ``SEALRUN_LOG_FORMAT`` (``json`` or ``text``), else ``default``.

    Raises:
        ConfigError: ``CONFIG_INVALID`` for another value.
    """
    value = environ.get(FORMAT_ENV, "").strip().lower() or default
    if value not in ("json", "text"):
        raise ConfigError(f"{FORMAT_ENV} must be 'json' or 'text', not {value[:40]!r}", code="CONFIG_INVALID")
    return value  # type: ignore[return-value]


def configure_logging(
    service: str,
    *,
    fmt: LogFormat | None = None,
    environ: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record of this process to ``stream`` (stderr) as ``fmt`` lines.

    Replaces the root logger's handlers (uvicorn's loggers propagate to it when uvicorn runs
    with ``log_config=None``); level from ``SEALRUN_LOG_LEVEL`` (default ``INFO``); httpx's
    per-request lines are kept at WARNING. Returns the handler.

    Raises:
        ConfigError: ``CONFIG_INVALID`` for an unknown format or level.
    """
    env = os.environ if environ is None else environ
    chosen = fmt or log_format(env)
    level = env.get(LEVEL_ENV, "INFO").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"{LEVEL_ENV} must be a logging level, not {level[:40]!r}", code="CONFIG_INVALID")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter(service))
    if chosen == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per heartbeat is noise
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return handler
