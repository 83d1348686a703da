"""Vector clocks and logical-thread identity: the bookkeeping under the race model.

The race model must give the same verdict whatever the scheduler does, so it cannot ask "did
these two operations overlap in time?". It asks "is one of them ordered before the other by
the program's own synchronisation?", which is what vector clocks answer. This module only
keeps the clocks; ``sync.py`` feeds it edges from threading/queue/futures, ``model.py`` asks
it questions.

A *logical* thread is what the model considers one sequential strand of work. It is keyed by
the ``threading.Thread`` object (``get_ident()`` values are reused within one test), and a
work item submitted to an executor is its own logical thread, pushed onto the worker's stack
while it runs, so that two items are concurrent even when one worker happened to run both.

Everything here uses ``_thread`` locks directly: ``threading.Lock`` may be our own tracked
factory while a test runs, and the tracker must not observe itself. The tracker's mutex is
reentrant: any allocation made while it is held may run the garbage collector, and so a
``__del__`` or weakref callback that releases a tracked lock (filelock's ``BaseFileLock``
does) calls back into the tracker on the same thread. Each section under the mutex is written
so that such a nested call sees, and leaves, a consistent state.
"""

from __future__ import annotations

import _thread
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): an
# injected error or a wrapped primitive should point at the user's call, not at the model.
__tracebackhide__ = True

__all__ = [
    "LogicalThread",
    "Tracker",
    "Weakening",
    "activate",
    "active",
    "deactivate",
    "join_clock",
    "meet_clock",
]

Clock = dict[int, int]

#: Kinds of strand whose clock slot a later strand may take over once they finished
#: (``Tracker.finished``): each runs once, on whichever thread picked it up.
RECYCLED_KINDS = frozenset({"work-item", "callback"})
#: The lockset of a strand that holds no lock (shared: see ``LogicalThread.lockset``).
NO_LOCKS: frozenset[object] = frozenset()
_MAX_FREE_SLOTS = 64
_SLOTS_LOOKED_AT = 8

#: How many joins a strand remembers after an ``Event.wait`` (see ``LogicalThread.joins``);
#: beyond it the re-check of a weakened wait judges with what it has (bounded memory).
_MAX_JOINS = 10_000


def join_clock(target: Clock, source: Mapping[int, int]) -> None:
    """Make ``target`` the pointwise maximum of itself and ``source`` (the acquire step)."""
    for tid, value in source.items():
        if target.get(tid, 0) < value:
            target[tid] = value


def meet_clock(a: Mapping[int, int], b: Mapping[int, int]) -> Clock:
    """The pointwise minimum: what two clocks have both seen."""
    return {tid: min(value, b[tid]) for tid, value in a.items() if b.get(tid, 0) > 0}


class _Join:
    """One clock a strand joined, from its epoch ``epoch`` on.

    Mutable: a wait's edge can be weakened after the fact (:class:`Weakening`).
    """

    __slots__ = ("clock", "epoch")

    def __init__(self, epoch: int, clock: Clock) -> None:
        self.epoch = epoch
        self.clock = clock


class Weakening:
    """An ``Event.wait`` ordered its waiter after more than the program guarantees.

    An event set by several threads releases its waiters with whichever ``set()`` came
    first. The waiter was given the first setter's past; when a later ``set()`` arrives
    that is ordered neither after that first set nor after the waiter's return, another
    schedule lets *it* release the waiter, and the waiter is only guaranteed the common
    past of both (``meet_clock``). The race model re-checks the waiter's operations since
    ``since`` with :meth:`clock_at`, so the verdict does not depend on which set won.
    """

    __slots__ = ("join", "since", "strand", "was")

    def __init__(self, strand: LogicalThread, since: int, join: _Join, was: Clock) -> None:
        self.strand = strand
        self.since = since
        self.join = join
        self.was = was  # what the wait gave before this weakening

    def clock_at(self, epoch: int) -> Clock:
        """The waiter's guaranteed clock at its own ``epoch`` (``>= since``)."""
        return _replayed(self.strand, epoch)


def _replayed(strand: LogicalThread, epoch: int) -> Clock:
    """What ``strand`` is guaranteed to have seen at its ``epoch``, from its joins."""
    clock: Clock = {}
    for entry in strand.joins or []:
        if entry.epoch <= epoch:
            join_clock(clock, entry.clock)
    clock[strand.tid] = max(clock.get(strand.tid, 0), epoch)
    return clock


def _thread_object() -> threading.Thread | None:
    """The calling thread's ``Thread`` object, also while it is still starting up.

    ``threading.current_thread()`` must not be used for that: during ``_bootstrap_inner``
    (which sets the ``_started`` event, an instrumented primitive) the thread is not yet in
    ``threading._active``, and ``current_thread()`` would register a ``_DummyThread`` in its
    place, breaking the thread's own shutdown. For the same reason a thread started with
    ``_thread.start_new_thread`` gets None (``current_thread()`` would build a
    ``_DummyThread``, whose constructor sets an event, which asks us again): its strand is
    then known by the thread-local cache only.
    """
    ident = _thread.get_ident()
    active_threads: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
    thread = active_threads.get(ident)
    if thread is not None:
        return thread
    limbo: dict[threading.Thread, threading.Thread] = threading._limbo  # type: ignore[attr-defined]
    for starting in list(limbo):
        if getattr(starting, "_ident", None) == ident:
            return starting
    return None


class LogicalThread:
    """One sequential strand: a thread, an executor work item, or a declared continuation.

    ``clock`` is only ever mutated by the OS thread currently running this strand, so reads
    of another strand's clock happen only once that strand is finished (join, result) or via
    snapshots taken under the tracker's lock.
    """

    __slots__ = ("clock", "joins", "kind", "locks", "name", "pending", "serial", "tid")

    def __init__(self, tid: int, name: str, clock: Clock, kind: str, serial: int = 0) -> None:
        #: The clock slot: shared with a finished strand this one follows entirely
        #: (:meth:`Tracker.finished`), so that clocks stay small.
        self.tid = tid
        #: Unique for the tracker's life: what the race model keys its bookkeeping by.
        self.serial = serial or tid
        self.name = name
        self.kind = kind
        clock[tid] = clock.get(tid, 0) + 1
        self.clock: Clock = clock
        #: Lock keys held right now, with recursion counts (the lockset).
        self.locks: dict[object, int] = {}
        #: None until the strand returns from an ``Event.wait``; then every clock it joins,
        #: with its epoch, the first entry being its whole clock before that wait, so that a
        #: weakened wait can be replayed (``Weakening.clock_at``).
        self.joins: list[_Join] | None = None
        #: Set (by another thread) when a wait of ours was weakened: our clock is then
        #: replayed from ``joins`` by our own thread at its next step (:meth:`settle`).
        self.pending = False

    def settle(self) -> None:
        """Apply a weakening: rebuild the clock from the joins (own thread, or finished)."""
        if self.pending:
            self.pending = False
            replayed = _replayed(self, self.epoch)
            self.clock.clear()
            self.clock.update(replayed)

    @property
    def epoch(self) -> int:
        """Our own component: what other strands must have seen to be ordered after us."""
        return self.clock[self.tid]

    def snapshot(self) -> Clock:
        if self.pending:
            self.settle()
        return dict(self.clock)

    def lockset(self) -> frozenset[object]:
        # One empty set for every access made holding no lock (most of them): the model
        # keeps an access per name, and each new set was one more object to collect.
        return frozenset(self.locks) if self.locks else NO_LOCKS

    def tick(self) -> None:
        """Start a new epoch, so that what we do next is not covered by a clock we sent."""
        self.clock[self.tid] += 1

    def has_seen(self, tid: int, epoch: int) -> bool:
        """Whether the event ``epoch`` of strand ``tid`` happens before our present."""
        return self.clock.get(tid, 0) >= epoch

    def __repr__(self) -> str:
        return f"<LogicalThread {self.tid} {self.name!r} {self.kind}>"


class Tracker:
    """The clocks of one test: logical threads, and clocks parked on sync objects.

    One tracker lives for one test. It never patches anything; ``sync.Instrumentation`` calls
    its methods from wrapped primitives, and user code may call it through the declared
    ordering API in ``model.py``.
    """

    def __init__(self) -> None:
        self._mutex = _thread.RLock()  # reentrant: see the module docstring
        self._ids = itertools.count(1)
        self._local = threading.local()
        self._by_thread: dict[threading.Thread, LogicalThread] = {}
        #: Clocks released into sync objects (events, conditions, futures...), by id; the
        #: object itself is kept alive alongside so that its id cannot be reused.
        self._parked: dict[int, tuple[object, Clock]] = {}
        self._tokens: dict[object, object] = {}
        self.strands: list[LogicalThread] = []
        #: Serials of strands of a recycled kind not finished yet, and the slots of those
        #: that finished, as (slot, final epoch), the most recent last.
        self._recyclable: set[int] = set()
        self._free: list[tuple[int, int]] = []
        #: Per event (by id; the event is parked alongside): its waiters since the flag
        #: last turned on, as (waiter, first epoch after the wait, the join it made).
        self._waiters: dict[int, list[tuple[LogicalThread, int, _Join]]] = {}
        #: Called with each :class:`Weakening` (the race model re-checks the waiter).
        self.listeners: list[Callable[[Weakening], None]] = []

    # -- identity ------------------------------------------------------------------------

    def current(self) -> LogicalThread:
        """The logical thread running the caller."""
        stack: list[LogicalThread] | None = getattr(self._local, "stack", None)
        if stack:
            top = stack[-1]
            if top.pending:
                top.settle()
            return top
        thread = _thread_object()
        strand: LogicalThread | None = None if thread is None else self.strand_of(thread)
        if strand is None:
            # Allocating may run a ``__del__`` that reports to us from this very thread
            # (a nested ``current()``): whichever registration lands first is the strand,
            # so that no release is recorded on a strand that is then thrown away.
            name = f"thread {_thread.get_ident()}" if thread is None else thread.name
            fresh = LogicalThread(next(self._ids), name, {}, "thread")
            fresh_stack = [fresh]
            stack = getattr(self._local, "stack", None)
            if stack:
                nested: LogicalThread = stack[-1]
                return nested  # a nested call registered this thread meanwhile
            with self._mutex:
                strand = fresh if thread is None else self._by_thread.setdefault(thread, fresh)
                if strand is fresh:
                    self.strands.append(fresh)
            if strand is fresh:
                self._local.stack = fresh_stack  # allocated before: nothing can run between
                return fresh
        self._local.stack = [strand]  # registered: a nested call would find the same strand
        return strand

    def _new(self, name: str, clock: Clock, kind: str) -> LogicalThread:
        serial = next(self._ids)
        tid = self._reusable_slot(clock) if kind in RECYCLED_KINDS else None
        strand = LogicalThread(serial if tid is None else tid, name, clock, kind, serial)
        if kind in RECYCLED_KINDS:
            self._recyclable.add(serial)
        self.strands.append(strand)
        return strand

    # -- slots of finished strands ---------------------------------------------------------

    def finished(self, strand: LogicalThread) -> None:
        """``strand`` (a work item, a done callback) ran and will never run again.

        Its clock slot may then be taken by a new strand that has seen all of it (its
        final epoch): for any clock, "has seen epoch ``e`` of the slot" still means
        exactly "has seen the old strand's event ``e``", since the newcomer's events all
        come after the old strand's last one. Without this every work item added an entry
        to every clock that heard of it for the rest of the test, and a test awaiting
        ``asyncio.to_thread`` (or ``aiofiles``) in a loop joined clocks of thousands of
        entries at each step: quadratic (persist-queue's 500 puts, past a 40 s timeout).
        A strand that waited on an event (its clock may be weakened after the fact) keeps
        its slot.
        """
        with self._mutex:
            if strand.serial not in self._recyclable:
                return
            self._recyclable.discard(strand.serial)
            if strand.joins is None and not strand.pending:
                self._free.append((strand.tid, strand.epoch))
                if len(self._free) > _MAX_FREE_SLOTS:
                    del self._free[0]

    def _reusable_slot(self, clock: Mapping[int, int]) -> int | None:
        """The slot of a finished strand that ``clock`` has entirely seen, taken off the list.

        The most recently finished first, a few at most: in a chain of awaited work items
        that is the previous item. Which one is taken never changes a verdict (the race
        model keys what it remembers by ``serial``), only how small clocks stay.
        """
        with self._mutex:
            free = self._free
            for index in range(len(free) - 1, max(-1, len(free) - 1 - _SLOTS_LOOKED_AT), -1):
                tid, final = free[index]
                if clock.get(tid, 0) >= final:
                    del free[index]
                    return tid
        return None

    def spawn(self, name: str, kind: str) -> LogicalThread:
        """A new strand that starts after everything the caller did so far."""
        parent = self.current()
        with self._mutex:
            child = self._new(name, parent.snapshot(), kind)
        parent.tick()
        return child

    def detached(self, name: str, clock: Mapping[int, int], kind: str) -> LogicalThread:
        """A new strand that starts after ``clock`` only (e.g. a future's completion)."""
        with self._mutex:
            return self._new(name, dict(clock), kind)

    def bind_thread(self, thread: threading.Thread, strand: LogicalThread) -> None:
        """Declare that ``thread`` will run as ``strand`` (set by ``Thread.start``)."""
        with self._mutex:
            self._by_thread[thread] = strand

    def strand_of(self, thread: threading.Thread) -> LogicalThread | None:
        with self._mutex:
            return self._by_thread.get(thread)

    def running(self, strand: LogicalThread) -> AbstractContextManager[LogicalThread]:
        """Run the body as ``strand`` on the calling OS thread (an executor work item).

        A class, not a generator context manager: the process mode's judge enters one per
        operation of every participant, and ``contextmanager``'s machinery was a tenth of
        the coordinator's cost of a write+replace.
        """
        return _Running(self, strand)

    # -- edges ---------------------------------------------------------------------------

    def release(self, obj: object) -> None:
        """Everything the caller did so far happens before a later ``acquire(obj)``."""
        strand = self.current()
        with self._mutex:
            entry = self._parked.get(id(obj))
            if entry is None:
                self._parked[id(obj)] = (obj, strand.snapshot())
            else:
                join_clock(entry[1], strand.clock)
        strand.tick()

    def acquire(self, obj: object) -> None:
        """The caller is now after every ``release(obj)`` that happened so far."""
        with self._mutex:
            entry = self._parked.get(id(obj))
            clock = None if entry is None else dict(entry[1])
        if clock is not None:
            self._join(self.current(), clock)

    def _join(self, strand: LogicalThread, clock: Mapping[int, int]) -> _Join | None:
        """Join ``clock`` into ``strand``, remembering it if the strand replays its joins."""
        if strand.joins is None:
            join_clock(strand.clock, clock)
            return None
        entry = None
        if len(strand.joins) < _MAX_JOINS:
            strand.tick()  # the join starts a new epoch: what came before did not see it
            entry = _Join(strand.epoch, dict(clock))
            strand.joins.append(entry)
        else:
            strand.joins = None  # too many to replay: this strand's waits stay as given
        join_clock(strand.clock, clock)
        return entry

    # -- events: several setters -----------------------------------------------------------

    def event_set(self, event: object, *, turns_on: bool) -> list[Weakening]:
        """Report ``event.set()``; ``turns_on`` if the flag was clear (the set that releases).

        A set of an already-set event orders nothing (a waiter may have returned before
        it), but it may have been the first in another schedule: then every waiter is
        only guaranteed what both sets had seen, and past waiters are weakened. Call
        :meth:`report` with the result once the event's own lock is released.
        """
        strand = self.current()
        with self._mutex:
            if turns_on:
                self._waiters.pop(id(event), None)
                entry = self._parked.get(id(event))
                if entry is None:
                    self._parked[id(event)] = (event, strand.snapshot())
                else:
                    join_clock(entry[1], strand.clock)
                weakened: list[Weakening] = []
            else:
                weakened = self._weaken(event, strand)
        strand.tick()
        return weakened

    def report(self, weakened: Iterable[Weakening]) -> None:
        """Hand weakened waits to the listeners (the race model re-checks them)."""
        for weakening in weakened:
            for listener in list(self.listeners):
                listener(weakening)

    def _weaken(self, event: object, setter: LogicalThread) -> list[Weakening]:
        entry = self._parked.get(id(event))
        if entry is not None:
            met = meet_clock(entry[1], setter.clock)
            if met != entry[1]:
                self._parked[id(event)] = (event, met)
        weakened = []
        for waiter, since, join in self._waiters.get(id(event), []):
            if setter is waiter or setter.has_seen(waiter.tid, since) or waiter.joins is None:
                continue  # this set came after the wait returned: it released nobody
            met = meet_clock(join.clock, setter.clock)
            if met != join.clock:
                was, join.clock = join.clock, met
                waiter.pending = True
                weakened.append(Weakening(waiter, since, join, was))
        return weakened

    def event_waited(self, event: object) -> None:
        """Report that ``event.wait()`` returned True to the caller."""
        strand = self.current()
        with self._mutex:
            entry = self._parked.get(id(event))
            clock = None if entry is None else dict(entry[1])
        if clock is None:
            return
        if strand.joins is None:
            strand.joins = [_Join(0, strand.snapshot())]
        join = self._join(strand, clock)
        if join is None:  # out of memory for replay: judge with what it has
            return
        with self._mutex:
            self._waiters.setdefault(id(event), []).append((strand, join.epoch, join))

    def token(self, key: object) -> object:
        """A stable stand-in object for a hashable ``key`` (declared orderings by name)."""
        with self._mutex:
            return self._tokens.setdefault(key, object())

    def park(self, obj: object, clock: Mapping[int, int]) -> None:
        """Attach a finished strand's clock to ``obj`` (a future, an executor)."""
        with self._mutex:
            entry = self._parked.get(id(obj))
            if entry is None:
                self._parked[id(obj)] = (obj, dict(clock))
            else:
                join_clock(entry[1], clock)

    def parked(self, obj: object) -> Clock | None:
        with self._mutex:
            entry = self._parked.get(id(obj))
            return None if entry is None else dict(entry[1])

    def acquire_clock(self, clock: Mapping[int, int]) -> None:
        self._join(self.current(), clock)

    # -- locksets ------------------------------------------------------------------------

    def locked(self, key: object, strand: LogicalThread | None = None) -> LogicalThread:
        """Record that ``strand`` (default: the caller) now holds ``key``; returns it."""
        holder = self.current() if strand is None else strand
        holder.locks[key] = holder.locks.get(key, 0) + 1
        return holder

    def unlocked(
        self, key: object, holder: LogicalThread | None = None, *, fully: bool = False
    ) -> int:
        """Record one release of ``key`` by ``holder``; returns the count released."""
        strand = self.current() if holder is None else holder
        with self._mutex:
            count = strand.locks.get(key, 0)
            if count <= 1 or fully:
                strand.locks.pop(key, None)
                return count
            strand.locks[key] = count - 1
            return 1


class _Running:
    """The block of :meth:`Tracker.running`: ``strand`` is the caller's strand inside it."""

    __slots__ = ("_stack", "_strand", "_tracker")

    def __init__(self, tracker: Tracker, strand: LogicalThread) -> None:
        self._tracker = tracker
        self._strand = strand

    def __enter__(self) -> LogicalThread:
        tracker = self._tracker
        tracker.current()
        stack: list[LogicalThread] = tracker._local.stack
        stack.append(self._strand)
        self._stack = stack
        return self._strand

    def __exit__(self, *exc: object) -> None:
        self._stack.pop()


_ACTIVE: Tracker | None = None


def activate(tracker: Tracker) -> None:
    """Make ``tracker`` the one instrumented primitives and the declared API report to."""
    global _ACTIVE
    if _ACTIVE is not None and _ACTIVE is not tracker:
        raise RuntimeError(
            "pytest-ocirace: a race tracker is already active; deactivate() the previous "
            "test's tracker before activating another"
        )
    _ACTIVE = tracker


def deactivate() -> None:
    global _ACTIVE
    _ACTIVE = None


def active() -> Tracker | None:
    """The tracker of the running test, or None outside ocirace tests."""
    return _ACTIVE
