"""File descriptors inside the simulation: fake ones for fake files, real ones for the rest.

pyfakefs numbers its descriptors itself (3, 4, 5...), in the same number space as the
process's real descriptors, and answers every ``os.read``/``os.write``/``os.close``/
``os.dup2``/``os.fstat``/``open(fd)`` from its own table. So a real descriptor (a pipe, a
socket, pytest's capture file, the standard streams) either fails with ``[Errno 9] Bad file
descriptor`` or, worse, lands on an unrelated fake file with the same number; and
``os.pipe()`` hands out fake numbers that a child process or ``select`` cannot use, which is
why ``subprocess.Popen(stdout=PIPE)`` failed.

Two rules make the two worlds disjoint:

- **Every fake descriptor number is reserved in the real process.** When the fake
  filesystem opens a file, :class:`DescriptorTable` opens a real placeholder (an anonymous
  memory file of its own where the OS has them, else the null device) and uses that real
  descriptor's number for the fake file. The kernel never hands that number out again
  while the fake file is open, so a real pipe, socket or ``dup`` can never collide with it.
  The reservation is released when the fake file closes, and all are released when the
  simulation ends.
- **A descriptor the fake filesystem does not own goes to the real OS.** The fake ``os``
  functions that take a descriptor (``read``, ``write``, ``close``, ``fstat``, ``lseek``,
  ``dup``, ``dup2``, ``fsync``, ``ftruncate``, ``fchmod``, ``fdopen``/``open(fd)``, and
  ``stat(fd)``) ask :func:`owned` first; ``os.pipe`` is the real one.

"Owned" means the fake table holds a wrapper of a fake file or directory at that number:
pyfakefs' stand-ins for the standard streams (0, 1, 2) are not owned, so ``os.dup2(fd, 1)``
(pytest's ``FDCapture``) redirects the real standard output, as it does outside.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable
from typing import Any

from pyfakefs.fake_file import FakeDirWrapper, FakeFileWrapper

from pytest_ocirace.fakefs.locking import LOCK

__all__ = [
    "PASSTHROUGH_METHODS",
    "DescriptorTable",
    "owned",
    "passthrough_plan",
    "real_fcntl",
    "real_open",
]

# The real OS functions, taken from the built-in module pyfakefs never fakes (it replaces
# references to ``os``/``io`` in other modules, not the contents of ``posix``/``_io``).
_REAL_OS: Any = sys.modules["nt" if sys.platform == "win32" else "posix"]
# pyfakefs does stub ``_io.open`` itself, so keep the function, not the module (in a dict:
# pyfakefs also looks for module globals that are file functions, and would stub those).
_REAL: dict[str, Any] = {"open": sys.modules["_io"].open}


def real_fcntl() -> Any:
    """The real ``fcntl`` module (None on Windows), also while pyfakefs patches.

    While a patcher runs, pyfakefs' dynamic patcher puts its fake ``fcntl`` in
    ``sys.modules``, so a module imported then (after pytester dropped ours) gets the fake
    one from ``import fcntl``; the fake keeps the real one it stands for.
    """
    module = _REAL.get("fcntl")
    if module is None:
        try:
            found: Any = importlib.import_module("fcntl")
        except ImportError:  # pragma: no cover - Windows
            return None
        if type(found).__name__ == "FakeFcntlModule":
            found = object.__getattribute__(found, "_fcntl_module")
        module = _REAL["fcntl"] = found
    return module


real_fcntl()  # now, while this module is imported before any patcher runs

#: The fake ``fcntl`` module's functions a simulation may route (``fcntl_routes``).
FCNTL_FUNCTIONS = ("fcntl", "flock", "ioctl", "lockf")
_ROUTES = "__ocirace_fcntl_routes__"


def _fake_fcntl_class() -> Any:
    from pyfakefs import fake_filesystem

    return getattr(fake_filesystem, "FakeFcntlModule", None)


def fcntl_routes() -> dict[Any, Any]:
    """Per simulated filesystem (by ``id``): ``{name: function(fake_module, fd, *args)}``.

    A simulation registers its own ``flock``/``lockf``/``fcntl``/``ioctl`` here for as long
    as it runs; without an entry the fake module behaves as pyfakefs made it.
    """
    fake = _fake_fcntl_class()
    if fake is None:  # pragma: no cover - Windows
        return {}
    routes: dict[Any, Any] = vars(fake)[_ROUTES]
    return routes


def _route_fake_fcntl() -> None:
    """Make the fake ``fcntl`` functions look up the running simulation's at each call.

    pyfakefs binds them when a patcher starts (``from fcntl import flock`` in a loaded
    module becomes a bound method of the fake module made then), before a simulation can
    patch anything, so patching the class later would miss those. The class gets routing
    functions once, when this module is first imported (before any patcher runs: the
    filesystem layer imports it), and they stay: without a route, pyfakefs' own function
    runs. The routes live on the class, shared by every copy of this module.
    """
    fake = _fake_fcntl_class()
    if fake is None or _ROUTES in vars(fake):
        return
    setattr(fake, _ROUTES, {})
    for name in FCNTL_FUNCTIONS:
        original = vars(fake).get(name)
        if original is not None:
            setattr(fake, name, _routed(fake, name, original))


def _routed(fake: Any, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    routes: dict[Any, Any] = vars(fake)[_ROUTES]

    def method(self: Any, fd: Any, *args: Any, **kwargs: Any) -> Any:
        route = routes.get(id(self.filesystem))
        if route is None:
            return original(self, fd, *args, **kwargs)
        return route[name](self, fd, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


_route_fake_fcntl()

#: Fake ``os`` methods whose first argument is a descriptor, and how to call the real one.
PASSTHROUGH_METHODS: tuple[str, ...] = (
    "close",
    "dup",
    "dup2",
    "fchmod",
    "fdatasync",
    "fstat",
    "fsync",
    "ftruncate",
    "lseek",
    "read",
    "write",
)


def owned(fs: Any, fd: int) -> bool:
    """Whether descriptor ``fd`` belongs to a fake file or directory of ``fs``."""
    files = fs.open_files
    if not 0 <= fd < len(files):
        return False
    wrappers = files[fd]
    return bool(wrappers) and isinstance(wrappers[0], (FakeFileWrapper, FakeDirWrapper))


class DescriptorTable:
    """Real descriptor numbers reserved for the fake files of one simulation."""

    def __init__(self) -> None:
        self._reserved: set[int] = set()

    def reserve(self) -> int:
        """A descriptor number no real file can get until :meth:`release` (a placeholder)."""
        fd = _placeholder()
        self._reserved.add(fd)
        return fd

    def release(self, fd: int) -> None:
        """Give ``fd`` back to the process if it is one of ours (a no-op otherwise)."""
        if fd in self._reserved:
            self._reserved.discard(fd)
            with contextlib.suppress(OSError):
                _REAL_OS.close(fd)

    def release_all(self) -> None:
        """End of the simulation: the numbers of fake files left open stay reserved.

        Code that still holds such a number closes it later, outside the simulation, with
        the real ``os.close`` (filelock's ``__del__`` at garbage collection): had the number
        been given back, that close would hit whatever real descriptor the kernel handed
        out next (pytest's saved standard output, a socket). It closes the placeholder
        instead. The oldest of these are closed once more than :data:`LEFTOVER_LIMIT` are
        kept, each only if it is still the same placeholder.
        """
        for fd in sorted(self._reserved):
            identity = _identity(fd)
            if identity is not None:
                _LEFTOVERS.append((fd, identity))
        self._reserved.clear()
        while len(_LEFTOVERS) > LEFTOVER_LIMIT:
            _close_if_placeholder(*_LEFTOVERS.pop(0))

    def __len__(self) -> int:
        return len(self._reserved)


#: How many numbers of fake files left open at the end of simulations stay reserved.
LEFTOVER_LIMIT = 128
#: Those numbers with their placeholder's identity, oldest first (process-wide: a process
#: runs one simulation at a time).
_LEFTOVERS: list[tuple[int, tuple[int, int]]] = []
#: Whether placeholders are anonymous memory files (``os.memfd_create``): each its own
#: inode. Null-device placeholders all share one inode, so a real ``flock`` taken on one
#: by code holding the real ``fcntl`` (portalocker's ``FlockLocker`` binds it at import)
#: locked them all: a leftover that stayed locked made every later exclusive lock on any
#: fake file's number wait in the kernel for ever (portalocker's suite hung).
_MEMORY_FILES = hasattr(_REAL_OS, "memfd_create")


def _placeholder() -> int:
    """A real descriptor that holds a number for a fake file."""
    global _MEMORY_FILES
    if _MEMORY_FILES:
        try:
            return int(_REAL_OS.memfd_create("ocirace-fake-fd", _REAL_OS.MFD_CLOEXEC))
        except OSError:  # refused here (a seccomp policy): the null device, as before
            _MEMORY_FILES = False
    return int(_REAL_OS.open(_null_device(), _REAL_OS.O_RDONLY | _cloexec()))


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        status = _REAL_OS.fstat(fd)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _close_if_placeholder(fd: int, identity: tuple[int, int]) -> None:
    """Close ``fd`` if it is still the placeholder it was (nobody closed and reused it)."""
    if _identity(fd) == identity:
        with contextlib.suppress(OSError):
            _REAL_OS.close(fd)


def _null_device() -> str:
    return "nul" if sys.platform == "win32" else "/dev/null"


def _cloexec() -> int:
    return int(getattr(_REAL_OS, "O_CLOEXEC", 0) or getattr(_REAL_OS, "O_NOINHERIT", 0))


def _passthrough(name: str, fake: Callable[..., Any]) -> Callable[..., Any]:
    real = getattr(_REAL_OS, name)

    def method(self: Any, fd: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(fd, int) and not owned(self.filesystem, fd):
            if name == "dup2":
                target = args[0] if args else kwargs.get("fd2")
                if isinstance(target, int) and owned(self.filesystem, target):
                    # The real dup2 closes what fd2 was; so does this one for a fake file.
                    self.close(target)
            return real(fd, *args, **kwargs)
        return fake(self, fd, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``os.{name}``: the fake file's, or the real OS's for other descriptors."
    return method


#: ``stat.S_IWRITE``: the only bit Windows' chmod looks at.
_WRITE_BIT = 0o200


def _fchmod() -> Callable[..., Any]:
    """``os.fchmod`` as Windows' CPython 3.13+ has it, whatever the host's Python.

    pyfakefs refuses it in Windows mode before 3.13 (``AttributeError``), which failed
    POSIX code the simulation runs on a Linux host (filelock's ``UnixFileLock`` calls it
    right after opening its lock file). On Windows it changes only the read-only attribute,
    which is what the fake filesystem's ``chmod`` does in Windows mode.
    """

    def fchmod(self: Any, fd: Any, mode: int) -> None:
        if isinstance(fd, int) and not owned(self.filesystem, fd):
            _REAL_OS.fchmod(fd, mode)
            return
        with LOCK:
            file = self.filesystem.get_open_file(fd).get_object()
            if mode & _WRITE_BIT:
                file.st_mode |= 0o222
            else:
                file.st_mode &= ~0o222

    return fchmod


def _lseek(fake: Callable[..., Any]) -> Callable[..., Any]:
    """``os.lseek`` returning the new offset, as the real one does (pyfakefs' returns None).

    ``os.lseek(fd, 0, SEEK_CUR)`` is how code asks a descriptor's position (and
    ``os.lseek(fd, 0, SEEK_END)`` its size); None broke both.
    """

    def lseek(self: Any, fd: Any, *args: Any, **kwargs: Any) -> Any:
        result = fake(self, fd, *args, **kwargs)
        if result is None:
            with LOCK:
                return int(self.filesystem.get_open_file(fd).tell())
        return result

    return lseek


def _fdopen(fake: Callable[..., Any]) -> Callable[..., Any]:
    def fdopen(self: Any, fd: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(fd, int) and not owned(self.filesystem, fd):
            return _REAL["open"](fd, *args, **kwargs)
        return fake(self, fd, *args, **kwargs)

    return fdopen


def _stat(fake: Callable[..., Any]) -> Callable[..., Any]:
    def stat(self: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, int) and not owned(self.filesystem, path):
            return _REAL_OS.stat(path, *args, **kwargs)
        return fake(self, path, *args, **kwargs)

    return stat


def _pipe(self: Any) -> tuple[int, int]:
    """``os.pipe``: real descriptors, usable by child processes, ``select`` and ``open``."""
    result: tuple[int, int] = _REAL_OS.pipe()
    return result


def passthrough_plan(
    fake_os: type, current: Callable[[str], Any]
) -> list[tuple[object, str, object]]:
    """Class patches of ``fake_os`` (pyfakefs' ``FakeOsModule``) that route real descriptors out.

    ``current(name)`` gives the method as it will be after the other patches (the locked
    one), so the real-descriptor test happens before the lock is taken.
    """
    plan: list[tuple[object, str, object]] = []
    for name in PASSTHROUGH_METHODS:
        if name in vars(fake_os) and hasattr(_REAL_OS, name):
            if name == "fchmod":
                plan.append((fake_os, name, _fchmod()))
                continue
            fake = _lseek(current(name)) if name == "lseek" else current(name)
            plan.append((fake_os, name, _passthrough(name, fake)))
    if "fdopen" in vars(fake_os):
        plan.append((fake_os, "fdopen", _fdopen(current("fdopen"))))
    if "stat" in vars(fake_os):
        plan.append((fake_os, "stat", _stat(current("stat"))))
    if "pipe" in vars(fake_os) and hasattr(_REAL_OS, "pipe"):
        plan.append((fake_os, "pipe", _pipe))
    return plan


def real_open(fd: int, *args: Any, **kwargs: Any) -> Any:
    """``open(fd, ...)`` of a descriptor the fake filesystem does not own."""
    return _REAL["open"](fd, *args, **kwargs)
