"""File locks on fake files: they exclude as Windows' byte-range locks do, and are locksets.

pyfakefs' ``fcntl`` is a no-op, so inside the simulation every ``fcntl.flock``/``lockf``
succeeded at once: threads that a file lock really serialises ran together (and were
reported as racing by the hundred thousand), and a test expecting ``filelock.Timeout``
never got one. This module gives the fake files real locks, with Windows' rules:

- **Locks belong to the handle**, as ``LockFileEx``/``msvcrt.locking`` locks do: two
  handles on one file exclude each other even in one process (where POSIX ``lockf`` would
  let one process take the same lock twice). A ``dup`` of a descriptor shares its handle's
  locks; closing the last descriptor of a handle releases them.
- Every lock is a byte range; ``flock`` locks the whole file. Shared locks coexist with
  shared locks of other handles, exclusive ones with nothing that overlaps.
- A **non-blocking** attempt fails at once with what the calling API raises:
  ``BlockingIOError`` (``EAGAIN``) for ``fcntl.flock``/``lockf``, ``PermissionError``
  ``[Errno 13]`` for ``msvcrt.locking(LK_NBLCK)``. A **blocking** attempt blocks the calling
  thread until the range is free (``msvcrt.locking(LK_LOCK)`` gives up after ten seconds
  with ``[Errno 36] Resource deadlock avoided``, as the C runtime does). The wait happens
  outside the simulation's global lock, which would otherwise stop every other thread's
  file operation, including the one that would release the lock.

For the race model a held file lock is a *lockset* entry, like a ``threading.Lock``
(``sync.py`` explains why locks are locksets, not ordering edges): operations of two
threads that both hold a lock on the same file are protected from each other. A shared
lock counts like an exclusive one (readers that write under a shared lock are not
reported). The locked file's own name is a *lock file*: every holder opens it for writing
before it can lock it, so the race observer is told (:class:`LockFileObserver`) and
stops calling those opens shared writers.

Not modelled: Windows' byte-range locks are mandatory (a read or write of a locked range
through another handle fails with ``[WinError 33]``); here they are advisory, as on POSIX.
``fcntl.fcntl(F_SETLK/F_SETLKW/F_GETLK)`` keeps pyfakefs' no-op.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import errno
import sys
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from pyfakefs.fake_file import FakeFileWrapper
from pyfakefs.helpers import BinaryBufferIO

from pytest_ocirace.fakefs import storms
from pytest_ocirace.fakefs.descriptors import fcntl_routes, owned, real_fcntl
from pytest_ocirace.fakefs.locking import LOCK, ClassPatches
from pytest_ocirace.racemodel import clocks

if TYPE_CHECKING:
    from pytest_ocirace.fakefs.filesystem import WindowsFilesystem

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = [
    "LK_LOCK",
    "LK_NBLCK",
    "LK_NBRLCK",
    "LK_RLCK",
    "LK_UNLCK",
    "LockFileObserver",
    "LockTable",
    "active_msvcrt_locking",
    "handle_position",
    "install",
    "storming",
    "wait_before_open",
]


#: ``msvcrt``'s locking modes (the same numbers on every Windows CPython).
LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4
#: How long ``msvcrt.locking(LK_LOCK)`` tries: the C runtime makes ten attempts a second apart.
MSVCRT_PATIENCE = 10.0
#: Windows' ``EDEADLOCK`` (``errno.EDEADLK`` there), which ``msvcrt.locking`` gives up with.
_WIN_EDEADLOCK = 36
#: Beyond any offset: a range with this end runs to the end of every file.
_INFINITY = 1 << 64
#: ``fcntl``'s operation bits (the Linux values when fcntl is missing).
LOCK_SH = getattr(real_fcntl(), "LOCK_SH", 1)
LOCK_EX = getattr(real_fcntl(), "LOCK_EX", 2)
LOCK_NB = getattr(real_fcntl(), "LOCK_NB", 4)
LOCK_UN = getattr(real_fcntl(), "LOCK_UN", 8)


@runtime_checkable
class LockFileObserver(Protocol):
    """An observer that wants to know which names are used as lock files."""

    def file_locked(self, key: str) -> None:
        """``key`` (a normalised name) was locked through a file lock in this test."""


class _Held:
    """The ranges one handle holds on one file, and who holds them for the race model."""

    __slots__ = ("file", "holder", "key", "ranges", "thread", "tracker")

    def __init__(self, file: object, key: str) -> None:
        self.file = file
        self.key = key
        self.thread = _thread.get_ident()  # the thread that took the first range
        self.ranges: list[tuple[int, int, bool]] = []  # (start, end, exclusive)
        self.holder: clocks.LogicalThread | None = None
        self.tracker: clocks.Tracker | None = None


class LockTable:
    """Byte-range locks of one simulation, keyed by the handle (owner) that holds them.

    Its mutex is a leaf: nothing is called under it that could block or take another lock
    the caller might hold, so waiting for a range never holds anything. It is reentrant
    because an allocation under it may run the garbage collector, whose ``__del__`` may
    release a lock (filelock's ``BaseFileLock.__del__``) on this same thread; a waiter is
    allocated before the conflict check so that such a release cannot be a lost wake-up.
    """

    def __init__(self, on_locked: Callable[[str], None] | None = None) -> None:
        self._mutex = _thread.RLock()
        self._held: dict[int, _Held] = {}  # id(owner) -> its locks
        self._owners: dict[int, object] = {}  # id(owner) -> owner (kept alive while locked)
        self._waiters: list[Any] = []  # blocking attempts: all of them re-check on a release
        #: Attempts parked by a polling storm, per name: only the first re-checks on a
        #: release (``_wake``).
        self._storming: dict[str, collections.deque[Any]] = {}
        #: Storm pollers seen opening the name again after a failed attempt (per name): they
        #: wait before the open (``wait_before_open``), not with the file open.
        self._reopening: dict[str, set[int]] = {}
        self._on_locked = on_locked
        self._pollers = storms.Pollers()

    # -- queries ---------------------------------------------------------------------------

    def holds(self, owner: object) -> bool:
        """Whether ``owner`` holds any lock."""
        return id(owner) in self._held

    @property
    def storming(self) -> bool:
        """Whether threads lately polled some name in a storm (``wait_before_open`` may wait)."""
        return bool(self._storming)

    def wait_before_open(self, key: str) -> None:
        """Before a storm poller of ``key`` opens it again, wait while another thread holds it.

        A poller (filelock's ``WindowsFileLock`` and ``UnixFileLock``, portalocker) opens
        the lock file, fails its non-blocking lock, closes and sleeps. Parked in the storm
        with the file open, each poller's handle costs every later operation on the file
        (pyfakefs syncs all handles of a file on each ``tell``), refuses the holder's
        delete of the lock file (``[WinError 32]``, where on Windows a poller holds it
        open only for an instant) and races with it. So a storm poller of a name that
        another thread holds waits before its open instead, as a thread the scheduler runs
        a little later would: until the next release, at most its storm patience. The
        holder itself, and a thread that polls no storm, never waits here.
        """
        me = _thread.get_ident()
        with self._mutex:
            patience = self._pollers.patience(key, record=False)
            if not patience:
                return
            self._reopening.setdefault(key, set()).add(me)
            if not any(held.key == key and held.thread != me for held in self._held.values()):
                return
            waiter = _thread.allocate_lock()
            waiter.acquire()
            parked = self._storming.setdefault(key, collections.deque())
            parked.append(waiter)
        if not waiter.acquire(True, patience):
            with self._mutex:
                if waiter in parked:
                    parked.remove(waiter)

    def _conflict(
        self, owner: object, file: object, start: int, end: int, exclusive: bool, stack: bool
    ) -> bool:
        # Over a snapshot of the keys: an allocation below may run a ``__del__`` that
        # releases another owner's lock on this thread (the mutex is reentrant).
        for owner_id in list(self._held):
            held = self._held.get(owner_id)
            if held is None or held.file is not file:
                continue
            mine = owner_id == id(owner)
            if mine and stack:
                continue  # POSIX: one's own lock is converted, never in the way
            for r_start, r_end, r_exclusive in held.ranges:
                if r_start < end and start < r_end and (mine or exclusive or r_exclusive):
                    return True
        return False

    # -- changes ---------------------------------------------------------------------------

    def acquire(
        self,
        owner: object,
        file: object,
        key: str,
        start: int,
        end: int,
        *,
        exclusive: bool,
        blocking: bool,
        timeout: float | None = None,
        convert: bool = True,
    ) -> bool:
        """Lock ``[start, end)`` of ``file`` for ``owner``; False if it could not in time.

        ``convert``: POSIX rules for the owner's own locks (a new lock replaces what it held
        over the range); without it, Windows' (an overlapping lock of one's own conflicts).
        Must not be called with the simulation's global lock held if it may block.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        parked: list[Any] | collections.deque[Any] = self._waiters
        while True:
            waiter = _thread.allocate_lock()
            waiter.acquire()
            with self._mutex:
                if not self._conflict(owner, file, start, end, exclusive, convert):
                    first = self._add(owner, file, key, start, end, exclusive)
                    break
                if not blocking and deadline is None:
                    # In a polling storm, wait a little for a release (``storms.py``), unless
                    # the poller reopens the file for each attempt: it waits before the open.
                    patience = self._pollers.patience(key)
                    if patience and _thread.get_ident() in self._reopening.get(key, ()):
                        return False
                    if patience:
                        blocking, deadline = True, time.monotonic() + patience
                        parked = self._storming.setdefault(key, collections.deque())
                if not blocking or (deadline is not None and time.monotonic() >= deadline):
                    return False
                parked.append(waiter)
            if deadline is None:
                waiter.acquire()
            elif not waiter.acquire(True, max(deadline - time.monotonic(), 0.0)):
                with self._mutex:
                    if waiter in parked:  # else a release woke it as it gave up: re-check
                        parked.remove(waiter)
        if first:
            self._now_holding(owner, key)
        return True

    def _add(
        self, owner: object, file: object, key: str, start: int, end: int, exclusive: bool
    ) -> bool:
        held = self._held.get(id(owner))
        first = held is None
        if held is None:
            held = self._held[id(owner)] = _Held(file, key)
            self._owners[id(owner)] = owner
        held.ranges = _subtract(held.ranges, start, end)
        held.ranges.append((start, end, exclusive))
        return first

    def _now_holding(self, owner: object, key: str) -> None:
        tracker = clocks.active()
        held = self._held.get(id(owner))
        if tracker is not None and held is not None and held.holder is None:
            held.tracker = tracker
            held.holder = tracker.locked(("file-lock", key))
        if self._on_locked is not None:
            self._on_locked(key)

    def release(self, owner: object, start: int, end: int, *, exact: bool = False) -> bool:
        """Unlock ``[start, end)`` held by ``owner``; False if ``exact`` and no such lock.

        ``exact``: Windows' rule (``UnlockFile`` needs a range exactly as it was locked);
        otherwise POSIX's (whatever part of the range is held is released, nothing is fine).
        """
        with self._mutex:
            held = self._held.get(id(owner))
            if held is None:
                return not exact
            if exact:
                matches = [r for r in held.ranges if r[0] == start and r[1] == end]
                if not matches:
                    return False
                held.ranges.remove(matches[0])
            else:
                held.ranges = _subtract(held.ranges, start, end)
            if held.ranges:
                self._wake(held.key)
                return True
            self._drop(owner)
        self._released(held)
        return True

    def release_owner(self, owner: object) -> None:
        """Its handle closed: every lock it held goes (as Windows releases them)."""
        with self._mutex:
            held = self._held.get(id(owner))
            if held is None:
                return
            self._drop(owner)
        self._released(held)

    def _drop(self, owner: object) -> None:
        held = self._held.pop(id(owner))
        del self._owners[id(owner)]
        self._wake(held.key)

    def _wake(self, key: str) -> None:
        """A range of ``key`` was released: blocking attempts and one parked poller re-check.

        Only the first parked poller of the name, not all of them: a hundred woken pollers
        would each re-check for a lock only one of them can take. A woken poller that
        finds the range taken again parks again; the taker's release wakes the next.
        """
        for waiter in self._waiters:
            with contextlib.suppress(RuntimeError):
                waiter.release()
        self._waiters.clear()
        storming = self._storming.get(key)  # kept when empty: one per lock name
        if storming:
            with contextlib.suppress(RuntimeError):
                storming.popleft().release()

    @staticmethod
    def _released(held: _Held) -> None:
        if held.tracker is not None and held.holder is not None:
            held.tracker.unlocked(("file-lock", held.key), held.holder, fully=True)


def _subtract(
    ranges: list[tuple[int, int, bool]], start: int, end: int
) -> list[tuple[int, int, bool]]:
    """``ranges`` without ``[start, end)`` (a range cut in the middle becomes two)."""
    kept: list[tuple[int, int, bool]] = []
    for r_start, r_end, r_exclusive in ranges:
        if r_end <= start or end <= r_start:
            kept.append((r_start, r_end, r_exclusive))
            continue
        if r_start < start:
            kept.append((r_start, start, r_exclusive))
        if end < r_end:
            kept.append((end, r_end, r_exclusive))
    return kept


# -- the calls user code makes ------------------------------------------------------------


def _fileno(fd: Any) -> int:
    if isinstance(fd, int):
        return fd
    fileno = getattr(fd, "fileno", None)
    if fileno is None:
        raise TypeError("argument must be an int, or have a fileno() method.")  # CPython's message
    return int(fileno())


class _Target:
    """What a lock call on a fake descriptor is about: its handle (owner), file and name."""

    __slots__ = ("file", "key", "owner")

    def __init__(self, owner: Any, file: object, key: str) -> None:
        self.owner = owner
        self.file = file
        self.key = key

    @property
    def position(self) -> int:
        """The handle's current offset (``lockf`` with ``SEEK_CUR``, ``msvcrt.locking``)."""
        with LOCK:
            return handle_position(self.owner)

    @property
    def size(self) -> int:
        """The file's size (``lockf`` with ``SEEK_END``)."""
        with LOCK:
            return int(getattr(self.file, "size", 0) or 0)


def handle_position(wrapper: Any) -> int:
    """A fake handle's offset, as ``tell()`` answers it, without ``tell()``'s flush.

    pyfakefs' ``tell()`` flushes the handle, and a flush syncs every other handle of the
    file (a scan of the whole descriptor table, each handle through pyfakefs' Python-level
    ``__getattribute__``): with a hundred pollers holding the lock file open, most of an
    ``msvcrt.locking`` call. The C runtime's ``_locking`` asks the OS handle's position
    and flushes nothing. For a binary handle that is not in append mode the offset is its
    stream's, which a flush never moves; in append mode it is the read position pyfakefs
    keeps beside the stream (unless a relative seek is pending), which a flush never
    moves either; any other handle (text, a stream) gets ``tell()`` as before. A closed
    handle answers 0, as before.
    """
    fields = _fields(wrapper)
    stream = fields.get("_io") if fields is not None else None
    if (
        stream is not None
        and stream.__class__ is BinaryBufferIO
        and not fields["is_stream"]  # type: ignore[index]
        and _is_open(wrapper, fields)  # type: ignore[arg-type]
    ):
        if not fields["open_modes"].append:  # type: ignore[index]
            return int(stream.tell())
        # Append mode: pyfakefs answers its read position, which its flush never moves
        # (CPython's buffered classes ask it twice at every open(..., "a"): a lock file's).
        if fields.get("_read_whence") == 0 and fields.get("_read_seek").__class__ is int:  # type: ignore[union-attr]
            return int(fields["_read_seek"])  # type: ignore[index]
    try:
        return int(wrapper.tell())
    except (OSError, ValueError, AttributeError):
        return 0


def _fields(wrapper: Any) -> dict[str, Any] | None:
    """A pyfakefs file wrapper's instance attributes, read past its ``__getattribute__``."""
    if not isinstance(wrapper, FakeFileWrapper):
        return None
    fields: dict[str, Any] = object.__getattribute__(wrapper, "__dict__")
    if "_io" not in fields or "is_stream" not in fields or "open_modes" not in fields:
        return None
    return fields


def _is_open(wrapper: Any, fields: dict[str, Any]) -> bool:
    """As ``FakeFileWrapper._is_open`` answers: the wrapper is in its descriptor's slot."""
    filedes = fields.get("filedes")
    reference = fields.get("_filesystem")
    filesystem = reference() if reference is not None else None
    if filedes is None or filesystem is None:
        return False
    files = filesystem.open_files
    if not 0 <= filedes < len(files):
        return False
    slot = files[filedes]
    return slot is not None and any(entry is wrapper for entry in slot)


def _target(sim: WindowsFilesystem, fd: int) -> _Target | None:
    """The fake handle behind ``fd``, or None if the descriptor is not a fake file's."""
    with LOCK:
        fs = sim.fs
        if not owned(fs, fd):
            return None
        slot: Any = fs.open_files[fd]
        wrapper = slot[0]
        handle = sim.handles.get(fd)
        file = handle.file if handle is not None else wrapper.get_object()
        key = handle.key if handle is not None else sim.key(str(getattr(file, "path", fd)))
        return _Target(wrapper, file, key)


def _would_block() -> BlockingIOError:
    return BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")


def _invalid() -> OSError:
    return OSError(errno.EINVAL, "Invalid argument")


class _Locks:
    """The patched entry points of one simulation, sharing its lock table."""

    def __init__(self, sim: WindowsFilesystem, table: LockTable) -> None:
        self.sim = sim
        self.table = table

    def flock(self, fd: int, operation: int) -> None:
        target = _target(self.sim, fd)
        if target is None:
            _real_call("flock", fd, operation)
            return
        self._posix_lock(target, operation, 0, _INFINITY)

    def lockf(self, fd: int, cmd: int, length: int = 0, start: int = 0, whence: int = 0) -> None:
        target = _target(self.sim, fd)
        if target is None:
            _real_call("lockf", fd, cmd, length, start, whence)
            return
        if whence not in (0, 1, 2):
            raise _invalid()
        base = 0 if whence == 0 else target.position if whence == 1 else target.size
        first = base + start
        if length > 0:
            begin, end = first, first + length
        elif length < 0:
            begin, end = first + length, first
        else:
            begin, end = first, _INFINITY
        if begin < 0:
            raise _invalid()
        self._posix_lock(target, cmd, begin, end)

    def _posix_lock(self, target: _Target, operation: int, begin: int, end: int) -> None:
        """``flock``/``lockf``'s common half: LOCK_UN, LOCK_SH or LOCK_EX (| LOCK_NB) a range."""
        mode = operation & ~LOCK_NB
        if mode == LOCK_UN:
            self.table.release(target.owner, begin, end)
            return
        if mode not in (LOCK_SH, LOCK_EX):
            raise _invalid()
        got = self.table.acquire(
            target.owner,
            target.file,
            target.key,
            begin,
            end,
            exclusive=mode == LOCK_EX,
            blocking=not operation & LOCK_NB,
        )
        if not got:
            raise _would_block()

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        """``msvcrt.locking``: ``nbytes`` from the current position, Windows' own rules."""
        target = _target(self.sim, fd)
        if target is None:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if nbytes < 0:
            raise OSError(errno.EINVAL, "Invalid argument")
        position = target.position
        begin, end = position, position + nbytes
        if mode == LK_UNLCK:
            if not self.table.release(target.owner, begin, end, exact=True):
                raise PermissionError(errno.EACCES, "Permission denied")
            return
        if mode not in (LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK):
            raise OSError(errno.EINVAL, "Invalid argument")
        blocking = mode in (LK_LOCK, LK_RLCK)
        got = self.table.acquire(
            target.owner,
            target.file,
            target.key,
            begin,
            end,
            exclusive=True,  # _locking has no shared locks: LK_RLCK is LK_LOCK
            blocking=blocking,
            timeout=MSVCRT_PATIENCE if blocking else None,
            convert=False,
        )
        if not got:
            if blocking:
                raise OSError(_WIN_EDEADLOCK, "Resource deadlock avoided")
            raise PermissionError(errno.EACCES, "Permission denied")


def _real_call(name: str, *args: Any) -> Any:
    """The real ``fcntl`` function for a real descriptor (a pipe, a socket, a real file)."""
    module = real_fcntl()
    if module is None:  # pragma: no cover - Windows
        raise OSError(errno.EBADF, "Bad file descriptor")
    return getattr(module, name)(*args)


def _fcntl_methods(locks: _Locks) -> dict[str, Callable[..., Any]]:
    """The fake ``fcntl`` module's functions: locks on fake files, the real OS for the rest.

    ``fcntl``/``ioctl`` on a fake file keep pyfakefs' no-op answer.
    """

    def flock(self: Any, fd: Any, operation: int) -> None:
        locks.flock(_fileno(fd), operation)

    def lockf(self: Any, fd: Any, cmd: int, len: int = 0, start: int = 0, whence: int = 0) -> None:
        locks.lockf(_fileno(fd), cmd, len, start, whence)

    def passthrough(name: str) -> Callable[..., Any]:
        def method(self: Any, fd: Any, *args: Any) -> Any:
            number = _fileno(fd)
            # A real descriptor (O_NONBLOCK on a pipe, a terminal's size): the real call.
            if not owned(locks.sim.fs, number):
                return _real_call(name, number, *args)
            arg = args[1] if len(args) > 1 else 0
            return 0 if isinstance(arg, int) else arg  # pyfakefs' answer for fake files

        method.__name__ = name
        return method

    return {
        "flock": flock,
        "lockf": lockf,
        "fcntl": passthrough("fcntl"),
        "ioctl": passthrough("ioctl"),
    }


def msvcrt_module(locks: _Locks) -> types.ModuleType:
    """A stand-in ``msvcrt`` with ``locking`` and its constants, for Windows branches."""
    module = types.ModuleType("msvcrt", "pytest-ocirace's msvcrt: file locking only.")
    module.locking = locks.locking  # type: ignore[attr-defined]
    for name, value in (
        ("LK_UNLCK", LK_UNLCK),
        ("LK_LOCK", LK_LOCK),
        ("LK_NBLCK", LK_NBLCK),
        ("LK_RLCK", LK_RLCK),
        ("LK_NBRLCK", LK_NBRLCK),
    ):
        setattr(module, name, value)
    module.__ocirace_stand_in__ = True  # type: ignore[attr-defined]
    return module


#: The running simulation's lock model, while one runs (set and restored by :func:`install`).
_ACTIVE: dict[str, _Locks] = {}


def storming() -> bool:
    """Whether the running simulation had a polling storm on a file lock (cheap: per open)."""
    locks = _ACTIVE.get("locks")
    return locks is not None and locks.table.storming


def wait_before_open(sim: WindowsFilesystem, path: Any) -> None:
    """Called before an open of ``path`` (outside the global lock): see ``LockTable``'s."""
    locks = _ACTIVE.get("locks")
    if locks is not None and locks.sim is sim and locks.table.storming:
        try:
            key = sim.key(path)
        except (TypeError, ValueError):
            return  # not a name (the open itself will say why)
        locks.table.wait_before_open(key)


def active_msvcrt_locking() -> Callable[[int, int, int], None] | None:
    """``msvcrt.locking`` of the simulation running now, or None outside one.

    The declared seam for other stand-ins of ``msvcrt`` (the Windows import of
    ``windows_import_modules`` builds its own module once per process): their ``locking``
    asks this, so every copy of ``msvcrt`` locks through the one lock table of the test.
    """
    locks = _ACTIVE.get("locks")
    return None if locks is None else locks.locking


#: Observer class -> whether it is a :class:`LockFileObserver` (asked once per class).
_LOCK_OBSERVERS: dict[type, bool] = {}


def _observes_lock_files(observer_type: type) -> bool:
    """Whether observers of this class are :class:`LockFileObserver`s.

    ``isinstance`` against a runtime-checkable protocol looks up every member each time:
    about a tenth of an uncontended lock acquisition's own cost here.
    """
    known = _LOCK_OBSERVERS.get(observer_type)
    if known is None:
        known = _LOCK_OBSERVERS[observer_type] = callable(
            getattr(observer_type, "file_locked", None)
        )
    return known


def _close_hook(table: LockTable, original: Callable[..., Any]) -> Callable[[Any, int], None]:
    def close_open_file(fs: Any, file_des: int) -> None:
        with LOCK:
            files = fs.open_files
            wrappers = files[file_des] if 0 <= file_des < len(files) else None
            owner = wrappers[0] if wrappers else None
            original(fs, file_des)
            if owner is None or not table.holds(owner):
                return
            if any(slot and slot[0] is owner for slot in files):
                return  # a dup of the descriptor still holds the handle
        table.release_owner(owner)

    return close_open_file


def install(patches: ClassPatches, sim: WindowsFilesystem) -> LockTable:
    """Give ``sim``'s fake files real locks, for as long as ``patches`` are applied."""

    def on_locked(key: str) -> None:
        observer: object = sim.observer
        if observer is not None and _observes_lock_files(type(observer)):
            cast(LockFileObserver, observer).file_locked(key)

    table = LockTable(on_locked)
    locks = _Locks(sim, table)
    patches.set_item(fcntl_routes(), id(sim.fs), _fcntl_methods(locks))
    fs_class = type(sim.fs)
    patches.set(fs_class, "close_open_file", _close_hook(table, fs_class.close_open_file))
    patches.set_item(_ACTIVE, "locks", locks)
    if "msvcrt" not in sys.modules and sim.options.windows_platform_modules:
        # Windows branches (of the modules the user named) import msvcrt when they lock.
        patches.set_item(sys.modules, "msvcrt", msvcrt_module(locks))
    return table
