"""A raw HTTP/1.1 client for hostile bodies: chunked or with a (possibly lying) Content-Length.

Higher-level clients stop at the first failed write and never read the answer a server sends
before the body is complete; this one keeps reading while it sends, so the test sees the
status and problem document the guard answered with.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    """What the server answered, and how many body bytes were sent before it did."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: int

    def problem(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


def _parse(raw: bytes, sent: int) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawResponse(status=status, headers=headers, body=body, sent=sent)


def _complete(raw: bytes) -> bool:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def send(
    port: int,
    method: str,
    path: str,
    pieces: Iterable[bytes],
    *,
    chunked: bool,
    content_length: int | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    source: str = "127.0.0.1",
) -> RawResponse:
    """Send a request whose body is ``pieces`` and return the answer (read while sending).

    Raises:
        ConnectionError: the server closed the connection without answering.
    """
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "content-type: application/json"]
    if chunked:
        lines.append("transfer-encoding: chunked")
    if content_length is not None:
        lines.append(f"content-length: {content_length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    connection = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    received = b""
    sent = 0
    deadline = time.monotonic() + timeout
    try:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for piece in pieces:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            try:
                connection.sendall(frame)
            except OSError:
                break
            sent += len(piece)
        else:
            if chunked:
                with contextlib.suppress(OSError):
                    connection.sendall(b"0\r\n\r\n")
        while not _complete(received) and time.monotonic() < deadline:
            try:
                data = connection.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    finally:
        connection.close()
    if not received:
        raise ConnectionError(f"the server closed the connection without answering ({sent} bytes sent)")
    return _parse(received, sent)


def deep_json(depth: int = 100_000) -> bytes:
    """``depth`` nested arrays: 2 bytes per level (200 KB for the default)."""
    return b"[" * depth + b"]" * depth


def pieces_of(data: bytes, size: int = 16 * 1024) -> list[bytes]:
    """``data`` cut into pieces of ``size`` bytes."""
    return [data[at : at + size] for at in range(0, len(data), size)]
