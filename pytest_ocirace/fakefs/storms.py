"""Polling storms: many threads polling one lock name, and the bounded wait that calms them.

Lock libraries poll: filelock's ``UnixFileLock``/``WindowsFileLock`` and portalocker try a
non-blocking file lock, ``SoftFileLock`` and ``lockfile``-style locks an exclusive create
(``O_CREAT|O_EXCL``) of the lock file, and on failure they sleep and try again. Each poll
is a few fake file operations under the simulation's one global lock (pyfakefs costs
about 1 ms each, a kernel microseconds), so 100 polling threads need more than all of it,
and the holder's own release waits in that queue: filelock's 100 threads x 100
acquisitions ran past pytest's 180 s timeout.

When :data:`STORM_THREADS` or more *other* threads failed such an attempt on one name
within :data:`STORM_WINDOW` seconds, a failed attempt therefore waits for the name's
release, outside the global lock, as if the scheduler had run the thread a little later:
longer the more pollers there are (:data:`STORM_PATIENCE_EACH` each, at most
:data:`STORM_PATIENCE` in all), so that the polls stay a small share of the global lock.
After the wait the attempt is made again and its answer is Windows' answer at that moment
(the lock granted, ``[Errno 17]``/``[Errno 13]``); if nothing was released in time, the
caller gets the failure it had. With fewer pollers (any test of one or two threads) a
failed attempt fails at once, as on Windows. Nothing here orders threads for the race
model: the simulation's scheduling is not the program's synchronisation.

:class:`Pollers` counts the pollers of a name (shared by the file-lock table and the
exclusive creates); :class:`NameWaits` parks exclusive creates until their name is removed
(the lock table parks lock attempts itself, until a range is released).
"""

from __future__ import annotations

import _thread
import collections
import errno
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_ocirace.fakefs.locking import LOCK, ClassPatches

if TYPE_CHECKING:
    from pytest_ocirace.fakefs.filesystem import WindowsFilesystem

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = [
    "STORM_PATIENCE",
    "STORM_PATIENCE_EACH",
    "STORM_THREADS",
    "STORM_WINDOW",
    "NameWaits",
    "Pollers",
    "exclusive_create",
    "install",
]

T = TypeVar("T")

#: A polling storm: this many *other* threads failed an attempt on one name within the
#: last STORM_WINDOW seconds; a failed attempt then waits for a release, up to
#: STORM_PATIENCE_EACH per poller and STORM_PATIENCE in all.
STORM_THREADS = 4
STORM_WINDOW = 10.0
STORM_PATIENCE_EACH = 0.05
STORM_PATIENCE = 5.0


class Pollers:
    """Which threads failed an attempt on which name lately (a leaf lock guards it)."""

    def __init__(self) -> None:
        self._mutex = _thread.allocate_lock()
        #: name -> thread -> its last failure, oldest first (a thread's entry is moved to
        #: the end when it fails again), so the threads of a storm are counted without a
        #: scan: a hundred pollers each asked on every attempt.
        self._polls: dict[str, dict[int, float]] = {}

    def patience(self, key: str, *, record: bool = True) -> float:
        """The calling thread failed an attempt on ``key``: how long it may wait (0: no storm).

        By name, not by file: ``WindowsFileLock`` deletes its lock file on every release,
        so each holder may lock a new file of the same name. ``record=False``: the thread
        is about to try again, it has not failed yet; 0 unless it failed on ``key`` lately.
        """
        now = time.monotonic()
        me = _thread.get_ident()
        with self._mutex:
            polls = self._polls.get(key)
            if record:
                if polls is None:
                    polls = self._polls[key] = {}
                polls.pop(me, None)
                polls[me] = now
            elif polls is None or now - polls.get(me, now - 2 * STORM_WINDOW) > STORM_WINDOW:
                return 0.0
            _forget_before(polls, now - STORM_WINDOW)
            others = len(polls) - (me in polls)
        if others < STORM_THREADS:
            return 0.0
        return min(STORM_PATIENCE_EACH * others, STORM_PATIENCE)


def _forget_before(polls: dict[int, float], oldest: float) -> None:
    """Drop the failures older than ``oldest`` (they are first: ``polls`` is in time order)."""
    while polls:
        thread = next(iter(polls))
        if polls[thread] >= oldest:
            return
        del polls[thread]


class _Ticket:
    """One parked exclusive create: woken when its name is removed, or at its deadline."""

    __slots__ = ("deadline", "key", "lock", "waits")

    def __init__(self, waits: NameWaits, key: str, deadline: float) -> None:
        self.waits = waits
        self.key = key
        self.deadline = deadline
        self.lock = _thread.allocate_lock()
        self.lock.acquire()

    def wait(self) -> bool:
        """Block (never under the global lock) until woken or the deadline; True if woken."""
        woken = self.lock.acquire(True, max(self.deadline - time.monotonic(), 0.0))
        # Woken as it gave up: it takes its turn (else nobody would, until the next removal).
        return woken or not self.waits.withdraw(self)


class NameWaits:
    """Exclusive creates parked until their name is removed, first come first woken.

    One waiter is woken per removal, not all of them: a lock file freed once can be made
    by one creator only, and a hundred woken creators would each cost a fake open under
    the global lock for nothing. A woken creator that loses to another thread fails again
    and, still in the storm, parks again within its patience.
    """

    def __init__(self) -> None:
        self._mutex = _thread.allocate_lock()
        self._parked: dict[str, collections.deque[_Ticket]] = {}
        self.pollers = Pollers()

    @property
    def waiting(self) -> bool:
        """Whether any create is parked (a removal then looks up its name's key)."""
        return bool(self._parked)

    def park(self, key: str, deadline: float) -> _Ticket:
        """Park the calling thread's create of ``key``; call with the global lock held.

        Parked before the global lock is let go, so a removal that follows cannot be
        missed; :meth:`_Ticket.wait` then blocks outside it.
        """
        ticket = _Ticket(self, key, deadline)
        with self._mutex:
            self._parked.setdefault(key, collections.deque()).append(ticket)
        return ticket

    def withdraw(self, ticket: _Ticket) -> bool:
        """Take ``ticket`` out of its queue; False if a removal already woke it."""
        with self._mutex:
            queue = self._parked.get(ticket.key)
            if queue is None or ticket not in queue:
                return False
            queue.remove(ticket)
            if not queue:
                del self._parked[ticket.key]
            return True

    def freed(self, key: str) -> None:
        """``key`` was removed (deleted, renamed away): wake its first parked create."""
        with self._mutex:
            queue = self._parked.get(key)
            if not queue:
                return
            ticket = queue.popleft()
            if not queue:
                del self._parked[key]
        ticket.lock.release()


def _lost_the_name(exc: OSError) -> bool:
    """An exclusive create's failures that mean "someone else has the name" (17 or 13)."""
    return exc.errno in (errno.EEXIST, errno.EACCES)


#: The running simulation's parked creates, while one runs (set and restored by install).
_ACTIVE: dict[str, NameWaits] = {}


def exclusive_create(sim: WindowsFilesystem, path: Any, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (an exclusive create of ``path``) under the global lock, storm-aware.

    A failed attempt in a polling storm parks until ``path`` is removed (within its
    patience) and is then made again; the last failure is raised when the patience ran
    out. Outside a storm, and for every other error, this is ``attempt()`` under the lock.
    """
    deadline: float | None = None
    while True:
        with LOCK:
            try:
                return attempt()
            except OSError as exc:
                waits = _ACTIVE.get("waits")
                if waits is None or not _lost_the_name(exc):
                    raise
                key = sim.key(path)
                now = time.monotonic()
                if deadline is None:
                    patience = waits.pollers.patience(key)
                    if not patience:
                        raise
                    deadline = now + patience
                elif now >= deadline:
                    raise
                ticket = waits.park(key, deadline)
                failure = exc
        if not ticket.wait():
            raise failure


def _freeing(waits: NameWaits, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` (a removal of the simulation), then the name it freed woken."""

    def method(self: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, path, *args, **kwargs)
        if waits.waiting:
            waits.freed(self.key(path))
        return result

    method.__name__ = getattr(original, "__name__", "method")
    method.__doc__ = getattr(original, "__doc__", None)
    return method


def install(patches: ClassPatches, sim: WindowsFilesystem) -> NameWaits:
    """Park storming exclusive creates of ``sim`` for as long as ``patches`` are applied.

    The simulation's removals (``remove``, ``rename`` of the source, ``remove_directory``)
    wake the creates parked on the name they freed; they run under the global lock, as
    the parking does.
    """
    waits = NameWaits()
    cls = type(sim)
    for name in ("remove", "rename", "remove_directory"):
        patches.set(cls, name, _freeing(waits, getattr(cls, name)))
    patches.set_item(_ACTIVE, "waits", waits)
    return waits
