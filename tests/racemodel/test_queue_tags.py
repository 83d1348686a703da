"""racemodel/queue_tags.py: queued items stay what was put, whichever ``get`` takes them."""

from __future__ import annotations

import queue
import threading
import time

from pytest_ocirace.racemodel.clocks import Tracker
from pytest_ocirace.racemodel.queue_tags import QueueTags
from pytest_ocirace.racemodel.sync import Instrumentation


def test_a_getter_blocked_before_the_test_gets_the_item_itself() -> None:
    # cheroot's worker pool waits in the real Queue.get from pytest_configure on; an item
    # put by the instrumented put inside a simulated test used to reach it wrapped.
    q: queue.Queue[object] = queue.Queue()
    sentinel = object()
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(q.get(timeout=10)), daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while not q.not_empty._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    with Instrumentation(Tracker()):
        q.put(sentinel)
        worker.join(10)
    assert not worker.is_alive(), "the blocked getter never returned"
    assert got == [sentinel]
    assert got[0] is sentinel


def test_one_object_queued_twice_comes_out_in_the_queues_order() -> None:
    tags = QueueTags()
    fifo: queue.Queue[None] = queue.Queue()
    lifo: queue.LifoQueue[None] = queue.LifoQueue()
    for q in (fifo, lifo):
        tags.put(q, None, {1: 1})
        tags.put(q, None, {1: 2})
    assert tags.take(fifo, None) == {1: 1}
    assert tags.take(lifo, None) == {1: 2}
    assert tags.take(fifo, None) == {1: 2}
    assert tags.take(fifo, None) is None


def test_an_item_put_before_the_test_has_no_clock() -> None:
    tags = QueueTags()
    q: queue.Queue[int] = queue.Queue()
    assert tags.take(q, 7) is None
