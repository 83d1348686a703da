"""A tiny in-memory stand-in for the Windows filesystem layer, for testing the race model.

It plays the layer's side of the ``events.py`` contract exactly: every operation runs under
one global lock, ``observer.before`` is asked first (and may raise or answer
PRETEND_ABSENT), then the operation runs with minimal Windows semantics (rename onto an
existing name is 183, replace onto or remove of an open name fails, a missing source is 2),
then ``observer.after`` gets the outcome. Paths are case-folded keys under ``c:\\``.
"""

from __future__ import annotations

import _thread
import hashlib
import itertools
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_ocirace.racemodel.events import Answer, FsObserver, FsOp, OpKind
from pytest_ocirace.racemodel.model import RaceModel
from pytest_ocirace.racemodel.sync import Instrumentation, install
from pytest_ocirace.winrules.errors import windows_error


def key(path: str) -> str:
    return "c:\\" + path.replace("/", "\\").lower()


class Driver:
    def __init__(self, observer: FsObserver, jitter: float = 0.0) -> None:
        self.observer = observer
        self.files: dict[str, bytes] = {}
        self.handles: dict[int, tuple[str, frozenset[str]]] = {}
        self._lock = _thread.RLock()
        self._ids = itertools.count(3)
        self.jitter = jitter
        self._random = random.Random()

    def _pause(self) -> None:
        if self.jitter:
            time.sleep(self._random.random() * self.jitter)

    def _run(self, op: FsOp, action: object) -> object:
        self._pause()
        with self._lock:
            answer = self.observer.before(op)
            try:
                result = action(answer)  # type: ignore[operator]
            except OSError as exc:
                self.observer.after(op, exc)
                raise
            self.observer.after(op, None)
            return result

    def _open_on(self, k: str) -> bool:
        return any(p == k for p, _ in self.handles.values())

    # -- operations ---------------------------------------------------------------------

    def open(self, path: str, mode: str = "r") -> int:
        k = key(path)
        creates = mode[0] in "wax"
        access = frozenset({"read"} if mode == "r" else {"write"})
        handle = next(self._ids)
        with self._lock:  # what the layer reports: whether the open makes the name appear
            appears = creates and k not in self.files
        op = FsOp(OpKind.OPEN, k, path, handle=handle, access=access, creates=appears)

        def action(_answer: Answer) -> int:
            if k not in self.files:
                if not creates:
                    raise windows_error(2, path)
                self.files[k] = b""
            elif mode[0] == "w":
                self.files[k] = b""
            self.handles[handle] = (k, access)
            return handle

        return int(self._run(op, action))  # type: ignore[call-overload]

    def write(self, handle: int, data: bytes) -> None:
        with self._lock:
            k, _ = self.handles[handle]
            self.files[k] = self.files[k] + data

    def read(self, handle: int) -> bytes:
        with self._lock:
            return self.files[self.handles[handle][0]]

    def close(self, handle: int) -> None:
        k, _ = self.handles[handle]
        op = FsOp(OpKind.CLOSE, k, k, handle=handle)

        def action(_answer: Answer) -> None:
            del self.handles[handle]

        self._run(op, action)

    def _move(self, kind: OpKind, src: str, dst: str) -> None:
        ks, kd = key(src), key(dst)
        digest = None
        with self._lock:
            if ks in self.files:
                digest = hashlib.sha256(self.files[ks]).hexdigest()
            appears = kd not in self.files
        op = FsOp(kind, ks, src, kd, dst, creates=appears, content_digest=digest)

        def action(_answer: Answer) -> None:
            if ks not in self.files:
                raise windows_error(2, src, dst)
            if self._open_on(ks):
                raise windows_error(32, src, dst)
            if kd in self.files:
                if kind is OpKind.RENAME:
                    raise windows_error(183, src, dst)
                if self._open_on(kd):
                    raise windows_error(5, src, dst)
            self.files[kd] = self.files.pop(ks)

        self._run(op, action)

    def replace(self, src: str, dst: str) -> None:
        self._move(OpKind.REPLACE, src, dst)

    def rename(self, src: str, dst: str) -> None:
        self._move(OpKind.RENAME, src, dst)

    def remove(self, path: str) -> None:
        k = key(path)
        op = FsOp(OpKind.REMOVE, k, path)

        def action(_answer: Answer) -> None:
            if k not in self.files:
                raise windows_error(2, path)
            if self._open_on(k):
                raise windows_error(32, path)
            del self.files[k]

        self._run(op, action)

    def exists(self, path: str) -> bool:
        k = key(path)
        op = FsOp(OpKind.STAT, k, path)

        def action(answer: Answer) -> bool:
            return answer is not Answer.PRETEND_ABSENT and k in self.files

        return bool(self._run(op, action))

    # -- conveniences used by scenarios -----------------------------------------------

    def write_file(self, path: str, data: bytes) -> None:
        h = self.open(path, "w")
        self.write(h, data)
        self.close(h)

    def read_file(self, path: str) -> bytes:
        h = self.open(path, "r")
        try:
            return self.read(h)
        finally:
            self.close(h)

    def publish(self, target: str, data: bytes, tmp: str | None = None) -> None:
        """Temp file, then replace onto ``target``: the pattern under test."""
        temp = tmp or f"{target}.{os.getpid()}.{next(self._ids)}.tmp"
        self.write_file(temp, data)
        self.replace(temp, target)


@contextmanager
def simulated(
    ignore: tuple[str, ...] = (), jitter: float = 0.0
) -> Iterator[tuple[Driver, RaceModel]]:
    """Instrumentation + race model + driver, torn down afterwards (one test's worth)."""
    instrumentation: Instrumentation = install()
    try:
        model = RaceModel(instrumentation.tracker, ignore=ignore)
        yield Driver(model, jitter), model
    finally:
        instrumentation.uninstall()
