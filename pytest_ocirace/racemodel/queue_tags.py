"""The putter's clock of each queue item, kept beside the queue, never in it.

A ``queue.Queue`` put happens before the get of that item. The race model used to carry the
putter's clock inside the queue, wrapping the item, and unwrap it in the instrumented
``get``. A thread already blocked in the real ``get`` when a simulated test started
(a server's worker pool waiting for connections since the session began: CherryPy's
cheroot, started in ``pytest_configure``) then received the wrapper itself, and died on
it (``'_Tagged' object has no attribute 'communicate'``), taking the server with it for the
rest of the session. The items in the queue are now exactly the items put; the clocks live
in this table, found again by the item's identity when an instrumented ``get`` returns it.

An item got by an uninstrumented ``get`` leaves its clock here until the test ends (the
table belongs to one test's instrumentation): if the same ``id`` is put again, a later get
may take that older clock first, which can only order it after more of the putter's past
(a race possibly missed, never one invented).
"""

from __future__ import annotations

import _thread
import sys
from collections import deque

TYPE_CHECKING = False  # not typing's: as sync.py, imported in a process-mode child's start-up

if TYPE_CHECKING:
    from typing import Any

__all__ = ["QueueTags"]


class QueueTags:
    """Clocks of queued items by ``(queue, item)`` identity, in put order per key."""

    def __init__(self) -> None:
        self._mutex = _thread.allocate_lock()
        self._clocks: dict[tuple[int, int], deque[dict[int, int]]] = {}

    def put(self, q: Any, item: Any, clock: dict[int, int]) -> None:
        """Remember ``clock`` for ``item`` before it enters ``q``."""
        key = (id(q), id(item))
        with self._mutex:
            pending = self._clocks.get(key)
            if pending is None:
                pending = self._clocks[key] = deque()
            pending.append(clock)

    def take(self, q: Any, item: Any) -> dict[int, int] | None:
        """The clock of the put that gave ``item`` to this get, or None if untracked.

        One object queued several times (a ``None`` sentinel) comes out in the queue's own
        order: first in, first out, except for a ``LifoQueue``.
        """
        key = (id(q), id(item))
        with self._mutex:
            pending = self._clocks.get(key)
            if not pending:
                return None
            lifo = sys.modules["queue"].LifoQueue  # loaded: q is one of its queues
            clock = pending.pop() if isinstance(q, lifo) else pending.popleft()
            if not pending:
                del self._clocks[key]
            return clock

    def clear(self) -> None:
        with self._mutex:
            self._clocks.clear()
