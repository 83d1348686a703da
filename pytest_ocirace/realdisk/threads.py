"""Threads inside a participating process: the fake filesystem's ``sync.py``, fed remotely.

``threading`` locks, events, conditions, barriers, semaphores, ``queue.Queue`` and
``concurrent.futures`` are instrumented by :func:`~..racemodel.sync.install`, the same
patches the fake-filesystem mode installs. Here they report to a :class:`RemoteTracker`:
instead of keeping vector clocks in this process, it turns each edge into a message on the
process's line to the coordinator, whose judge keeps the clocks of every strand
((pid, thread) pair). A release is a message naming a key, an acquire names the same key;
a lock is a lockset entry of the sending thread.

Every key carries this process's pid: these primitives live in one process's memory, and a
forked child's copy of a lock is another lock. Messages are not answered (the coordinator
reads one connection in order, so a release is judged before an acquire sent after it),
which keeps a lock's cost at one write to a socket.

What this tracker does not do, on purpose: strands of its own (a thread's strand is its
(pid, thread) pair, which ``edges.py`` orders at start and join; a thread pool's work item
is ``edges.py``'s too), and the weakening of an event set by several threads (the waiter is
ordered after the set that turned the flag on).
"""

from __future__ import annotations

import itertools
import os
import threading
from contextlib import contextmanager

from pytest_ocirace.racemodel.clocks import Clock, LogicalThread, Tracker, Weakening

TYPE_CHECKING = False  # not typing's: installed when a joining child imports threading

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

    from pytest_ocirace.realdisk.interpose import Interposition

__all__ = ["RemoteTracker", "install"]

__tracebackhide__ = True


class _Strand(LogicalThread):
    """A thread as the instrumentation sees it here: an identity, and marks for clocks.

    A "clock" handed out (``snapshot``) is one negative component per mark: a key released
    at the coordinator that whoever takes the clock (a queue's getter) acquires.
    """

    __slots__ = ("sink",)

    def __init__(self, tid: int, name: str, sink: RemoteTracker | None) -> None:
        super().__init__(tid, name, {tid: 1}, "thread")
        self.sink = sink

    def snapshot(self) -> Clock:
        return self.sink.mark(self) if self.sink is not None else {}

    def tick(self) -> None:
        pass


_NOBODY = _Strand(0, "nobody", None)


class RemoteTracker(Tracker):
    """The :class:`~..racemodel.clocks.Tracker` that ``sync.py`` talks to in this mode."""

    def __init__(self, ip: Interposition) -> None:
        super().__init__()
        self.ip = ip
        self.pid = os.getpid()
        self._marks = itertools.count(1)

    # -- identity ----------------------------------------------------------------------------

    def _who(self) -> _Strand | None:
        """The calling thread, or None when its edges must not be sent.

        Not while a message is being sent (the line's own lock), not for the coordinator's
        threads, not for a thread still starting or a foreign one (``current_thread()``
        would build a ``_DummyThread``, whose constructor sets an event).
        """
        from pytest_ocirace.realdisk.interpose import active

        if active() is not self.ip or self.ip.busy():
            return None
        ident = threading.get_ident()
        active_threads: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
        thread = active_threads.get(ident)
        if thread is None or thread.name.startswith("ocirace-"):
            return None
        return _Strand(ident, thread.name, self)

    def _send(self, strand: LogicalThread, kind: str, **fields: Any) -> None:
        self.ip.notify_as(strand.tid, strand.name, kind, **fields)

    def _key(self, obj: object) -> str:
        return f"sync:{self.pid}:{id(obj)}"

    def current(self) -> LogicalThread:
        return self._who() or _NOBODY

    def spawn(self, name: str, kind: str) -> LogicalThread:
        return _NOBODY  # threads and work items are ordered by edges.py

    def detached(self, name: str, clock: Mapping[int, int], kind: str) -> LogicalThread:
        return _NOBODY

    def bind_thread(self, thread: threading.Thread, strand: LogicalThread) -> None:
        pass

    def strand_of(self, thread: threading.Thread) -> LogicalThread | None:
        return None

    @contextmanager
    def running(self, strand: LogicalThread) -> Iterator[LogicalThread]:
        yield strand

    # -- edges -------------------------------------------------------------------------------

    def mark(self, strand: _Strand) -> Clock:
        """Release a fresh key now; the returned clock acquires it."""
        number = next(self._marks)
        self._send(strand, "edge", key=f"mark:{self.pid}:{number}", acquire=False)
        return {-number: 1}

    def acquire_clock(self, clock: Mapping[int, int]) -> None:
        strand = self._who()
        if strand is None:
            return
        for component in clock:
            if component < 0:
                self._send(strand, "edge", key=f"mark:{self.pid}:{-component}", acquire=True)

    def release(self, obj: object) -> None:
        strand = self._who()
        if strand is not None:
            self._send(strand, "edge", key=self._key(obj), acquire=False)

    def acquire(self, obj: object) -> None:
        strand = self._who()
        if strand is not None:
            self._send(strand, "edge", key=self._key(obj), acquire=True)

    def event_set(self, event: object, *, turns_on: bool) -> list[Weakening]:
        if turns_on:
            self.release(event)
        return []

    def report(self, weakened: Iterable[Weakening]) -> None:
        pass

    def event_waited(self, event: object) -> None:
        self.acquire(event)

    def park(self, obj: object, clock: Mapping[int, int]) -> None:
        pass

    def parked(self, obj: object) -> Clock | None:
        return None

    # -- locksets ----------------------------------------------------------------------------

    def _lock_key(self, key: object) -> str:
        if isinstance(key, tuple) and len(key) == 2 and key[0] == "filelock":
            return f"filelock:{key[1]}"  # a file: the same lock in every process
        if isinstance(key, tuple):
            return f"thread-lock:{self.pid}:" + ":".join(str(part) for part in key)
        return f"thread-lock:{self.pid}:{key!r}"

    def locked(self, key: object, strand: LogicalThread | None = None) -> LogicalThread:
        holder = self._who() if strand is None else strand
        if holder is None or holder is _NOBODY:
            return _NOBODY
        self._send(holder, "lock", key=self._lock_key(key))
        return holder

    def unlocked(
        self, key: object, holder: LogicalThread | None = None, *, fully: bool = False
    ) -> int:
        strand = self._who() if holder is None else holder
        if strand is None or strand is _NOBODY or self.ip.busy():
            return 0
        self._send(strand, "unlock", key=self._lock_key(key), fully=fully)
        return 1


def install(ip: Interposition) -> None:
    """Instrument this process's threading primitives for ``ip`` (undone by its removal)."""
    from pytest_ocirace.racemodel import sync

    if sync.Instrumentation.current() is not None:
        return  # the fake-filesystem mode has them (it wins over nothing: both are on)
    instrumentation = sync.install(RemoteTracker(ip), defer=ip.after_import.when_imported)
    ip._undo.append(instrumentation.uninstall)
