"""The worker's settlement queue: results wait here for one ``finalizeMany`` transaction.

A task whose enclave reported a result is journaled as ``reported`` and queued; the queue
hands its items to a flush function when it holds ``size`` of them, when its oldest item
has waited ``delay`` seconds, or when the worker is idle (no running task could still join
the batch, so waiting would only add latency), whichever comes first. The queue itself is only memory: the
journal keeps every queued result until its transaction is mined, so a crash loses nothing
(the restarted worker queues the journal's ``reported`` tasks again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["SettlementQueue"]

T = TypeVar("T")

_POLL = 0.2  # seconds: how often an idle queue looks at its stop event


class SettlementQueue(Generic[T]):
    """Items waiting to be settled together.

    Args:
        flush: settles a batch (called from the thread that runs :meth:`run` or :meth:`flush`).
        size: the most items per batch; a full batch is flushed at once.
        delay: the longest an item waits (seconds) before its batch is flushed.
        clock: monotonic seconds (a test may pass its own).
        idle: given the queued items, whether no running task can still add to the batch
            (then it is due at once); ``None``: only the size and the delay decide.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], None],
        *,
        size: int,
        delay: float,
        clock: Callable[[], float] = time.monotonic,
        idle: Callable[[list[T]], bool] | None = None,
    ) -> None:
        self._flush = flush
        self._idle = idle
        self.size = size
        self.delay = delay
        self._clock = clock
        self._items: list[T] = []
        self._oldest = 0.0
        self._ready = threading.Condition()

    def add(self, item: T) -> None:
        """Queue ``item``; wakes the flusher when the batch is full."""
        with self._ready:
            if not self._items:
                self._oldest = self._clock()
            self._items.append(item)
            self._ready.notify_all()  # full, or perhaps the last running task: look again

    def pending(self) -> int:
        """How many items wait."""
        with self._ready:
            return len(self._items)

    def _due(self) -> bool:
        return bool(self._items) and (
            len(self._items) >= self.size
            or self._clock() - self._oldest >= self.delay
            or (self._idle is not None and self._idle(self._items))
        )

    def _take(self) -> list[T]:
        batch, self._items = self._items[: self.size], self._items[self.size :]
        self._oldest = self._clock()
        return batch

    def flush(self) -> int:
        """Settle everything queued now, in batches of at most ``size``; return how many items."""
        done = 0
        while True:
            with self._ready:
                batch = self._take()
            if not batch:
                return done
            self._flush(batch)
            done += len(batch)

    def run(self, stop: threading.Event) -> None:
        """Flush each batch when it is due, until ``stop`` is set (then flush what is left)."""
        while not stop.is_set():
            with self._ready:
                if not self._due():
                    wait = self.delay - (self._clock() - self._oldest) if self._items else _POLL
                    self._ready.wait(timeout=min(max(wait, 0.0), _POLL))
                    continue
                batch = self._take()
            self._flush(batch)
        self.flush()
