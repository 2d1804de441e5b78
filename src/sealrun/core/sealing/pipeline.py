"""The output side of sealing and opening: hash the ciphertext and write, off the main thread.

Sealing at full speed needs two cores: ChaCha20-Poly1305 (``cryptography``) holds the GIL,
while ``hashlib`` and file writes release it for large buffers. The main thread therefore
reads and runs the cipher, and a :class:`Sink` thread feeds the SHA-256 of the ciphertext and
writes the output, one batch of chunks at a time, through a short bounded queue (so memory
stays constant: at most ``depth`` batches in flight). A small input never starts a thread.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Sequence
from typing import Protocol

__all__ = ["Sink", "Writable"]

_DONE = None


class Writable(Protocol):
    """Anything with ``write(bytes)`` (a binary file, a pipe, a hashing wrapper)."""

    def write(self, data: bytes | memoryview, /) -> object:
        """Write all of ``data``."""
        ...


class Sink:
    """Hashes one stream of bytes and writes another, in order, optionally in a thread.

    Args:
        dst: where :meth:`put`'s ``write`` parts go.
        threaded: run the hashing and writing in a worker thread.
        depth: batches allowed in flight when threaded.
    """

    def __init__(self, dst: Writable, *, threaded: bool, depth: int = 3) -> None:
        self._dst = dst
        self._hash = hashlib.sha256()
        self._error: BaseException | None = None
        self._queue: (
            queue.Queue[tuple[Sequence[bytes | memoryview], Sequence[bytes | memoryview]] | None] | None
        ) = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, name="sealrun-sink", daemon=True)
            self._thread.start()

    def _consume(self, hashed: Sequence[bytes | memoryview], written: Sequence[bytes | memoryview]) -> None:
        # One large update and one large write each release the GIL once, instead of once
        # per 64 KiB chunk; the join is a memcpy, far cheaper than the GIL handoffs it saves.
        blob = _joined(hashed)
        self._hash.update(blob)
        if written is hashed:
            self._dst.write(blob)
        elif written:
            self._dst.write(_joined(written))

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._consume(*item)
                except BaseException as error:  # handed to the main thread by put()/close()
                    self._error = error

    def put(self, hashed: Sequence[bytes | memoryview], written: Sequence[bytes | memoryview]) -> None:
        """Queue ``hashed`` for the checksum and ``written`` for the output (same list allowed)."""
        if self._error is not None:
            raise self._error
        if self._queue is None:
            self._consume(hashed, written)
        else:
            self._queue.put((hashed, written))

    def close(self) -> str:
        """Drain, stop the thread, and return the ``0x``-hex SHA-256 of everything hashed.

        Raises:
            BaseException: whatever the worker thread hit while writing (e.g. ``OSError``).
        """
        self.abort()
        if self._error is not None:
            raise self._error
        return "0x" + self._hash.hexdigest()

    def abort(self) -> None:
        """Stop the worker thread (idempotent), dropping nothing already queued."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(_DONE)
            self._thread.join()
            self._queue = None


def _joined(parts: Sequence[bytes | memoryview]) -> bytes | memoryview:
    return parts[0] if len(parts) == 1 else b"".join(parts)
