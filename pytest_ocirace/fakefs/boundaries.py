r"""Where the fake filesystem ends: processes and C libraries that cannot see it.

The simulated Windows filesystem is a data structure in this process's memory, reached
only through Python's ``os``/``io``/``pathlib``/``shutil``. Two kinds of code go around it:

- **a new process** (``subprocess``, ``os.system``/``spawn*``/``exec*``/``fork``,
  ``multiprocessing``, ``ProcessPoolExecutor``) runs on the real disk, where the test's
  ``C:\\Users\\ocirace\\...`` paths do not exist; multiprocessing's helpers then fail deep
  inside (``FileNotFoundError``, an ``AttributeError`` in the resource tracker);
- **a C library doing its own file I/O** (SQLite, gdbm/ndbm, ``mmap`` of a descriptor)
  opens real files with the simulation's names.

Either way the test failed far from the cause, with an error that named neither. While the
fake filesystem is active, :class:`Boundaries` stops each of these at the call that
crosses, with a one-line :class:`OutsideSimulationError` raised in the test's own frame
(this module's frames are hidden from pytest's tracebacks), before anything was started
or opened. Where Windows itself gives an answer, that answer is used instead: ``dbm.open``
picks ``dbm.dumb``, the only ``dbm`` module a Windows CPython has, which does its I/O in
Python and so works inside the simulation.
"""

from __future__ import annotations

import concurrent.futures.process
import dbm
import dbm.dumb
import mmap
import multiprocessing.managers
import multiprocessing.pool
import multiprocessing.process
import os
import sqlite3
import subprocess
import sys
import types
import urllib.parse
from collections.abc import Callable
from typing import Any

from pytest_ocirace.fakefs import read_maps
from pytest_ocirace.fakefs.filesystem import SimulationError
from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): the
# error should point at the test's own call.
__tracebackhide__ = True

__all__ = [
    "LIMITS",
    "OPT_OUT",
    "Boundaries",
    "CaptureError",
    "ForeignIOError",
    "LimitLog",
    "OutsideSimulationError",
    "ProcessStartError",
    "capture_error",
]

#: How a test opts out of the simulation: the one workaround that exists for both kinds.
OPT_OUT = "@pytest.mark.ocirace(enabled=False)"


# The real ``os`` module, kept where pyfakefs does not look: while a patcher runs it
# replaces this module's global ``os`` with its fake one.
_REAL = types.SimpleNamespace(os=os)


_PLAN: list[tuple[object, str, object]] = []


class LimitLog:
    """Who hears of each limit reached: the seam between the guards and the plugin.

    A test whose code caught the one-line error (black swallows a ``ProcessStartError``
    and fails later on its exit code) still reached a limit: the plugin's fallback
    (``plugins/limit_fallback.py``) runs such a test again in the process mode, so it must
    learn of every limit error made, not only of the one a failure shows. Each
    :class:`OutsideSimulationError` tells this log when it is made; listeners are called
    in the thread that made it (a list append is all they should do).
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[OutsideSimulationError], None]] = []

    def listen(self, listener: Callable[[OutsideSimulationError], None]) -> Callable[[], None]:
        """Call ``listener`` with each limit error made from now on; return how to stop."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def reached(self, error: OutsideSimulationError) -> None:
        for listener in tuple(self._listeners):
            listener(error)


#: The one log of this process (the guards are once per process too).
LIMITS = LimitLog()


class OutsideSimulationError(SimulationError):
    """The test reached something the simulated filesystem cannot hold (a process, C I/O).

    ``limit`` names the kind in a word or two, for the fallback's report and summary.
    """

    limit = "the fake filesystem"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        LIMITS.reached(self)


class ProcessStartError(OutsideSimulationError):
    """The test started a process; the fake filesystem lives in the test's process only."""

    limit = "processes"


class ForeignIOError(OutsideSimulationError):
    """A C library would do its own file I/O on the real disk, outside the simulation."""

    limit = "C I/O"


class CaptureError(OutsideSimulationError):
    """``capfd`` asked for in a simulated test: it redirects real descriptors to real files."""

    limit = "capfd"


def capture_error(fixture: str) -> CaptureError:
    """The error of a simulated test that asks for ``capfd``/``capfdbinary``."""
    return CaptureError(
        f"{fixture} cannot work in a simulated test: it redirects real file descriptors "
        "into real temp files, which the fake filesystem replaces (pyfakefs has the same "
        "limit); use capsys/capsysbinary instead"
    )


def _process_error(what: str) -> ProcessStartError:
    return ProcessStartError(
        f"pytest-ocirace: {what} starts a process, but the simulated Windows filesystem "
        "lives in this test's process only (the child would see the real disk, not the "
        "test's files); mark it @pytest.mark.ocirace(processes=True) or run with "
        "--ocirace-processes (the process mode: the real disk, Windows' rules across every "
        f"process), or run it without the simulation with {OPT_OUT}"
    )


def _foreign_error(call: str, why: str, instead: str, limit: str) -> ForeignIOError:
    error = ForeignIOError(
        f"pytest-ocirace: {call} {why}, outside the simulated Windows filesystem (it would "
        f"use the real disk); {instead}, or run this test without the simulation with "
        f"{OPT_OUT}"
    )
    error.limit = limit
    return error


_OS_PROCESS_FUNCTIONS = (
    "system",
    "popen",
    "fork",
    "forkpty",
    "posix_spawn",
    "posix_spawnp",
    *(f"spawn{suffix}" for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
    *(f"exec{suffix}" for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
)


class Boundaries:
    """The guards of one simulation: installed when it starts, removed when it ends.

    They ask ``inforce.IN_FORCE`` whether the fake filesystem is in force and whether a
    descriptor is one of its own, so ``simulate()`` makes the simulation the one in force
    before installing them.
    """

    def __init__(self) -> None:
        self._patches = ClassPatches()
        self._plan: list[tuple[object, str, object]] = []

    def install(self) -> None:
        try:
            # The guards are the same for every simulation (they ask IN_FORCE): built once
            # per process, since making the guard classes costs more than the rest of setup.
            if not _PLAN:
                self._build_processes()
                self._build_sqlite()
                self._build_dbm()
                self._build_mmap()
                _PLAN.extend(self._plan)
            self._patches.set_all(_PLAN)
            self._install_dbm_class()
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        self._patches.undo()

    def _set(self, owner: object, name: str, value: object) -> None:
        self._plan.append((owner, name, value))

    # -- processes ------------------------------------------------------------------------

    def _guard_class(self, owners: tuple[object, ...], name: str, what: str) -> None:
        """Put a subclass of ``owners[0].<name>`` that refuses to be built in its place.

        A subclass bound to the module name, not a patched ``__new__`` on the class itself:
        CPython cannot fully undo a ``__new__`` set on a class that had none (it keeps
        calling through the slot, and ``object.__new__`` then rejects the arguments), and
        a refused ``__init__`` would leave a half-built object whose ``__del__`` fails.
        Subclasses of the original (``ThreadPool`` of ``Pool``) are untouched.
        """
        original = getattr(owners[0], name, None)
        if not isinstance(original, type):
            return
        is_active = IN_FORCE.is_active_now

        def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
            if is_active():
                raise _process_error(what)
            base_new: Any = original.__new__
            if base_new is object.__new__:
                return object.__new__(klass)
            return base_new(klass, *args, **kwargs)

        guarded = type(
            original.__name__,
            (original,),
            {
                "__new__": __new__,
                "__module__": original.__module__,
                "__qualname__": original.__qualname__,
                "__doc__": original.__doc__,
            },
        )
        # Every owner, present or not: ``concurrent.futures`` imports ProcessPoolExecutor
        # lazily and caches it in its own namespace, which must not keep a guard.
        for owner in owners:
            self._set(owner, name, guarded)

    def _refuse_call(self, owner: object, name: str, what: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return
        is_active = IN_FORCE.is_active_now

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if is_active():
                raise _process_error(what)
            return original(*args, **kwargs)

        guarded.__name__ = getattr(original, "__name__", name)
        guarded.__wrapped__ = original  # type: ignore[attr-defined]
        self._set(owner, name, guarded)

    def _build_processes(self) -> None:
        self._guard_class(
            (subprocess,), "Popen", "subprocess.Popen (subprocess.run, check_output...)"
        )
        self._guard_class(
            (concurrent.futures.process, concurrent.futures),
            "ProcessPoolExecutor",
            "concurrent.futures.ProcessPoolExecutor",
        )
        # multiprocessing.Pool() imports the name from multiprocessing.pool when called.
        self._guard_class((multiprocessing.pool,), "Pool", "multiprocessing.Pool")
        is_active = IN_FORCE.is_active_now
        start = multiprocessing.process.BaseProcess.start

        def start_process(process: multiprocessing.process.BaseProcess) -> None:
            if is_active():
                method = getattr(type(process), "_start_method", None) or (
                    multiprocessing.get_start_method(allow_none=True) or "fork"
                )
                raise _process_error(f"multiprocessing.Process.start() (start method {method!r})")
            start(process)

        self._set(multiprocessing.process.BaseProcess, "start", start_process)
        self._refuse_call(
            multiprocessing.managers.BaseManager, "start", "multiprocessing's Manager().start()"
        )
        real_os = _REAL.os
        for name in _OS_PROCESS_FUNCTIONS:
            if name in vars(real_os):
                self._refuse_call(real_os, name, f"os.{name}()")
        pty = sys.modules.get("pty")
        if pty is not None:
            self._refuse_call(pty, "fork", "pty.fork()")
        # Everything else that starts a program on POSIX ends here (multiprocessing's
        # resource tracker and forkserver through ``util.spawnv_passfds``).
        posix_subprocess = sys.modules.get("_posixsubprocess")
        if posix_subprocess is not None:
            self._refuse_call(
                posix_subprocess,
                "fork_exec",
                "a helper process (multiprocessing's resource "
                "tracker or forkserver, or another fork_exec caller)",
            )

    # -- C libraries ------------------------------------------------------------------------

    def _build_sqlite(self) -> None:
        original = sqlite3.connect
        is_active = IN_FORCE.is_active_now

        def connect(database: Any, *args: Any, **kwargs: Any) -> Any:
            if is_active() and not _sqlite_in_memory(database, args, kwargs):
                raise _foreign_error(
                    f"sqlite3.connect({database!r})",
                    "would open a database file, but SQLite does its file I/O in C",
                    "use ':memory:' (or 'file::memory:' with uri=True)",
                    "sqlite3.connect",
                )
            return original(database, *args, **kwargs)

        connect.__wrapped__ = original  # type: ignore[attr-defined]
        for module in (sqlite3, sys.modules.get("sqlite3.dbapi2")):
            if module is not None and getattr(module, "connect", None) is original:
                self._set(module, "connect", connect)

    def _build_dbm(self) -> None:
        # As on Windows, where CPython has neither gdbm nor ndbm: dbm.open uses dbm.dumb
        # for new files, and says "db type is dbm.gnu, but the module is not available"
        # for existing ones of another kind.
        self._set(dbm, "_defaultmod", dbm.dumb)
        self._set(dbm, "_modules", {"dbm.dumb": dbm.dumb})
        is_active = IN_FORCE.is_active_now
        for name in ("dbm.gnu", "dbm.ndbm"):
            module = sys.modules.get(name)
            if module is None or not hasattr(module, "open"):
                continue
            original = module.open

            def open_c(*args: Any, __name: str = name, __open: Any = original, **kw: Any) -> Any:
                if is_active():
                    raise _foreign_error(
                        f"{__name}.open()",
                        "opens its file in C (and Windows has no such module)",
                        "use dbm.open() or dbm.dumb, which Windows has",
                        __name,
                    )
                return __open(*args, **kw)

            self._set(module, "open", open_c)

    def _install_dbm_class(self) -> None:
        # dbm.dumb keeps ``os``/``io`` as class attributes too, where pyfakefs does not
        # look: give the class the fake modules pyfakefs put in the module's globals.
        database = getattr(dbm.dumb, "_Database", None)
        for name in ("_os", "_io"):
            fake = vars(dbm.dumb).get(name)
            if (
                database is not None
                and name in vars(database)
                and type(fake).__module__.startswith("pyfakefs.")
            ):
                self._patches.set(database, name, fake)

    def _build_mmap(self) -> None:
        is_active = IN_FORCE.is_active_now
        owns_fd = IN_FORCE.owns_fd_now
        real_mmap = mmap.mmap

        def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("mmap can't modify a readonly memory map.")

        class GuardedMmap(real_mmap):  # type: ignore[misc,valid-type]
            """``mmap.mmap`` that refuses writable maps of the fake filesystem's descriptors."""

            def __new__(cls, fileno: int, *args: Any, **kwargs: Any) -> Any:
                if is_active() and fileno != -1 and owns_fd(fileno):
                    if read_maps.is_read_only(args, kwargs):
                        data = read_maps.snapshot(IN_FORCE.fs, fileno, args, kwargs)
                        copy = real_mmap.__new__(ReadOnlyCopy, -1, len(data))
                        real_mmap.write(copy, data)
                        real_mmap.seek(copy, 0)
                        return copy
                    raise _foreign_error(
                        f"mmap.mmap({fileno}, ...)",
                        "maps a file descriptor of the fake filesystem for writing, which "
                        "the OS has never heard of",
                        "map it read-only (access=mmap.ACCESS_READ: a copy of its bytes), "
                        "or read the file with open() instead",
                        "mmap",
                    )
                return real_mmap.__new__(cls, fileno, *args, **kwargs)

        class ReadOnlyCopy(GuardedMmap):
            """A read-only map of a fake file (``read_maps.py``)."""

            __setitem__ = write = write_byte = move = resize = refuse

        ReadOnlyCopy.__name__ = ReadOnlyCopy.__qualname__ = "mmap"
        ReadOnlyCopy.__module__ = "mmap"

        GuardedMmap.__name__ = GuardedMmap.__qualname__ = "mmap"
        GuardedMmap.__module__ = "mmap"
        self._set(mmap, "mmap", GuardedMmap)


def _sqlite_in_memory(database: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``sqlite3.connect(database, ...)`` touches no file the test could name.

    ``:memory:``, memory URIs, and ``""`` (SQLite's own private temp file) qualify.
    """
    try:
        text = os.fsdecode(os.fspath(database))
    except TypeError:
        return True  # sqlite3 itself refuses it, with its own message
    if text in (":memory:", ""):
        return True
    uri = kwargs.get("uri", args[6] if len(args) > 6 else False)
    if not (uri and text.startswith("file:")):
        return False
    parsed = urllib.parse.urlsplit(text)
    query = urllib.parse.parse_qs(parsed.query)
    return parsed.path in (":memory:", "") or "memory" in query.get("mode", [])
