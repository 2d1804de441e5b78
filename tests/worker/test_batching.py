"""The settlement queue alone: size and delay bounds, batches never over size, nothing left at stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sealrun.services.worker.batching import SettlementQueue


def wait_until(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_flush_hands_out_batches_of_at_most_size() -> None:
    batches: list[list[int]] = []
    queue = SettlementQueue[int](batches.append, size=3, delay=60.0)
    for item in range(7):
        queue.add(item)
    assert queue.flush() == 7
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert queue.pending() == 0


def test_run_flushes_on_size_on_delay_and_what_is_left_at_stop() -> None:
    batches: list[tuple[float, list[int]]] = []
    queue = SettlementQueue[int](lambda b: batches.append((time.monotonic(), b)), size=2, delay=1.0)
    stop = threading.Event()
    flusher = threading.Thread(target=queue.run, args=(stop,))
    flusher.start()
    queue.add(1)
    full = time.monotonic()
    queue.add(2)  # full: flushed at once, long before the delay
    wait_until(lambda: len(batches) == 1)
    assert batches[0][0] - full < 1.0
    assert batches[0][1] == [1, 2]
    added = time.monotonic()
    queue.add(3)  # alone: flushed after the delay
    wait_until(lambda: len(batches) == 2)
    assert batches[1][1] == [3]
    assert batches[1][0] - added >= 1.0
    queue.add(4)
    stop.set()
    flusher.join(5)
    assert [b for _, b in batches] == [[1, 2], [3], [4]]
