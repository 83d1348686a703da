r"""``io.FileIO`` on the simulated filesystem: a real ``FileIO`` whose bytes are a fake file's.

pyfakefs fakes ``open()``, ``io.open`` and ``os``, but not the ``io.FileIO`` class: code that
builds its own stack (``io.TextIOWrapper(io.BufferedWriter(io.FileIO(tmp, "w")))``, as
safer does for its temp files) opened ``C:\Users\ocirace\...\tmpXXXX`` on the real disk, a
relative file name with backslashes in the real working directory. The fake file of the
same name stayed empty, so the rename that published it made the target empty too (safer:
44 tests saw ``'' == 'replacement'``, and 121 stray files in its source tree).

While the fake filesystem is in force, ``io.FileIO`` is :class:`FileIO`: a subclass of the
real ``_io.FileIO`` whose data calls go to one pyfakefs file object opened unbuffered
(``open(file, mode + "b", buffering=0)`` of the fake filesystem), so it meets the
simulation's rules (sharing, read-only files, the race model, descriptors) exactly as
``open()`` does. The same class is the raw stream under every binary and text file object
the simulated ``open()`` returns (``buffered.py``): it *is* an ``_io.FileIO``, so
``isinstance``, ``functools.singledispatch`` on the io classes (aiofiles' ``wrap``) and
C's ``BufferedReader``/``BufferedWriter``/``BufferedRandom`` accept it as they accept the
real one. Its C part never holds a descriptor (its own ``fd`` stays -1); every method that
would touch one is defined here.

A descriptor the fake filesystem does not own (a pipe, a standard stream), or a call while
pyfakefs is paused (pytest writing its reports), gets the real class's own behaviour on the
same object. ``isinstance(f, io.FileIO)`` stays true for real ``FileIO`` objects while
``io.FileIO`` is this class. ``_io.FileIO`` (what the import system uses) is left alone.
"""

from __future__ import annotations

import _io
import abc
import io
from collections.abc import Callable
from typing import Any

from pyfakefs.fake_open import FakeFileOpen

from pytest_ocirace.fakefs.filelocks import handle_position
from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = ["FileIO", "install", "modes"]

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


def modes(mode: str) -> tuple[str, str]:
    """``(the binary open() mode, what FileIO's mode attribute says)``, or ``ValueError``.

    They differ for ``w+``: the file is opened ``wb+`` (created, truncated), and ``FileIO``
    calls it ``rb+``.
    """
    if not isinstance(mode, str):
        raise TypeError(f"FileIO() argument 'mode' must be str, not {type(mode).__name__}")
    letters = mode.replace("b", "", 1)
    key = "".join(sorted(letters, key="rwxa+".find))
    if key not in _RAW_MODES or len(key) != len(letters):
        raise ValueError(f"invalid mode: {mode}")
    return key[0] + "b" + key[1:], _RAW_MODES[key]


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


def _closed_file() -> ValueError:
    return ValueError("I/O operation on closed file")


class FileIO(_REAL_FILEIO, metaclass=_FileIOType):
    """``io.FileIO(file, mode, closefd, opener)``, on a fake file when the simulation runs.

    A subclass's ``__init__`` may be called on an object made by ``__new__`` alone (safer
    does), so everything happens in ``__init__``, as with the real class. ``_fake`` is the
    pyfakefs file object (``None``: this object is a real ``FileIO``, and the real class's
    methods answer).
    """

    _fake: Any = None
    _shut = False
    _raw_mode = "rb"
    _owns_fd = True

    def __init__(
        self,
        file: Any,
        mode: str = "r",
        closefd: bool = True,
        opener: Callable[[str, int], int] | None = None,
    ) -> None:
        opening, normalised = modes(mode)
        if isinstance(file, float):
            raise TypeError("integer argument expected, got float")
        fake = IN_FORCE.is_active() and IN_FORCE.fs is not None
        if fake and isinstance(file, int):
            fake = IN_FORCE.owns_fd(file)
        if not fake:
            self._fake = None
            _REAL_FILEIO.__init__(self, file, mode, closefd, opener)
            return
        # The simulated open() of the raw mode, unbuffered: the simulation's rules, and a
        # FileIO of this class over pyfakefs' file object, whose file object this one takes.
        opened = FakeFileOpen(IN_FORCE.fs)(
            file, opening, buffering=0, closefd=closefd, opener=opener
        )
        if isinstance(opened, FileIO):
            fake_file, opened._fake, opened._shut = opened._fake, None, True
        else:  # the stack is not built here (a filesystem without a simulation)
            fake_file = opened
        self._attach(fake_file, file, normalised, closefd)

    @classmethod
    def over(cls, fake_file: Any, name: Any, mode: str, closefd: bool) -> FileIO:
        """A :class:`FileIO` over a pyfakefs binary file object opened with ``buffering=0``."""
        self = _REAL_FILEIO.__new__(cls)
        self._attach(fake_file, name, mode, closefd)
        return self

    def _attach(self, fake_file: Any, name: Any, mode: str, closefd: bool) -> None:
        self._fake = fake_file
        self._shut = False
        self._raw_mode = mode
        self._owns_fd = closefd
        self.name = name

    # -- what FileIO says about itself ----------------------------------------------------

    @property
    def mode(self) -> str:  # type: ignore[override]
        if self._fake is None:
            return str(_REAL_FILEIO.mode.__get__(self))  # type: ignore[attr-defined]
        return self._raw_mode

    @property
    def closefd(self) -> bool:
        if self._fake is None:
            return bool(_REAL_FILEIO.closefd.__get__(self))
        return self._owns_fd

    @property
    def closed(self) -> bool:
        if self._fake is None:
            return bool(_REAL_FILEIO.closed.__get__(self))
        return self._shut

    def __repr__(self) -> str:
        if self._fake is None:
            return _REAL_FILEIO.__repr__(self)
        if self._shut:
            return "<_io.FileIO [closed]>"
        return f"<_io.FileIO name={self.name!r} mode={self._raw_mode!r} closefd={self._owns_fd!r}>"

    def fileno(self) -> int:
        if self._fake is None:
            return _REAL_FILEIO.fileno(self)
        self._check_open()
        return int(self._fake.fileno())

    def readable(self) -> bool:
        if self._fake is None:
            return _REAL_FILEIO.readable(self)
        self._check_open()
        return "r" in self._raw_mode or "+" in self._raw_mode

    def writable(self) -> bool:
        if self._fake is None:
            return _REAL_FILEIO.writable(self)
        self._check_open()
        return "r" not in self._raw_mode or "+" in self._raw_mode

    def seekable(self) -> bool:
        if self._fake is None:
            return _REAL_FILEIO.seekable(self)
        self._check_open()
        return True

    def isatty(self) -> bool:
        if self._fake is None:
            return _REAL_FILEIO.isatty(self)
        self._check_open()
        return False

    def flush(self) -> None:
        if self._fake is None:
            _REAL_FILEIO.flush(self)
            return
        self._check_open()  # nothing is buffered here: each write reached the file

    # -- data -----------------------------------------------------------------------------

    def readinto(self, buffer: Any, /) -> int:
        if self._fake is None:
            return _REAL_FILEIO.readinto(self, buffer)
        self._check_readable()
        return int(self._fake.readinto(buffer))

    def read(self, size: int | None = -1, /) -> bytes:
        if self._fake is None:
            return _REAL_FILEIO.read(self, size)
        self._check_readable()
        if size is None or size < 0:
            return bytes(self._fake.read())
        return bytes(self._fake.read(size))

    def readall(self) -> bytes:
        if self._fake is None:
            return _REAL_FILEIO.readall(self)
        self._check_readable()
        return bytes(self._fake.read())

    def write(self, data: Any, /) -> int:
        if self._fake is None:
            return _REAL_FILEIO.write(self, data)
        self._check_open()
        if not self.writable():
            raise io.UnsupportedOperation("File not open for writing")
        # Unbuffered (buffering=0): pyfakefs puts the bytes into the fake file at once.
        written = self._fake.write(data)
        return len(memoryview(data)) if written is None else int(written)

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if self._fake is None:
            return _REAL_FILEIO.seek(self, offset, whence)
        self._check_open()
        if whence == io.SEEK_CUR and "a" in self._raw_mode:
            # pyfakefs moves an append-mode object's read position relative to its write
            # position (the end); the buffered classes seek (0, SEEK_CUR) before each read.
            offset, whence = int(self._fake.tell()) + offset, io.SEEK_SET
        self._fake.seek(offset, whence)
        return int(self._fake.tell())

    def tell(self) -> int:
        if self._fake is None:
            return _REAL_FILEIO.tell(self)
        self._check_open()
        # Without pyfakefs' flush (nothing is buffered below: each write was flushed), as
        # the buffered classes ask at every open: a tenth of a small file's open and close.
        return handle_position(self._fake)

    def truncate(self, size: int | None = None, /) -> int:
        if self._fake is None:
            return _REAL_FILEIO.truncate(self, size)
        self._check_open()
        if not self.writable():
            raise io.UnsupportedOperation("File not open for writing")
        if size is None:
            size = self.tell()
        position = self._fake.tell()
        self._fake.truncate(size)
        self._fake.seek(position)  # FileIO.truncate leaves the position where it was
        return size

    def close(self) -> None:
        if self._fake is None:
            _REAL_FILEIO.close(self)
            return
        if self._shut:
            return
        self._shut = True  # closed even if pyfakefs' close fails, as FileIO is
        self._fake.close()

    def _check_open(self) -> None:
        if self._shut:
            raise _closed_file()

    def _check_readable(self) -> None:
        self._check_open()
        if not self.readable():
            raise io.UnsupportedOperation("File not open for reading")
