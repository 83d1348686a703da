"""Threads a simulated test left running must not keep the session alive after its summary.

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
status. The threads themselves are not stopped: a thread blocked in C cannot be.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from dataclasses import dataclass

__all__ = ["Leftover", "LeftoverThreads"]

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

    def snapshot(self) -> frozenset[threading.Thread]:
        """Threads alive before a test (taken when it starts)."""
        return frozenset(threading.enumerate())

    def record(self, before: frozenset[threading.Thread], nodeid: str) -> None:
        """Remember non-daemon threads started since ``before`` that are still alive."""
        for thread in threading.enumerate():
            if thread not in before and not thread.daemon and thread.is_alive():
                self._left.append(Leftover(thread, nodeid))

    def running(self) -> list[Leftover]:
        return [left for left in self._left if left.thread.is_alive()]

    def summary_lines(self) -> list[str]:
        running = self.running()
        if not running:
            return []
        return [
            f"{len(running)} thread(s) started by simulated tests were still running at the "
            "end of the session; pytest-ocirace does not wait for them at exit:",
            *(f"  {left.describe()}" for left in running),
        ]

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
