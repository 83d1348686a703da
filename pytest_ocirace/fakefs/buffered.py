r"""What the simulated ``open()`` returns: the io classes CPython returns, over a fake file.

pyfakefs' ``open()`` returns its own file objects, ``FakeBinaryFileWrapper`` (an
``io.BufferedIOBase``) and ``FakeTextFileWrapper`` (an ``io.TextIOBase``). Code that
asks for the class CPython gives met a different object:

- aiofiles' ``wrap`` is a ``functools.singledispatch`` on ``io.BufferedReader``,
  ``io.BufferedWriter``, ``io.BufferedRandom``, ``io.FileIO`` and ``io.TextIOBase``:
  ``NamedTemporaryFile("wb+")`` and ``TemporaryFile("rb+")`` got ``TypeError: Unsupported
  IO type``, and ``open(..., "rb+")`` an async wrapper without ``peek``/``readall``;
- ``detach()`` failed on both kinds (no raw stream or buffer below them), and so did
  ``f.raw``, ``peek``, ``read1``, ``readinto1``.

So while a simulation runs, ``open()``, ``io.open``, ``os.fdopen``, ``Path.open`` and
``tempfile``'s files (everything that reaches pyfakefs' ``FakeFileOpen.call``) return
what CPython's ``open()`` builds (``_pyio.open`` spells the recipe out): a raw
``FileIO`` (``fileio.py``, an ``_io.FileIO`` over pyfakefs' file object opened
unbuffered), then for ``buffering != 0`` C's ``BufferedReader`` (``rb``),
``BufferedWriter`` (``wb``/``ab``/``xb``) or ``BufferedRandom`` (``+``), then for text
C's ``TextIOWrapper`` with its ``mode`` set to the mode given. Every simulation rule stays
where it was, below the raw stream: the open goes through the same ``open()`` of the
filesystem layer (sharing, delete-pending, read-only files, the race model's open and
close), the descriptor is pyfakefs' (``fileno()``), a close reaches it through the raw
stream, and bytes reach the fake file when the buffer flushes, as they reach the disk.

The buffer size is Windows': ``io.DEFAULT_BUFFER_SIZE`` (Windows' ``fstat`` gives no
``st_blksize``). Text is translated as pyfakefs translated it (``newline`` as given,
``"\n"`` written as ``"\n"``), so nothing a suite saw of file contents changes.

A dropped file object is closed by CPython's own finalizer, as on the real machine (the
filesystem layer's reaping of unreferenced pyfakefs objects no longer meets these, whose
raw stream refers to them). Buffered and text objects are remembered weakly so that the
end of the simulation writes out what they hold before their descriptors are forgotten
(``left_open.py``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

from pyfakefs.fake_file import FakeFileWrapper

from pytest_ocirace.fakefs.fileio import FileIO, modes
from pytest_ocirace.fakefs.locking import LOCK

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = ["Mode", "parse", "stacked"]

_BufferedReader = io.BufferedReader
_BufferedWriter = io.BufferedWriter
_BufferedRandom = io.BufferedRandom
_TextIOWrapper = io.TextIOWrapper


class Mode:
    """An ``open()`` mode string, checked as CPython's ``open()`` checks it."""

    __slots__ = ("binary", "raw", "reported", "stream_class")

    def __init__(self, mode: str) -> None:
        if not isinstance(mode, str):
            raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")
        seen = set()
        for char in mode:
            if char not in "xrwa+tb" or char in seen:
                raise ValueError(f"invalid mode: '{mode}'")
            seen.add(char)
        creating, reading, writing, appending = ("x" in seen, "r" in seen, "w" in seen, "a" in seen)
        updating = "+" in seen
        if "t" in seen and "b" in seen:
            raise ValueError("can't have text and binary mode at once")
        if creating + reading + writing + appending != 1:
            raise ValueError("must have exactly one of create/read/write/append mode")
        self.binary = "b" in seen
        letter = "x" if creating else "r" if reading else "w" if writing else "a"
        #: The raw stream's mode as opened (``wb+`` creates and truncates) ...
        self.raw = letter + "b" + ("+" if updating else "")
        #: ... and as its ``mode`` says (``rb+``), which a binary object's ``mode`` repeats.
        self.reported = modes(self.raw)[1]
        self.stream_class: type[io.BufferedIOBase] = (
            _BufferedRandom if updating else _BufferedReader if reading else _BufferedWriter
        )


#: Parsed modes by string (a suite uses a handful; bounded all the same).
_MODES: dict[str, Mode] = {}


def parse(mode: str) -> Mode:
    """``mode`` checked once per distinct string (``ValueError`` as ``open()`` words it)."""
    parsed = _MODES.get(mode) if type(mode) is str else None
    if parsed is None:
        parsed = Mode(mode)
        if len(_MODES) < 256:
            _MODES[mode] = parsed
    return parsed


def _check_arguments(mode: Mode, encoding: Any, errors: Any, newline: Any) -> None:
    if not mode.binary:
        return
    if encoding is not None:
        raise ValueError("binary mode doesn't take an encoding argument")
    if errors is not None:
        raise ValueError("binary mode doesn't take an errors argument")
    if newline is not None:
        raise ValueError("binary mode doesn't take a newline argument")


def build(
    raw: Any,
    mode: Mode,
    mode_given: str,
    buffering: int,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
) -> Any:
    """``open()``'s objects over ``raw`` (CPython's ``open()``, after its raw ``FileIO``)."""
    line_buffering = False
    if buffering == 1 or (buffering < 0 and raw.isatty()):
        buffering = -1
        line_buffering = True
    if buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE  # Windows' fstat has no st_blksize
    if buffering == 0:
        if mode.binary:
            return raw
        raise ValueError("can't have unbuffered text I/O")
    stream = mode.stream_class(raw, buffering)  # type: ignore[call-arg]
    if mode.binary:
        return stream
    text = _TextIOWrapper(stream, encoding, errors, newline, line_buffering)  # type: ignore[type-var]
    text.mode = mode_given  # type: ignore[misc]  # open() sets it, as here
    return text


def stacked(inner: Callable[..., Any], active: Callable[[Any], Any]) -> Callable[..., Any]:
    """``FakeFileOpen.call`` returning CPython's io objects over ``inner``'s file object.

    ``inner`` is the filesystem layer's ``call`` (the simulation's rules around pyfakefs'
    own): it is asked for the raw, binary, unbuffered file object. pyfakefs' ``os.open``
    (``raw_io``, a descriptor only) and a filesystem with no simulation get ``inner``'s own.
    """

    def call(
        self: Any,
        file_: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
        open_modes: Any = None,
    ) -> Any:
        sim = None if self.raw_io or open_modes is not None else active(self.filesystem)
        if sim is None:
            return inner(
                self, file_, mode, buffering, encoding, errors, newline, closefd, opener, open_modes
            )
        parsed = parse(mode)
        _check_arguments(parsed, encoding, errors, newline)
        if not isinstance(buffering, int):
            raise TypeError(
                f"'{type(buffering).__name__}' object cannot be interpreted as an integer"
            )
        opened = inner(self, file_, parsed.raw, 0, None, None, None, closefd, opener, None)
        if isinstance(opened, FakeFileWrapper):
            # What open() names its objects by: the descriptor, or the path as passed
            # (the filesystem layer named pyfakefs' object so; an opener's object not).
            name: Any
            if isinstance(file_, int):
                name = file_
            elif opener is not None:
                name = os.fspath(file_)
            else:
                name = opened.name
            raw: Any = FileIO.over(opened, name, parsed.reported, closefd)
        else:  # a real descriptor: the real open()'s own raw FileIO
            raw = opened
        try:
            result = build(raw, parsed, mode, buffering, encoding, errors, newline)
        except BaseException:
            raw.close()
            raise
        if result is not raw and raw is not opened:
            with LOCK:  # a WeakSet is not safe against threads adding at once
                sim.left_open.add_stream(result)
        return result

    return call
