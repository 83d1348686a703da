"""Build ``OSError`` instances that look exactly like the ones CPython raises on Windows.

On Windows, CPython derives ``errno`` from the Win32 error code, keeps it in ``winerror``
and prints ``[WinError N] message: 'src' -> 'dst'``. On Linux the ``winerror`` constructor
argument is silently dropped and ``str()`` says ``[Errno N]``; user code under test inspects
``exc.winerror`` (pip, conda and filelock all do), so we have to put it back ourselves.

The exception classes created here subclass the builtin ones and present themselves under
the builtin names, so ``except PermissionError`` and tracebacks read as they would on
Windows. ``errno`` values are the host's constants (what ``errno.EACCES`` etc. compare
against in the code under test), which coincide with Windows' for every code we raise.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Union

__all__ = [
    "CRT_MESSAGES",
    "ERROR_ACCESS_DENIED",
    "ERROR_ALREADY_EXISTS",
    "ERROR_DIRECTORY",
    "ERROR_DIR_NOT_EMPTY",
    "ERROR_FILENAME_EXCED_RANGE",
    "ERROR_FILE_EXISTS",
    "ERROR_FILE_NOT_FOUND",
    "ERROR_INVALID_NAME",
    "ERROR_INVALID_PARAMETER",
    "ERROR_LOCK_VIOLATION",
    "ERROR_NOT_SAME_DEVICE",
    "ERROR_PATH_NOT_FOUND",
    "ERROR_SHARING_VIOLATION",
    "MESSAGES",
    "WINERROR_TO_ERRNO",
    "crt_error",
    "is_windows_error",
    "windows_error",
]

ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_ACCESS_DENIED = 5
ERROR_NOT_SAME_DEVICE = 17
ERROR_SHARING_VIOLATION = 32
ERROR_LOCK_VIOLATION = 33
ERROR_FILE_EXISTS = 80
ERROR_INVALID_PARAMETER = 87
ERROR_INVALID_NAME = 123
ERROR_DIR_NOT_EMPTY = 145
ERROR_ALREADY_EXISTS = 183
ERROR_FILENAME_EXCED_RANGE = 206
ERROR_DIRECTORY = 267

#: The text ``FormatMessageW`` returns for each code (what CPython puts in ``strerror``).
MESSAGES: dict[int, str] = {
    ERROR_FILE_NOT_FOUND: "The system cannot find the file specified",
    ERROR_PATH_NOT_FOUND: "The system cannot find the path specified",
    ERROR_ACCESS_DENIED: "Access is denied",
    ERROR_NOT_SAME_DEVICE: "The system cannot move the file to a different disk drive",
    ERROR_SHARING_VIOLATION: (
        "The process cannot access the file because it is being used by another process"
    ),
    ERROR_LOCK_VIOLATION: (
        "The process cannot access the file because another process has locked a portion "
        "of the file"
    ),
    ERROR_FILE_EXISTS: "The file exists",
    ERROR_INVALID_PARAMETER: "The parameter is incorrect",
    ERROR_INVALID_NAME: ("The filename, directory name, or volume label syntax is incorrect"),
    ERROR_DIR_NOT_EMPTY: "The directory is not empty",
    ERROR_ALREADY_EXISTS: "Cannot create a file when that file already exists",
    ERROR_FILENAME_EXCED_RANGE: "The filename or extension is too long",
    ERROR_DIRECTORY: "The directory name is invalid",
}

#: CPython's ``winerror_to_errno`` (PC/errmap.h) for the codes above.
WINERROR_TO_ERRNO: dict[int, int] = {
    ERROR_FILE_NOT_FOUND: _errno.ENOENT,
    ERROR_PATH_NOT_FOUND: _errno.ENOENT,
    ERROR_ACCESS_DENIED: _errno.EACCES,
    ERROR_NOT_SAME_DEVICE: _errno.EXDEV,
    ERROR_SHARING_VIOLATION: _errno.EACCES,
    ERROR_LOCK_VIOLATION: _errno.EACCES,
    ERROR_FILE_EXISTS: _errno.EEXIST,
    ERROR_INVALID_PARAMETER: _errno.EINVAL,
    ERROR_INVALID_NAME: _errno.EINVAL,
    ERROR_DIR_NOT_EMPTY: _errno.ENOTEMPTY,
    ERROR_ALREADY_EXISTS: _errno.EEXIST,
    ERROR_FILENAME_EXCED_RANGE: _errno.ENOENT,
    ERROR_DIRECTORY: _errno.EINVAL,
}

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", int, None]


class _WindowsErrorMixin:
    """Gives an ``OSError`` subclass Windows' ``str()`` and a real ``winerror`` attribute."""

    winerror: int

    def __str__(self) -> str:
        assert isinstance(self, OSError)
        text = f"[WinError {self.winerror}] {self.strerror}"
        if self.filename is not None:
            text += f": {self.filename!r}"
            if self.filename2 is not None:
                text += f" -> {self.filename2!r}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # Pickle (xdist, multiprocessing) as the equivalent Windows-shaped error so that the
        # receiving side gets the same text and ``winerror`` even without our classes.
        assert isinstance(self, OSError)
        return (
            windows_error,
            (self.winerror, self.filename, self.filename2),
        )


def _make(base: type[OSError]) -> type[OSError]:
    cls = type(base.__name__, (_WindowsErrorMixin, base), {"__module__": "builtins"})
    cls.__qualname__ = base.__name__
    return cls


_CLASSES: dict[type[OSError], type[OSError]] = {
    base: _make(base)
    for base in (
        OSError,
        PermissionError,
        FileExistsError,
        FileNotFoundError,
        IsADirectoryError,
        NotADirectoryError,
    )
}

_ERRNO_CLASS: dict[int, type[OSError]] = {
    _errno.EACCES: PermissionError,
    _errno.EPERM: PermissionError,
    _errno.EEXIST: FileExistsError,
    _errno.ENOENT: FileNotFoundError,
    _errno.EISDIR: IsADirectoryError,
    _errno.ENOTDIR: NotADirectoryError,
}


def _as_text(path: PathArg) -> str | bytes | int | None:
    if path is None or isinstance(path, (str, bytes, int)):
        return path
    return os.fspath(path)


def windows_error(
    winerror: int,
    filename: PathArg = None,
    filename2: PathArg = None,
) -> OSError:
    """Return the exception CPython on Windows raises for ``winerror`` on these paths.

    The class is chosen from the derived errno exactly as CPython does, so a sharing
    violation is a ``PermissionError`` and error 183 a ``FileExistsError``.
    """
    err = WINERROR_TO_ERRNO.get(winerror, _errno.EINVAL)
    message = MESSAGES.get(winerror, f"Unknown Windows error {winerror}")
    cls = _CLASSES[_ERRNO_CLASS.get(err, OSError)]
    name1 = _as_text(filename)
    name2 = _as_text(filename2)
    if name1 is None:
        exc = cls(err, message)
    elif name2 is None:
        exc = cls(err, message, name1)
    else:
        exc = cls(err, message, name1, None, name2)
    exc.winerror = winerror  # type: ignore[attr-defined]
    return exc


def is_windows_error(exc: BaseException) -> bool:
    """Whether ``exc`` was built here (or came from a real Windows machine)."""
    return isinstance(exc, OSError) and isinstance(getattr(exc, "winerror", None), int)


#: What the Microsoft C runtime's ``strerror`` says (``open()``/``os.open`` go through it).
CRT_MESSAGES: dict[int, str] = {
    _errno.ENOENT: "No such file or directory",
    _errno.EACCES: "Permission denied",
    _errno.EEXIST: "File exists",
    _errno.EINVAL: "Invalid argument",
    _errno.EISDIR: "Is a directory",
    _errno.ENOTDIR: "Not a directory",
}


def crt_error(err: int, filename: PathArg = None) -> OSError:
    """Return the exception CPython on Windows raises when the C runtime's ``_wopen`` fails.

    ``open()`` and ``os.open`` do not call Win32 directly: the CRT maps the Win32 error to an
    errno (sharing violation -> EACCES, ERROR_FILE_EXISTS -> EEXIST) and CPython raises from
    errno alone, so the message reads ``[Errno 13] Permission denied: 'x'`` and ``winerror``
    is ``None`` (the attribute exists on Windows; we add it so code reading it works here).
    """
    message = CRT_MESSAGES.get(err, f"Unknown error {err}")
    cls = _ERRNO_CLASS.get(err, OSError)
    name = _as_text(filename)
    exc = cls(err, message) if name is None else cls(err, message, name)
    exc.winerror = None  # type: ignore[attr-defined]
    return exc
