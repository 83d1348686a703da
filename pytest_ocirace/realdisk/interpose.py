"""Python-level interposition in a participating process: announce, obey, report back.

Every file operation that Windows could refuse is announced to the coordinator *before* it
runs (``before``: the answer may be a Windows error, raised here in the caller's frame) and
reported after it ran (``after``, without waiting). The patches are on the ``os``,
``builtins``/``io``, ``fcntl``, ``subprocess`` and ``multiprocessing`` module objects, looked
up at call time by the standard library (``shutil``, ``tempfile``, pathlib from 3.11);
Python 3.10's pathlib bound ``os`` functions at import, so its accessor is patched too.

``open()`` returns the usual ``io`` stack built over a ``FileIO`` subclass whose ``close``
reports the close: a close done by C code, or by a process that dies, is caught by the
coordinator's liveness check instead. Everything is reversible (:meth:`Interposition.remove`)
so that the test process is left as it was found.
"""

from __future__ import annotations

import _thread as _threads  # the C module: ``threading`` costs start-up time
import builtins
import errno
import io
import os
import sys

from pytest_ocirace.realdisk.afterimport import AfterImport
from pytest_ocirace.realdisk.client import Client

TYPE_CHECKING = False  # not typing's: a joining child imports this module at start-up

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

__all__ = ["Interposition", "WorkItem", "active", "internal_thread", "ready"]

__tracebackhide__ = True

_HERE = os.path.dirname(os.path.abspath(__file__))
_MAX_FRAMES = 40
_RACE_ATTRIBUTE = "_ocirace_race_number"

_ACTIVE: list[Interposition | None] = [None]
_guard = _threads._local()
#: The thread that imported this module: a child's main thread (the ``.pth`` hook runs there).
_MAIN_IDENT = _threads.get_ident()


def active() -> Interposition | None:
    return _ACTIVE[0]


def ready(ip: Interposition) -> bool:
    """Whether ``ip`` is in force and the calling thread is not talking to the coordinator.

    One call, not two: every wrapped operation asks it, several times.
    """
    return _ACTIVE[0] is ip and not getattr(_guard, "busy", False)


def internal_thread() -> None:
    """The calling thread is ours (the coordinator's): nothing it does is interposed.

    The judge looks at the disk (``os.lstat``) while it holds the coordinator's lock; in the
    test process that call must not be announced back to the same coordinator.
    """
    _guard.busy = True


def _frames() -> list[list[Any]]:
    frames: list[list[Any]] = []
    frame = sys._getframe(2)
    while frame is not None and len(frames) < _MAX_FRAMES:
        filename = frame.f_code.co_filename
        if not filename.startswith(_HERE):
            frames.append([filename, frame.f_lineno, frame.f_code.co_name])
        frame = frame.f_back  # type: ignore[assignment]
    frames.reverse()
    return frames


def _normal(text: str) -> bool:
    """Whether ``text`` is absolute and ``os.path.normpath`` would leave it as it is.

    No empty, ``.`` or ``..`` component and no trailing separator (``/.`` also rules out
    a name that starts with a dot, which only costs the slow path). ``normpath`` is pure
    Python before 3.12 and ran three times per write+replace.
    """
    return (
        text[:1] == "/"
        and "//" not in text
        and "/." not in text
        and (text[-1:] != "/" or text == "/")
        and os.sep == "/"
    )


def _thread() -> tuple[int, str]:
    """The calling thread, also while it starts (``_bootstrap_inner`` sends its adopt).

    Not ``threading.current_thread()``: before the thread is registered it would build a
    ``_DummyThread`` (named ``Dummy-N`` in the report, and never cleaned up).
    """
    ident = _threads.get_ident()
    threading: Any = sys.modules.get("threading")
    if threading is None:  # not imported (yet): threading would name the main thread so
        return ident, "MainThread" if ident == _MAIN_IDENT else f"thread {ident}"
    found = threading._active.get(ident)
    if found is None:
        for starting in list(threading._limbo):
            if getattr(starting, "_ident", None) == ident:
                found = starting
                break
    return ident, found.name if found is not None else f"thread {ident}"


def _race_number(exc: BaseException) -> int | None:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        number = getattr(current, _RACE_ATTRIBUTE, None)
        if isinstance(number, int):
            return number
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


class _Op:
    """One announced operation: its message, and the user's spelling for errors."""

    __slots__ = ("display", "display2", "message")

    def __init__(self, message: dict[str, Any], display: Any, display2: Any) -> None:
        self.message = message
        self.display = display
        self.display2 = display2


class Interposition:
    """The patches of one process, bound to its client and its exclusions."""

    def __init__(self, client: Client, exclude: Iterable[str] = ()) -> None:
        self.client = client
        self.exclude = tuple(os.path.join(os.path.abspath(p), "") for p in exclude if p)
        self._undo: list[Callable[[], None]] = []
        #: Patches of modules this process has not imported yet (``afterimport.py``).
        self.after_import = AfterImport()
        self._fds: set[int] = set()
        #: Announcements so far: each report names its announcement by this number.
        self._announced = 0
        self._flocks: dict[int, str] = {}
        self.real_open: Callable[..., Any] = builtins.open
        #: What a subprocess needs in its environment to join (socket, secret, exclusions).
        self.environment: dict[str, str] = {}

    # -- talking to the coordinator --------------------------------------------------------

    def path(self, value: Any) -> str | None:
        """The tracked absolute path of ``value``, or None (a descriptor, excluded, odd)."""
        if type(value) is str:  # the common case: what fspath and fsdecode return as it is
            text = value
        elif isinstance(value, int) or value is None:
            return None
        else:
            try:
                text = os.fsdecode(os.fspath(value))
            except TypeError:
                return None
        # A path already absolute and normal is what abspath would return (the common case);
        # abspath calls normpath, so its result is normalised too.
        if not text or "\x00" in text:
            # Names no call accepts: the real call raises what CPython raises (an empty
            # name is FileNotFoundError, an embedded NUL ValueError). Announced, "" was
            # abspath's working directory: an exclusive create of it was refused as an
            # existing name (FileExistsError), and filelock's SoftFileLock, which takes
            # that for "held", polled for ever; a NUL failed inside the coordinator.
            return None
        absolute = text if _normal(text) else os.path.abspath(text)
        if (absolute + os.sep).startswith(self.exclude):
            return None
        return absolute

    def _message(self, kind: str, **fields: Any) -> dict[str, Any]:
        tid, tname = _thread()
        return {"type": kind, "tid": tid, "tname": tname, **fields}

    def before(
        self,
        kind: str,
        path: str,
        display: Any,
        path2: str | None = None,
        display2: Any = None,
        *,
        access: list[str] | None = None,
        creates: bool = False,
        exclusive: bool = False,
    ) -> _Op:
        op = {
            "kind": kind,
            "path": path,
            "path2": path2,
            "fd": None,
            "access": access or [],
            "creates": creates,
            "exclusive": exclusive,
        }
        self._announced += 1  # under the GIL; two threads never get one number here
        number = self._announced
        tid, tname = _thread()
        message = {
            "type": "before",
            "tid": tid,
            "tname": tname,
            "op": op,
            "frames": _frames(),
            "n": number,
        }
        _guard.busy = True
        try:
            answer = self.client.request(message)
        finally:
            _guard.busy = False
        error = answer.get("error")
        if isinstance(error, dict):
            from pytest_ocirace.winrules.errors import (
                WINERROR_TO_ERRNO,
                crt_error,
                windows_error,
            )

            winerror = int(error.get("winerror") or 5)
            if error.get("crt"):
                # The C runtime's mapping, as the fake filesystem's open() uses it.
                exc = crt_error(WINERROR_TO_ERRNO.get(winerror, errno.EINVAL), display)
            else:
                exc = windows_error(winerror, display, display2)
            race = answer.get("race")
            setattr(exc, _RACE_ATTRIBUTE, race if isinstance(race, int) else 0)
            raise exc
        return _Op(message, display, display2)

    def after(self, op: _Op, ok: bool, fd: int | None = None) -> None:
        # The report names its announcement by number: the coordinator kept the operation
        # (with its handle), so the report is four fields instead of the whole operation
        # again, to encode here and to decode and check there, twice per write+replace.
        _guard.busy = True
        try:
            self.client.report(op.message["n"], ok, fd)
        finally:
            _guard.busy = False

    def send(self, kind: str, *, wait: bool = True, **fields: Any) -> None:
        message = self._message(kind, **fields)
        _guard.busy = True
        try:
            if wait:
                self.client.request(message)
            else:
                self.client.notify(message)
        finally:
            _guard.busy = False

    def check(self, path: str, *, present: bool) -> bool:
        """An existence check of ``path`` ran; True if it must answer "absent" instead.

        Only a name that is really there needs the coordinator's answer (the race model may
        say another process's unordered creation is not guaranteed to be seen, as the fake
        filesystem answers). A name really absent is announced without waiting: "absent"
        is then the answer in every schedule, so a check of a missing file costs one write.
        """
        message = self._message("check", path=path, present=present, frames=_frames())
        _guard.busy = True
        try:
            if not present:
                self.client.notify(message)
                return False
            answer = self.client.request(message)
        finally:
            _guard.busy = False
        return answer.get("absent") is True

    def notify_as(self, tid: int, tname: str, kind: str, **fields: Any) -> None:
        """Send without waiting, for the thread ``tid`` (a lock released by another thread)."""
        _guard.busy = True
        try:
            self.client.notify({"type": kind, "tid": tid, "tname": tname, **fields})
        finally:
            _guard.busy = False

    def closed(self, fd: int) -> None:
        """A tracked descriptor was closed (by ``os.close`` or a file object).

        The close is deferred: it goes with this process's next message (``Client.defer``),
        which saves a write and a wake-up of the coordinator per file. No verdict can
        differ for it. Every edge out of this process is a message, so whatever another
        process does after this close through an edge the race model knows finds the close
        judged first. Without such an edge the two are unordered, and the race model judges
        an unordered replace against the handle alike whether it is closed or not. The disk
        state never refuses for a handle that is really closed (``diskstate.Handle.alive``),
        and a process that exits before saying more has all its handles closed by its exit.
        A file lock on the descriptor is a lock across processes: its release goes now.
        """
        if fd not in self._fds:
            return
        self._fds.discard(fd)
        key = self._flocks.pop(fd, None)
        if key is not None:
            self.send("unlock", wait=False, key=key)
        # The closing thread: a handle opened by one thread and closed by another ends at
        # the closer's epoch (persist-queue's consumer closes the chunk the main thread
        # opened, then deletes it).
        _guard.busy = True
        try:
            self.client.closed(fd, _threads.get_ident())
        finally:
            _guard.busy = False

    # -- installing ------------------------------------------------------------------------

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> Interposition:
        if _ACTIVE[0] is not None:
            raise RuntimeError("pytest-ocirace: process interposition is already installed")
        from pytest_ocirace.realdisk import edges, files

        files.install(self)
        edges.install(self)
        _ACTIVE[0] = self
        self.after_import.when_imported("threading", self._instrument_threads)
        return self

    def _instrument_threads(self) -> None:
        """``threading``'s primitives (a child that never imports it does not pay for this)."""
        from pytest_ocirace.realdisk import threads

        threads.install(self)

    def remove(self) -> None:
        self.after_import.remove()
        while self._undo:
            self._undo.pop()()
        if _ACTIVE[0] is self:
            _ACTIVE[0] = None

    def busy(self) -> bool:
        return bool(getattr(_guard, "busy", False))

    def escaped(self, exc: BaseException) -> None:
        """An exception leaves this process's code: if we raised it, say so.

        Race number 0 marks an error of the decision table (no race behind it).
        """
        number = _race_number(exc)
        if number is not None:
            try:  # noqa: SIM105 - contextlib is an import a joining child skips
                self.send("escaped", wait=False, race=number, text=f"{type(exc).__name__}: {exc}")
            except Exception:
                pass  # the line is gone (exiting): the exit code still says it


class WorkItem:
    """A function sent to a pool worker, run there as its own strand after the submit.

    Picklable by reference (module-level class), so spawn and forkserver pools can take it.
    """

    def __init__(self, function: Callable[..., Any], token: str) -> None:
        self.function = function
        self.token = token

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        current = active()
        if current is None:
            return self.function(*args, **kwargs)
        current.send("item", token=self.token, begin=True)
        try:
            return self.function(*args, **kwargs)
        finally:
            current.send("item", token=self.token, begin=False)


def new_token() -> str:
    """A name for one start, submit or thread (not a secret: ``secrets`` costs imports)."""
    return os.urandom(8).hex()


def io_stack(
    raw: io.FileIO,
    mode: str,
    buffering: int,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
) -> Any:
    """What ``open()`` builds over ``raw`` (as ``_pyio.open`` does)."""
    binary = "b" in mode
    line_buffering = False
    if buffering == 1 or (buffering < 0 and raw.isatty()):
        buffering = -1
        line_buffering = True
    if buffering < 0:
        # What FileIO's own fstat found (as C's open() reads it): no second fstat.
        size = getattr(raw, "_blksize", 0)
        buffering = size if size > 1 else io.DEFAULT_BUFFER_SIZE
    if buffering == 0:
        if binary:
            return raw
        raise ValueError("can't have unbuffered text I/O")
    buffer: Any
    if "+" in mode:
        buffer = io.BufferedRandom(raw, buffering)
    elif any(c in mode for c in "wxa"):
        buffer = io.BufferedWriter(raw, buffering)
    else:
        buffer = io.BufferedReader(raw, buffering)
    if binary:
        return buffer
    text = io.TextIOWrapper(buffer, encoding, errors, newline, line_buffering)
    text.mode = mode  # type: ignore[misc]
    return text
