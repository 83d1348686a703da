r"""``io.FileIO`` on the simulated filesystem.

pyfakefs fakes ``open()``, ``io.open`` and ``os``, but not the ``io.FileIO`` class: code that
builds its own stack (``io.TextIOWrapper(io.BufferedWriter(io.FileIO(tmp, "w")))``, as
safer does for its temp files) opened ``C:\Users\ocirace\...\tmpXXXX`` on the real disk, a
relative file name with backslashes in the real working directory. The fake file of the
same name stayed empty, so the rename that published it made the target empty too (safer:
44 tests saw ``'' == 'replacement'``, and 121 stray files in its source tree).

While the fake filesystem is in force, ``io.FileIO`` is :class:`FileIO`: a raw stream over
the fake ``open(file, mode + "b", buffering=0)``, so it meets the simulation's rules
(sharing, read-only files, the race model) exactly as ``open()`` does. A descriptor the
fake filesystem does not own (a pipe, a standard stream), or a call while pyfakefs is paused
(pytest writing its reports), gets the real ``FileIO``. ``isinstance(f, io.FileIO)`` stays
true for real ``FileIO`` objects. ``_io.FileIO`` (what ``open()`` and the import system use
internally) is left alone.
"""

from __future__ import annotations

import _io
import abc
import io
from collections.abc import Callable
from typing import Any

from pyfakefs.fake_open import FakeFileOpen

from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = ["FileIO", "install"]

_REAL_FILEIO = _io.FileIO


def install(patches: ClassPatches) -> None:
    """Make ``io.FileIO`` :class:`FileIO` while a simulation is in force, undone with ``patches``.

    The stand-in asks ``inforce.IN_FORCE`` for the fake filesystem, whether it is in force
    right now (pyfakefs pauses it around pytest's reports) and whether a descriptor is its own.
    """
    patches.set(io, "FileIO", FileIO)


_RAW_MODES = {
    "r": "rb",
    "r+": "rb+",
    "w": "wb",
    "w+": "rb+",
    "a": "ab",
    "a+": "ab+",
    "x": "xb",
    "x+": "xb+",
}


def _raw_mode(mode: str) -> str:
    """``FileIO``'s normalised mode (what its ``mode`` attribute says), or ``ValueError``."""
    if not isinstance(mode, str):
        raise TypeError(f"FileIO() argument 'mode' must be str, not {type(mode).__name__}")
    letters = mode.replace("b", "", 1)
    key = "".join(sorted(letters, key="rwxa+".find))
    if key not in _RAW_MODES or len(key) != len(letters):
        raise ValueError(f"invalid mode: {mode}")
    return _RAW_MODES[key]


class _FileIOType(abc.ABCMeta):
    """``isinstance(real_file_io, io.FileIO)`` stays true while ``io.FileIO`` is ours."""

    def __instancecheck__(cls, instance: Any) -> bool:
        if cls is FileIO and isinstance(instance, _REAL_FILEIO):
            return True
        return super().__instancecheck__(instance)

    def __subclasscheck__(cls, subclass: type) -> bool:
        if cls is FileIO and issubclass(subclass, _REAL_FILEIO):
            return True
        return super().__subclasscheck__(subclass)


class FileIO(io.RawIOBase, metaclass=_FileIOType):
    """``io.FileIO(file, mode, closefd, opener)``, on a fake file when the simulation runs.

    A subclass's ``__init__`` may be called on an object made by ``__new__`` alone (safer
    does), so everything happens in ``__init__``, as with the real class.
    """

    name: Any

    def __init__(
        self,
        file: Any,
        mode: str = "r",
        closefd: bool = True,
        opener: Callable[[str, int], int] | None = None,
    ) -> None:
        raw_mode = _raw_mode(mode)
        if isinstance(file, float):
            raise TypeError("integer argument expected, got float")
        fake = IN_FORCE.is_active() and IN_FORCE.fs is not None
        if fake and isinstance(file, int):
            fake = IN_FORCE.owns_fd(file)
        self._raw: Any
        if fake:
            self._raw = FakeFileOpen(IN_FORCE.fs)(
                file, raw_mode, buffering=0, closefd=closefd, opener=opener
            )
        else:
            self._raw = _REAL_FILEIO(file, mode, closefd, opener)
        self._fake = fake
        self._mode = raw_mode
        self._closefd = closefd
        self.name = file

    # -- what FileIO says about itself ----------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def closefd(self) -> bool:
        return self._closefd

    def __repr__(self) -> str:
        if self.closed:
            return "<_io.FileIO [closed]>"
        return f"<_io.FileIO name={self.name!r} mode={self._mode!r} closefd={self._closefd!r}>"

    def fileno(self) -> int:
        self._check_open()
        return int(self._raw.fileno())

    def readable(self) -> bool:
        self._check_open()
        return "r" in self._mode or "+" in self._mode

    def writable(self) -> bool:
        self._check_open()
        return "r" not in self._mode or "+" in self._mode

    def seekable(self) -> bool:
        self._check_open()
        return bool(self._raw.seekable()) if not self._fake else True

    def isatty(self) -> bool:
        self._check_open()
        return bool(self._raw.isatty()) if not self._fake else False

    # -- data -----------------------------------------------------------------------------

    def readinto(self, buffer: Any) -> int | None:
        self._check_open()
        if not self.readable():
            raise io.UnsupportedOperation("File not open for reading")
        if not self._fake:
            return self._raw.readinto(buffer)  # type: ignore[no-any-return]
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        self._check_open()
        if not self.readable():
            raise io.UnsupportedOperation("File not open for reading")
        return bytes(self._raw.read() if self._fake else self._raw.readall())

    def write(self, data: Any) -> int | None:
        self._check_open()
        if not self.writable():
            raise io.UnsupportedOperation("File not open for writing")
        if not self._fake:
            return self._raw.write(data)  # type: ignore[no-any-return]
        chunk = bytes(data)
        self._raw.write(chunk)
        self._raw.flush()  # a raw stream has no buffer: the bytes are in the file now
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        result = self._raw.seek(offset, whence)
        return int(self._raw.tell() if self._fake else result)

    def tell(self) -> int:
        self._check_open()
        return int(self._raw.tell())

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        if not self.writable():
            raise io.UnsupportedOperation("File not open for writing")
        if size is None:
            size = self.tell()
        self._raw.truncate(size)
        if self._fake:
            self._raw.flush()
        return size

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
        finally:
            raw = getattr(self, "_raw", None)
            if raw is not None:
                raw.close()

    def _check_open(self) -> None:
        if self.closed or not hasattr(self, "_raw"):
            raise ValueError("I/O operation on closed file")
