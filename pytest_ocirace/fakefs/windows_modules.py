"""The Windows-only modules and functions that code imported as Windows reaches.

A module imported under the Windows identity (``platform_import.py``) takes its Windows
branch: ``import msvcrt``, ``from ctypes import windll, WinError``, ``os.O_BINARY``. On Linux
none of these exist, so the simulation provides stand-ins, and routes the ones that touch
files onto the simulated filesystem through the fake ``os`` bound for the current test
(:meth:`WindowsSurface.bind`), where the Windows rules and the race model already live:

* ``ctypes.windll.kernel32.MoveFileExW`` is ``os.replace`` with ``MOVEFILE_REPLACE_EXISTING``
  and ``os.rename`` without (that is how CPython implements both on Windows);
  ``ReplaceFileW`` moves the replaced file to the backup name, then the replacement onto
  it. Both return 0 and set the thread's last error on failure, as Win32 does;
  ``ctypes.WinError()`` then builds the error CPython would.
* ``msvcrt``: the ``LK_*`` constants, ``locking`` (the running simulation's byte-range locks,
  ``filelocks.active_msvcrt_locking``: the same lock table as ``fcntl`` and the
  ``msvcrt`` of ``windows_platform_modules``), ``get_osfhandle``/``open_osfhandle``
  (a handle number per descriptor and back), ``setmode``.
* ``nt``: on Windows ``os`` re-exports ``nt``, so ``nt.X`` is the current ``os.X``.
* ``_winapi``: the constants, ``GetLastError`` and ``CloseHandle`` only (enough to import).

Anything else raises ``AttributeError`` naming the simulation, never a silent no-op.
"""

from __future__ import annotations

import errno as _errno
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_ocirace.fakefs.filelocks import active_msvcrt_locking
from pytest_ocirace.winrules import errors

__all__ = [
    "MOVEFILE_COPY_ALLOWED",
    "MOVEFILE_REPLACE_EXISTING",
    "MOVEFILE_WRITE_THROUGH",
    "OS_CONSTANTS",
    "SURFACE",
    "WindowsSurface",
]

MOVEFILE_REPLACE_EXISTING = 0x1
MOVEFILE_COPY_ALLOWED = 0x2
MOVEFILE_WRITE_THROUGH = 0x8
_SIMULATED_MOVE_FLAGS = MOVEFILE_REPLACE_EXISTING | MOVEFILE_COPY_ALLOWED | MOVEFILE_WRITE_THROUGH

REPLACEFILE_WRITE_THROUGH = 0x1
REPLACEFILE_IGNORE_MERGE_ERRORS = 0x2
REPLACEFILE_IGNORE_ACL_ERRORS = 0x4
ERROR_UNABLE_TO_MOVE_REPLACEMENT = 1176
ERROR_MOD_NOT_FOUND = 126

#: ``os`` attributes only Windows has. The ``O_*`` hints change nothing the simulation
#: models (descriptors are never inherited, there is no text-mode translation), so they are
#: 0 and ``flags | os.O_BINARY`` is the flags. ``O_TEMPORARY`` is the simulation's own bit.
OS_CONSTANTS: dict[str, int] = {
    "O_BINARY": 0,
    "O_TEXT": 0,
    "O_NOINHERIT": 0,
    "O_SHORT_LIVED": 0,
    "O_SEQUENTIAL": 0,
    "O_RANDOM": 0,
}

#: A handle number is this plus four times the descriptor (Windows handles are multiples of 4).
_HANDLE_BASE = 0x1000

_LIMIT = (
    "pytest-ocirace simulates only part of Windows-only modules for code imported under "
    "windows_import_modules (docs/plugin.md)"
)


def _module(name: str, attributes: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name, f"pytest-ocirace's stand-in for Windows' {name} module")
    module.__dict__.update(attributes)

    def __getattr__(attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise AttributeError(f"module {name!r} has no attribute {attribute!r} ({_LIMIT})")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


class _Function:
    """A foreign function as ctypes hands it out: ``argtypes``/``restype``/``errcheck`` settable."""

    def __init__(self, name: str, call: Callable[..., int]) -> None:
        self.__name__ = name
        self._call = call
        self.argtypes: Any = None
        self.restype: Any = None
        self.errcheck: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        result = self._call(*args)
        if self.errcheck is not None:
            return self.errcheck(result, self, args)
        return result


class _Library:
    """``windll.kernel32``: the functions the simulation routes, and a clear error otherwise."""

    def __init__(self, name: str, functions: dict[str, Callable[..., int]]) -> None:
        self._name = name
        self._functions = {key: _Function(key, call) for key, call in functions.items()}

    def __getattr__(self, name: str) -> _Function:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._functions[name]
        except KeyError:
            raise AttributeError(
                f"function {name!r} not found in {self._name} ({_LIMIT}: "
                + ", ".join(sorted(self._functions))
                + ")"
            ) from None

    __getitem__ = __getattr__


class _Loader:
    """``ctypes.windll``: ``windll.kernel32`` and ``windll.LoadLibrary('kernel32')``."""

    def __init__(self, surface: WindowsSurface) -> None:
        self._surface = surface

    def __getattr__(self, name: str) -> _Library:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._surface.load_library(name)

    def LoadLibrary(self, name: str) -> _Library:
        return self._surface.load_library(name)


class _WindowsVersion(tuple):  # type: ignore[type-arg]
    """``sys.getwindowsversion()``: Windows 10 22H2, as a tuple with named fields."""

    major = 10
    minor = 0
    build = 19045
    platform = 2
    service_pack = ""
    service_pack_major = 0
    service_pack_minor = 0
    suite_mask = 256
    product_type = 1
    platform_version = (10, 0, 19045)

    def __new__(cls) -> _WindowsVersion:
        return super().__new__(cls, (10, 0, 19045, 2, ""))


def getwindowsversion() -> tuple[Any, ...]:
    return _WindowsVersion()


class WindowsSurface:
    """The stand-ins, bound to the fake ``os`` of the simulated test that runs now."""

    def __init__(self) -> None:
        self._os: Any = None
        self._last_error = threading.local()
        kernel32: dict[str, Callable[..., int]] = {
            "MoveFileExW": self.move_file_ex,
            "MoveFileW": lambda src, dst: self.move_file_ex(src, dst, 0),
            "ReplaceFileW": self.replace_file,
            "GetLastError": self.get_last_error,
            "SetLastError": self.set_last_error,
        }
        self._libraries = {"kernel32": _Library("kernel32", kernel32)}
        self.windll = _Loader(self)
        self.ctypes_attributes: dict[str, Any] = {
            "windll": self.windll,
            "WinDLL": self.win_dll,
            "WinError": self.win_error,
            "FormatError": self.format_error,
            "GetLastError": self.get_last_error,
            "get_last_error": self.get_last_error,
            "set_last_error": self.set_last_error,
        }
        self.modules: dict[str, types.ModuleType] = {
            "msvcrt": _module(
                "msvcrt",
                {
                    "LK_UNLCK": 0,
                    "LK_LOCK": 1,
                    "LK_NBLCK": 2,
                    "LK_RLCK": 3,
                    "LK_NBRLCK": 4,
                    "locking": self.locking,
                    "get_osfhandle": self.get_osfhandle,
                    "open_osfhandle": self.open_osfhandle,
                    "setmode": self.setmode,
                },
            ),
            "_winapi": _module(
                "_winapi",
                {
                    "NULL": 0,
                    "INFINITE": 0xFFFFFFFF,
                    "GetLastError": self.get_last_error,
                    "CloseHandle": lambda handle: None,
                    **{
                        name: getattr(errors, name)
                        for name in errors.__all__
                        if name.startswith("ERROR_")
                    },
                },
            ),
            "nt": self._nt_module(),
        }

    # -- binding ------------------------------------------------------------------------

    @contextmanager
    def bound(self, os_module: Any) -> Iterator[None]:
        """Route file operations through ``os_module`` (the test's fake ``os``) for a block."""
        previous, self._os = self._os, os_module
        try:
            yield
        finally:
            self._os = previous

    @property
    def os(self) -> Any:
        if self._os is None:
            raise RuntimeError(
                "pytest-ocirace: a Windows-only function of the simulation was called "
                "outside a simulated test (a thread outlived its test?)"
            )
        return self._os

    def _nt_module(self) -> types.ModuleType:
        surface = self

        module = types.ModuleType("nt", "pytest-ocirace's stand-in for Windows' nt module")

        def __getattr__(attribute: str) -> Any:
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            return getattr(surface.os, attribute)

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        return module

    # -- last error ---------------------------------------------------------------------

    def get_last_error(self) -> int:
        return int(getattr(self._last_error, "value", 0))

    def set_last_error(self, value: int) -> int:
        old = self.get_last_error()
        self._last_error.value = value
        return old

    def _failed(self, exc: OSError) -> int:
        code = getattr(exc, "winerror", None)
        if not isinstance(code, int):
            code = _WIN32_FROM_ERRNO.get(exc.errno or 0, errors.ERROR_ACCESS_DENIED)
        self.set_last_error(code)
        return 0

    # -- ctypes -------------------------------------------------------------------------

    def load_library(self, name: str) -> _Library:
        key = name.lower().removesuffix(".dll")
        library = self._libraries.get(key)
        if library is None:
            raise OSError(
                f"[WinError {ERROR_MOD_NOT_FOUND}] {name!r}: {_LIMIT}; it provides only "
                + ", ".join(sorted(self._libraries))
            )
        return library

    def win_dll(self, name: str, *args: Any, **kwargs: Any) -> _Library:
        return self.load_library(name)

    def format_error(self, code: int | None = None) -> str:
        if code is None:
            code = self.get_last_error()
        message = errors.MESSAGES.get(code)
        return f"{message}." if message else "<no description>"

    def win_error(self, code: int | None = None, descr: str | None = None) -> OSError:
        """``ctypes.WinError``: ``OSError(None, descr, None, code)`` as Windows builds it."""
        if code is None:
            code = self.get_last_error()
        exc = errors.windows_error(code)
        exc.strerror = descr if descr is not None else self.format_error(code)
        return exc

    # -- kernel32 -----------------------------------------------------------------------

    def move_file_ex(self, src: Any, dst: Any, flags: int) -> int:
        unsupported = flags & ~_SIMULATED_MOVE_FLAGS
        if unsupported:
            raise NotImplementedError(
                f"MoveFileExW flag 0x{unsupported:x} is not simulated; pytest-ocirace "
                "models MOVEFILE_REPLACE_EXISTING, MOVEFILE_COPY_ALLOWED and "
                "MOVEFILE_WRITE_THROUGH"
            )
        os_module = self.os
        move = os_module.replace if flags & MOVEFILE_REPLACE_EXISTING else os_module.rename
        try:
            move(src, dst)
        except OSError as exc:
            if not (
                flags & MOVEFILE_COPY_ALLOWED
                and getattr(exc, "winerror", None) == errors.ERROR_NOT_SAME_DEVICE
            ):
                return self._failed(exc)
            try:
                self._copy_then_delete(src, dst, replace=bool(flags & MOVEFILE_REPLACE_EXISTING))
            except OSError as copy_error:
                return self._failed(copy_error)
        self.set_last_error(0)
        return 1

    def _copy_then_delete(self, src: Any, dst: Any, *, replace: bool) -> None:
        os_module = self.os
        flags = os_module.O_WRONLY | os_module.O_CREAT | os_module.O_TRUNC
        if not replace:
            flags |= os_module.O_EXCL
        source = os_module.open(src, os_module.O_RDONLY)
        try:
            target = os_module.open(dst, flags)
            try:
                while chunk := os_module.read(source, 1 << 16):
                    os_module.write(target, chunk)
            finally:
                os_module.close(target)
        finally:
            os_module.close(source)
        os_module.remove(src)

    def replace_file(
        self,
        replaced: Any,
        replacement: Any,
        backup: Any = None,
        flags: int = 0,
        exclude: Any = None,
        reserved: Any = None,
    ) -> int:
        os_module = self.os
        if not os_module.path.exists(replaced):
            self.set_last_error(errors.ERROR_FILE_NOT_FOUND)
            return 0
        try:
            if backup:
                os_module.replace(replaced, backup)
        except OSError as exc:
            return self._failed(exc)
        try:
            os_module.replace(replacement, replaced)
        except OSError as exc:
            self._failed(exc)
            self.set_last_error(ERROR_UNABLE_TO_MOVE_REPLACEMENT)
            return 0
        self.set_last_error(0)
        return 1

    # -- msvcrt -------------------------------------------------------------------------

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        """The simulation's byte-range locks (``filelocks``); outside one, checks only."""
        simulated = active_msvcrt_locking()
        if simulated is not None:
            simulated(fd, mode, nbytes)
            return
        self.os.fstat(fd)
        if mode not in (0, 1, 2, 3, 4):
            raise OSError(_errno.EINVAL, "Invalid argument")

    def get_osfhandle(self, fd: int) -> int:
        self.os.fstat(fd)  # EBADF for a descriptor that is not open, as msvcrt
        return _HANDLE_BASE + 4 * fd

    def open_osfhandle(self, handle: int, flags: int) -> int:
        fd, rest = divmod(handle - _HANDLE_BASE, 4)
        if handle < _HANDLE_BASE or rest:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        self.os.fstat(fd)
        return fd

    def setmode(self, fd: int, flags: int) -> int:
        self.os.fstat(fd)
        return OS_CONSTANTS["O_BINARY"]


_WIN32_FROM_ERRNO = {
    _errno.ENOENT: errors.ERROR_FILE_NOT_FOUND,
    _errno.EACCES: errors.ERROR_ACCESS_DENIED,
    _errno.EEXIST: errors.ERROR_ALREADY_EXISTS,
    _errno.EXDEV: errors.ERROR_NOT_SAME_DEVICE,
    _errno.EINVAL: errors.ERROR_INVALID_PARAMETER,
    _errno.ENOTEMPTY: errors.ERROR_DIR_NOT_EMPTY,
}

#: The one surface of the process (the stand-ins are looked up by identity after import).
SURFACE = WindowsSurface()
