"""The output side of sealing and opening: hash the ciphertext and write, off the main thread.

Sealing at full speed needs more than one core: ChaCha20-Poly1305 (``cryptography``) holds
the GIL, while ``hashlib`` and file writes release it for large buffers. The calling thread
reads, runs the cipher and joins each batch of chunks into one buffer; a :class:`Sink` then
feeds the SHA-256 of the ciphertext on one worker thread and writes the output on another,
each through a short bounded queue (so memory stays constant: at most ``depth`` batches in
flight per queue). Measured, a single worker doing both was the bottleneck (busy ~90% of the
time while the calling thread waited on it). A small input never starts a thread.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["Sink", "Writable"]

Buffer = bytes | memoryview


class Writable(Protocol):
    """Anything with ``write(bytes)`` (a binary file, a pipe, a hashing wrapper).

    ``data`` may be a view of a buffer that is reused once ``write`` returns: a writer must
    copy what it keeps (files, pipes and ``io.BytesIO`` do).
    """

    def write(self, data: bytes | memoryview, /) -> object:
        """Write all of ``data``."""
        ...


class _Worker:
    """One thread applying ``action`` to queued buffers, in order; keeps the first error."""

    def __init__(self, action: Callable[[Buffer], object], *, name: str, depth: int) -> None:
        self._action = action
        self.error: BaseException | None = None
        self._queue: queue.Queue[Buffer | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self._action(item)
                except BaseException as error:  # handed to the calling thread by Sink
                    self.error = error

    def put(self, item: Buffer) -> None:
        self._queue.put(item)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()


class Sink:
    """Hashes one stream of buffers and writes another, in order, optionally on two threads.

    Args:
        dst: where :meth:`put`'s ``written`` buffers go.
        threaded: run the hashing and the writing on worker threads.
        depth: buffers allowed in flight per worker when threaded.
        hashing: compute the checksum; when off, ``hashed`` buffers are ignored (no hash thread)
            and :meth:`close` returns None.
    """

    def __init__(self, dst: Writable, *, threaded: bool, depth: int = 3, hashing: bool = True) -> None:
        self._hash = hashlib.sha256() if hashing else None
        self._write = dst.write
        self._workers: tuple[_Worker | None, _Worker] | None = None
        self._running = threaded
        if threaded:
            self._workers = (
                _Worker(self._hash.update, name="sealrun-hash", depth=depth) if self._hash else None,
                _Worker(self._write, name="sealrun-write", depth=depth),
            )

    def _raise_worker_error(self) -> None:
        for worker in self._workers or ():
            if worker is not None and worker.error is not None:
                raise worker.error

    def put(self, hashed: Buffer | None, written: Buffer | None) -> None:
        """Queue ``hashed`` for the checksum and ``written`` for the output (may be the same)."""
        if self._workers is None:
            if hashed and self._hash is not None:
                self._hash.update(hashed)
            if written:
                self._write(written)
            return
        self._raise_worker_error()
        hasher, writer = self._workers
        if hashed and hasher is not None:
            hasher.put(hashed)
        if written:
            writer.put(written)

    def close(self) -> str | None:
        """Drain, stop the threads, and return the ``0x``-hex SHA-256 of everything hashed.

        Returns:
            The checksum, or None when the sink was made with ``hashing=False``.

        Raises:
            BaseException: whatever a worker hit (e.g. ``OSError`` while writing).
        """
        self.abort()
        self._raise_worker_error()
        return None if self._hash is None else "0x" + self._hash.hexdigest()

    def abort(self) -> None:
        """Stop the worker threads (idempotent), after they finish what is queued."""
        if self._workers is not None and self._running:
            self._running = False
            for worker in self._workers:
                if worker is not None:
                    worker.stop()
