"""Threads a simulated test left running: stopped with its simulation, never waited for at exit.

A thread a test started belongs to that test's simulation. Left running after it (the test
timed out, or returned without joining), it would go on with the real ``os`` once pyfakefs
stops or pauses: files named like ``C:/tmp/...`` (with backslashes) in the real working
directory, a late ``os.close`` of a fake descriptor number that the kernel has since given
to pytest's capture file (filelock's 100 polling threads after a timeout: every later test
errored with ``[Errno 9] Bad file descriptor``), or, in the next simulated test, operations
on a filesystem where its files do not exist, failing that test. So at the end of each
simulated test, before its race model and its simulation are taken down (and before a
failed test's report pauses pyfakefs), :meth:`LeftoverThreads.stop` raises
:class:`SimulationEnded` in each such thread that runs Python code (CPython's
``PyThreadState_SetAsyncExc``), and waits for them, a few seconds at most. A thread blocked
in C (an idle pool worker, a lock nobody will release) cannot take an exception; its pending
one is withdrawn, so that it does not die in the middle of a later test's work.

Under the simulation a thread can die of a Windows error its partner then waits for
forever: zict's deleter dies of ``[WinError 32]`` and its reader spins; a filelock worker
dies holding the lock file another polls. The test ends (failed, or by pytest-timeout), but
the surviving non-daemon thread keeps running, and the interpreter waits for it at exit:
the session printed its summary and hung. This module remembers the threads each simulated
test left behind, names the ones still running at the end of the session, and releases them
from the interpreter's exit join (and from ``concurrent.futures``' own, for pool workers).

Releasing uses CPython's shutdown bookkeeping: up to 3.12 a non-daemon thread's state lock
is in ``threading._shutdown_locks`` and is dropped from it (the thread becomes a daemon);
from 3.13 on, that list lives in C, and a ``threading._register_atexit`` callback (run
before the join) runs the ``atexit`` handlers and ends the process with the session's exit
status: those are the threads blocked in C that :meth:`LeftoverThreads.stop` could not end.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Leftover",
    "LeftoverThreads",
    "SimulationEnded",
    "ended_by_simulation",
    "quiet_excepthook",
]


class SimulationEnded(BaseException):
    """Raised in a thread its simulated test left running, when that test's simulation ends.

    A ``BaseException``, as ``SystemExit`` is: the retry loops of lock and cache libraries
    catch ``Exception`` (or ``OSError``) and would poll on.
    """


_MACHINERY = ("pytest_ocirace", "pyfakefs", "_pytest", "pluggy", "threading.py")


@dataclass(frozen=True)
class Leftover:
    """A thread a test started that outlived it."""

    thread: threading.Thread
    nodeid: str

    def describe(self) -> str:
        where = _where(self.thread)
        return f"{self.thread.name!r} started by {self.nodeid}" + (f", at {where}" if where else "")


def _where(thread: threading.Thread) -> str | None:
    """The innermost frame of ``thread`` outside the machinery, as ``file:line in function``."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(part in filename for part in _MACHINERY):
            return f"{os.path.basename(filename)}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return None


class LeftoverThreads:
    """Per session: what each simulated test left running, and the release at the end."""

    #: The last session's exit status (the 3.13+ release exits the process with it).
    exit_status: int = 0

    def __init__(self) -> None:
        self._left: list[Leftover] = []
        self._stopped: list[Leftover] = []
        self._condemned: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        self._pending = False  # a stopped thread may still die later

    def quiet_later_deaths(self) -> None:
        """Filter ``threading.excepthook`` for the session once a stopped thread lives on.

        Called between tests (no race model's hook in place), so that the filter lies
        under every later test's hook and over pytest's, which pytest puts back at the
        end of the session. Nothing is changed while every stopped thread has ended.
        """
        if self._pending and not getattr(threading.excepthook, "__ocirace_quiet__", False):
            threading.excepthook = quiet_excepthook(threading.excepthook)

    def snapshot(self) -> frozenset[threading.Thread]:
        """Threads alive before a test (taken when it starts)."""
        return frozenset(threading.enumerate())

    def record(self, before: frozenset[threading.Thread], nodeid: str) -> None:
        """Remember non-daemon threads started since ``before`` that are still alive."""
        new = [t for t in threading.enumerate() if t not in before and not t.daemon]
        self._left.extend(Leftover(thread, nodeid) for thread in _running(new))

    def stop(
        self, before: frozenset[threading.Thread], nodeid: str, *, failed: bool = False
    ) -> list[Leftover]:
        """Stop the threads started since ``before`` that still run Python code.

        Returns the ones stopped (remembered for the summary). Waits at least
        :data:`STOP_SETTLE` seconds (a poller's sleep ends and it takes the exception) and
        at most :data:`STOP_DEADLINE`; the exception is raised again every
        :data:`STOP_REPEAT` seconds in a thread that swallowed it.
        """
        started = _running([t for t in threading.enumerate() if t not in before and t.ident])
        if not started:
            return []
        if failed:
            self._condemned.update(started)  # a later stop never withdraws theirs
        stopped = _stop_threads(started, keep=self._condemned)
        self._pending = self._pending or bool(_running(started))
        found = [Leftover(thread, nodeid) for thread in stopped]
        self._stopped.extend(found)
        return found

    def running(self) -> list[Leftover]:
        alive = set(_running([left.thread for left in self._left]))
        return [left for left in self._left if left.thread in alive]

    def summary_lines(self) -> list[str]:
        lines: list[str] = []
        if self._stopped:
            tests = dict.fromkeys(left.nodeid for left in self._stopped)
            lines.append(
                f"{len(self._stopped)} thread(s) outlived their simulated test and were "
                f"stopped when its simulation ended ({SimulationEnded.__name__}), in: "
                + ", ".join(tests)
            )
        running = self.running()
        if running:
            lines += [
                f"{len(running)} thread(s) started by simulated tests were still running at "
                "the end of the session; pytest-ocirace does not wait for them at exit:",
                *(f"  {left.describe()}" for left in running),
            ]
        return lines

    def release(self) -> None:
        """Let the interpreter exit without joining the threads still running."""
        running = [left.thread for left in self.running()]
        self._left.clear()
        if not running:
            return
        _forget_pool_workers(running)
        locks = getattr(threading, "_shutdown_locks", None)
        guard = getattr(threading, "_shutdown_locks_lock", None)
        if locks is not None and guard is not None:  # CPython 3.10-3.12
            with guard:
                for thread in running:
                    locks.discard(getattr(thread, "_tstate_lock", None))
                    thread._daemonic = True  # type: ignore[attr-defined]
            return
        register = getattr(threading, "_register_atexit", None)  # pragma: no cover - 3.13+
        if register is not None:  # pragma: no cover - 3.13+
            if not _RELEASED:
                register(_exit_without_joining)
            _RELEASED.extend(running)


def _running(threads: Iterable[threading.Thread]) -> list[threading.Thread]:
    """Those of ``threads`` that still run: alive, or still in ``threading``'s table of threads.

    ``is_alive()`` alone is not enough. Before CPython 3.13, a ``join()`` that an exception
    interrupts marks the thread stopped although it runs on (CPython gh-90882, the
    bpo-45274 fix): pytest-timeout's signal arrives while a test's ``with
    ThreadPoolExecutor()`` waits in ``shutdown()`` for a worker that spins. zict 3.0.0's
    ``test_stress_same_key_threadsafe`` left such a reader spinning, never stopped because
    it looked dead; competing for the interpreter lock, it made every later test of the
    session slower (its ``test_sieve.py``: 6.5 s alone, 28 s after it) and timed one out.
    A thread leaves the table only when it has really finished. The table is read once per
    call: the stop loop asks about up to a hundred threads (filelock's) every 20 ms.
    """
    table = set(threading.enumerate())
    return [t for t in threads if t.is_alive() or (t.ident is not None and t in table)]


#: Seconds :meth:`LeftoverThreads.stop` waits at least, at most, and between two raises.
STOP_SETTLE = 0.2
STOP_DEADLINE = 10.0
STOP_REPEAT = 0.5

#: Innermost frames of a thread that waits in C for something (a lock, a queue, a
#: selector): an exception raised there is only seen when the wait ends.
_WAITING_IN = (
    "threading.py",
    "queue.py",
    "selectors.py",
    "socket.py",
    os.path.join("concurrent", "futures", "thread.py"),
    os.path.join("pytest_ocirace", "racemodel", "sync.py"),
)


def _waiting(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident or -1)
    return frame is not None and frame.f_code.co_filename.endswith(_WAITING_IN)


def _idle_pool_worker(thread: threading.Thread) -> bool:
    """Whether ``thread`` is a ``ThreadPoolExecutor`` worker waiting for its next item.

    Such a worker is never left to die when it wakes, even for a failed test: what wakes
    it is either later work or the pool's shutdown, whose single ``None`` each worker
    passes on to the next before it exits. A worker that died of a pending exception on
    taking that ``None`` left its siblings waiting for ever, and ``shutdown(wait=True)``
    with them: a failed asyncio test (the default executor is shut down when its loop
    closes) hung the session (persist-queue 1.1.0's suite, at its first failure).
    """
    frame = sys._current_frames().get(thread.ident or -1)
    module = sys.modules.get("concurrent.futures.thread")
    worker = getattr(module, "_worker", None)
    return frame is not None and worker is not None and frame.f_code is worker.__code__


def _raise_in(threads: Iterable[threading.Thread], exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in each thread at its next bytecode (``None`` withdraws a pending one)."""
    import ctypes

    set_async = ctypes.pythonapi.PyThreadState_SetAsyncExc
    for thread in threads:
        if thread.ident is not None:
            set_async(ctypes.c_ulong(thread.ident), ctypes.py_object(exc) if exc else None)


def _stop_threads(
    threads: list[threading.Thread], *, keep: Iterable[threading.Thread] = ()
) -> list[threading.Thread]:
    """Raise :class:`SimulationEnded` in ``threads``; those that ended meanwhile.

    ``keep``: threads of a failed test, none of which has work left (portalocker's fork
    test left a thread parked in ``gate.wait(timeout=10)``; woken during a later test it
    ran on there): their pending exception stays, to fire whenever the thread wakes.
    """
    kept = set(keep)
    previous = threading.excepthook
    ended: list[threading.Thread] = []

    def quiet(args: threading.ExceptHookArgs) -> None:
        # The test is over; its threads ending now are no news (and no "unhandled
        # exception in thread" warning on the next phase).
        if isinstance(args.exc_value, SimulationEnded) and args.thread is not None:
            ended.append(args.thread)
        else:
            previous(args)

    threading.excepthook = quiet
    start = time.monotonic()
    try:
        alive = threads
        # Threads seen running Python: test workers. One that then blocks (on a lock a
        # dying worker still holds) keeps its pending exception and dies when it wakes;
        # only threads that waited the whole time (idle pool workers, timers) get theirs
        # withdrawn, so that it never fires in a later test's work.
        active: set[threading.Thread] = set()
        raised_at = -STOP_REPEAT
        while alive:
            now = time.monotonic() - start
            if now >= STOP_DEADLINE:
                break
            idle = [t for t in alive if _waiting(t)]
            active.update(t for t in alive if t not in idle)
            if all(t in idle and t not in active for t in alive) and (
                now >= STOP_SETTLE or all(_idle_pool_worker(t) for t in alive)
            ):
                # Pool workers waiting for their next item are done at once: nothing of
                # the test is left to feed them (an asyncio test's default executor
                # waited STOP_SETTLE after every test: aiofiles 12 s for 44 tests).
                break
            if now - raised_at >= STOP_REPEAT:
                _raise_in(alive, SimulationEnded)
                raised_at = now
            if alive[0].is_alive():
                alive[0].join(0.02)
            else:  # marked stopped by an interrupted join (see _running): join returns at once
                time.sleep(0.02)
            alive = _running(alive)
        _raise_in(
            [t for t in alive if t not in active and (t not in kept or _idle_pool_worker(t))],
            None,
        )
    finally:
        if threading.excepthook is quiet:
            threading.excepthook = previous
    # A pool worker takes the exception into its work item's future and then leaves as the
    # pool shuts down: ended all the same, though no thread died of it.
    still = set(_running(threads))
    return ended + [t for t in threads if t not in ended and t not in still]


def ended_by_simulation(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or was raised while handling, a :class:`SimulationEnded`."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, SimulationEnded):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def quiet_excepthook(previous: Callable[[threading.ExceptHookArgs], Any]) -> Any:
    """``threading.excepthook`` that drops the deaths :meth:`LeftoverThreads.stop` caused.

    A stopped thread that was blocked when its test ended dies when it wakes, maybe during
    a later test: that is not news, and pytest would turn it into an "unhandled exception
    in thread" warning (an error under ``filterwarnings = error``) on whichever test runs.
    """

    def excepthook(args: threading.ExceptHookArgs) -> None:
        if not ended_by_simulation(args.exc_value):
            previous(args)

    excepthook.__ocirace_quiet__ = True  # type: ignore[attr-defined]
    return excepthook


def _forget_pool_workers(threads: list[threading.Thread]) -> None:
    """Keep ``concurrent.futures``' own exit hook from joining ``threads``.

    A ``ThreadPoolExecutor`` worker is joined a second time, by the hook the module
    registers with ``threading._register_atexit`` (``_python_exit``), which runs before
    the interpreter's join: zict's spinning reader is such a worker, and the session hung
    there after its summary even with the thread released below.
    """
    module = sys.modules.get("concurrent.futures.thread")
    queues = getattr(module, "_threads_queues", None)
    if queues is None:
        return
    for thread in threads:
        with contextlib.suppress(KeyError, TypeError):
            del queues[thread]


#: Threads released on 3.13+, checked again at exit (they may have finished by then).
_RELEASED: list[threading.Thread] = []


def _exit_without_joining() -> None:  # pragma: no cover - 3.13+
    if not any(thread.is_alive() for thread in _RELEASED):
        return  # the normal exit joins nothing that hangs
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(LeftoverThreads.exit_status)
