"""Request-body guards every service installs: bytes counted as received, JSON depth, recursion.

Three defences against a request that tries to knock a service over:

- :class:`BodySizeLimit` counts the body bytes *as they arrive* (``Content-Length`` is only
  an early hint: a chunked body, or one whose length header lies, is cut off at the limit)
  and answers 413 ``TOO_LARGE``.
- :class:`JsonDepthLimit` scans request bodies incrementally, tracking ``[``/``{`` nesting
  outside JSON strings (escapes handled across chunk boundaries), and answers 400
  ``REQUEST_TOO_DEEP`` past ``max_depth`` before any parser sees the body. Why: a 200 KB body
  of 100,000 ``[`` made the stdlib JSON parser recurse 100,000 C frames and segfault.
- :func:`restore_recursion_limit`: ``py_ecc`` and ``py-evm`` (``eth``) raise the interpreter's
  recursion limit to 100,000 when imported, far past what the C stack holds, so a deep
  structure that escaped the guard would crash the process instead of raising
  ``RecursionError``. The services put it back to :data:`SAFE_RECURSION_LIMIT` once built, at
  startup, and again before each request (an import made during a request could raise it).

A refused request is answered by the guard itself: the app sees a client disconnect, and
whatever it tries to answer (or raise) after that is replaced by the guard's problem document.
The connection is closed (``connection: close``) so the unread rest of the body is never read.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MAX_JSON_DEPTH",
    "SAFE_RECURSION_LIMIT",
    "BodySizeLimit",
    "JsonDepthLimit",
    "JsonDepthScanner",
    "JsonTooDeepError",
    "restore_recursion_limit",
]

#: Deepest nesting of arrays/objects a request body may have (sealrun bodies need < 10).
MAX_JSON_DEPTH = 64
#: The recursion limit the services run with: above what FastAPI and pydantic need for
#: bodies of :data:`MAX_JSON_DEPTH`, far below what exhausts an 8 MiB C stack.
SAFE_RECURSION_LIMIT = 2000

_SPECIAL = re.compile(rb'[\[\]{}"\\]')
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def restore_recursion_limit(limit: int = SAFE_RECURSION_LIMIT) -> None:
    """Lower the interpreter's recursion limit to ``limit`` if something raised it above."""
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


class JsonTooDeepError(Exception):
    """Raised by :class:`JsonDepthScanner` once the nesting passes its maximum."""


class JsonDepthScanner:
    """Tracks the nesting depth of a JSON text fed in arbitrary chunks, without parsing it.

    Only ``[``, ``]``, ``{``, ``}`` outside strings count; inside a string a backslash escapes
    the next byte (even when it arrives in the next chunk). Bytes that are not JSON are
    scanned the same way: the parser refuses them later, the scanner only bounds the depth.

    Args:
        max_depth: the deepest nesting allowed.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.deepest = 0
        self._in_string = False
        self._escaped = False

    def feed(self, data: bytes) -> None:
        """Scan the next chunk. Raises :class:`JsonTooDeepError` once the depth passes ``max_depth``."""
        skip = 0
        if self._escaped and data:
            self._escaped, skip = False, 1
        for match in _SPECIAL.finditer(data, skip):
            at = match.start()
            if at < skip:
                continue
            byte = data[at]
            if self._in_string:
                if byte == _BACKSLASH:
                    skip = at + 2
                    self._escaped = skip > len(data)
                elif byte == _QUOTE:
                    self._in_string = False
            elif byte == _QUOTE:
                self._in_string = True
            elif byte in _OPEN:
                self.depth += 1
                if self.depth > self.deepest:
                    self.deepest = self.depth
                    if self.depth > self.max_depth:
                        raise JsonTooDeepError
            elif byte in _CLOSE and self.depth:
                self.depth -= 1


def _problem(status: int, code: str, detail: str) -> tuple[dict[str, object], int]:
    title = code.replace("_", " ").capitalize()
    return {
        "type": f"urn:sealrun:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }, status


Refusal = tuple[int, str, str]
"""(HTTP status, code, detail) of a refused request."""
Check = Callable[[bytes], "Refusal | None"]
"""Inspects one body chunk of a request; returns a refusal or ``None``."""


class _BodyGuard:
    """Shared machinery: inspect each body chunk as the app receives it; answer refusals.

    Subclasses implement :meth:`inspect`: ``None`` lets the request through unexamined, a
    :data:`Refusal` answers it at once (from the headers), a :data:`Check` sees every chunk.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def inspect(self, scope: Scope) -> Check | Refusal | None:
        """How to examine this request (see the class docstring)."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inspection = self.inspect(scope) if scope["type"] == "http" else None
        if inspection is None:
            await self.app(scope, receive, send)
            return
        if isinstance(inspection, tuple):
            await _answer(send, inspection)
            return
        check = inspection
        refused: Refusal | None = None
        started = answered = False

        async def guarded_receive() -> Message:
            nonlocal refused
            if refused is not None:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                refused = check(message.get("body", b""))
                if refused is not None:
                    # The app sees a client that went away; the guard answers instead.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, answered
            if refused is not None:
                if not started and not answered:
                    answered = True
                    await _answer(send, refused)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if refused is None:
                raise
            # The app failed because its body was cut off: expected, and answered below.
        if refused is not None and not started and not answered:
            await _answer(send, refused)


async def _answer(send: Send, refusal: Refusal) -> None:
    body, status = _problem(*refusal)
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimit(_BodyGuard):
    """ASGI middleware: refuse bodies over ``limit`` bytes (413 ``TOO_LARGE``).

    A ``Content-Length`` over the limit (or not a decimal number) is refused before reading;
    otherwise the bytes are counted as they arrive, so a chunked body or a lying length is
    cut off once it passes the limit. Use with ``app.add_middleware(BodySizeLimit, limit=...)``.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        super().__init__(app)
        self.limit = limit

    def _refusal(self) -> Refusal:
        return 413, "TOO_LARGE", f"the request body is larger than {self.limit} bytes"

    def inspect(self, scope: Scope) -> Check | Refusal | None:
        """Refuse a declared length over the limit at once; count the bytes of every body."""
        lengths = [value for name, value in scope.get("headers") or () if name == b"content-length"]
        for value in lengths:
            if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > self.limit:
                return self._refusal()
        received = 0

        def check(chunk: bytes) -> Refusal | None:
            nonlocal received
            received += len(chunk)
            return self._refusal() if received > self.limit else None

        return check


class JsonDepthLimit(_BodyGuard):
    """ASGI middleware: refuse bodies nested deeper than ``max_depth`` (400 ``REQUEST_TOO_DEEP``).

    Every request body is scanned (sealrun services speak JSON), except under the path
    prefixes of ``raw_paths`` (the store's blobs, which are bytes). It also puts the recursion
    limit back before each request (see the module docstring).

    Args:
        app: the ASGI app.
        max_depth: the deepest nesting allowed.
        raw_paths: path prefixes whose bodies are not JSON and are not scanned.
    """

    def __init__(self, app: ASGIApp, max_depth: int = MAX_JSON_DEPTH, raw_paths: Sequence[str] = ()) -> None:
        super().__init__(app)
        self.max_depth = max_depth
        self.raw_paths = tuple(raw_paths)

    def inspect(self, scope: Scope) -> Check | Refusal | None:
        """Scan every body but those under the raw paths."""
        restore_recursion_limit()
        path = str(scope.get("path", ""))
        if any(path.startswith(prefix) for prefix in self.raw_paths):
            return None
        scanner = JsonDepthScanner(self.max_depth)

        def check(chunk: bytes) -> Refusal | None:
            try:
                scanner.feed(chunk)
            except JsonTooDeepError:
                return 400, "REQUEST_TOO_DEEP", f"the body is nested deeper than {self.max_depth} levels"
            return None

        return check
