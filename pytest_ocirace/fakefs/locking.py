"""One lock around pyfakefs, and a reversible way to wrap pyfakefs classes with it.

pyfakefs is not thread-safe (measured: thousands of internal errors with 8 threads
replacing one target in Windows mode), and the race model needs a single total order of
operations anyway. So every entry point into pyfakefs that user code can reach runs under
one process-wide ``RLock`` while a simulation is active. The wrapping is done on the
pyfakefs classes and undone when the simulation ends, so plain pyfakefs users in the same
session are untouched.
"""

from __future__ import annotations

import _thread
import functools
import types
from collections.abc import Callable, Iterable
from typing import Any

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them): a user
# whose os.replace fails wants to see their own call, not the simulation's machinery.
__tracebackhide__ = True

__all__ = [
    "LOCK",
    "ClassPatches",
    "call_unlocked",
    "lock_plan",
    "locked",
    "locked_once",
    "public_methods",
]

#: The one lock. Re-entrant: pyfakefs entry points call each other. A raw ``_thread`` lock on
#: purpose: the race model replaces ``threading.RLock`` with a tracked lock for the session,
#: and if this module were imported after that, every operation would hold one common lock
#: and no race would ever be found.
#:
#: One per *process*, not per import of this module: pytester's in-process runs (and pyfakefs)
#: drop modules first imported during a run, so a later run imports a fresh copy while
#: wrappers made by the old copy can still be live; with two locks, two threads each holding
#: one and wanting the other deadlock. The lock is therefore kept on the ``_thread`` module,
#: which is never re-imported.
LOCK = _thread.__dict__.setdefault("_pytest_ocirace_filesystem_lock", _thread.RLock())


_WRAPPERS: dict[Callable[..., Any], Callable[..., Any]] = {}


def call_unlocked(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` with :data:`LOCK` fully released, then taken back as it was.

    For user code an entry point calls back (an ``open(..., opener=f)``): it may block or
    sleep, and every other thread's file operation would wait for it, or deadlock if it
    waits for one of them.
    """
    if not LOCK._is_owned():
        return function(*args)
    state = LOCK._release_save()
    try:
        return function(*args)
    finally:
        LOCK._acquire_restore(state)


def locked(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` running under :data:`LOCK` (one wrapper per function, reused)."""
    wrapper = _WRAPPERS.get(function)
    if wrapper is None:
        wrapper = _WRAPPERS[function] = _make_locked(function)
    return wrapper


def locked_once(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` running under :data:`LOCK`, in a wrapper that is not remembered.

    For closures made per call (pyfakefs builds a new ``write_wrapper`` closure over the
    file object for every ``f.write``): :func:`locked` would keep each one, and with it the
    file object, for the life of the process. A file object that stays referenced is
    never closed by reference counting, so a later ``os.remove`` of its file failed with
    ``[WinError 32]`` where CPython on Windows had closed it (and memory grew by one
    entry per read or write).
    """
    return _make_locked(function)


def _make_locked(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def run_locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return function(*args, **kwargs)

    run_locked.__ocirace_locked__ = True  # type: ignore[attr-defined]
    return run_locked


@functools.cache
def public_methods(cls: type) -> tuple[str, ...]:
    """Names of the plain public methods defined on ``cls`` itself (cached: one per test)."""
    return tuple(
        name
        for name, value in vars(cls).items()
        if not name.startswith("_")
        and callable(value)
        and not isinstance(value, (type, staticmethod, classmethod))
    )


def lock_plan(cls: type, names: Iterable[str] | None = None) -> list[tuple[object, str, object]]:
    """What :meth:`ClassPatches.lock_methods` sets: ``(cls, name, locked method)`` entries.

    Methods that are already wrapped (a simulation is active) are skipped, as are static
    and class methods.
    """
    if names is None:
        names = public_methods(cls)
    plan: list[tuple[object, str, object]] = []
    for name in names:
        value = vars(cls).get(name)
        if value is None or getattr(value, "__ocirace_locked__", False):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            continue
        plan.append((cls, name, locked(value)))
    return plan


def code_keeping_copy(function: types.FunctionType) -> types.FunctionType:
    """A copy of ``function`` that keeps its code when ``set_code`` replaces the original's.

    The original's ``__code__`` then delegates to the simulation's version, which reaches
    every holder of the function object (bound at import); that version calls this copy
    for the original behaviour.
    """
    copy = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


class ClassPatches:
    """Attributes set on classes (or modules) for the life of a simulation, then restored."""

    def __init__(self) -> None:
        self._saved: list[tuple[object, str, bool, object]] = []
        self._items: list[tuple[dict[Any, Any], Any, bool, object]] = []
        self._codes: list[tuple[Any, Any]] = []
        self._defaults: list[tuple[Any, Any, Any]] = []

    def set(self, owner: object, name: str, value: object) -> None:
        present = name in vars(owner)
        self._saved.append((owner, name, present, vars(owner).get(name)))
        setattr(owner, name, value)

    def set_all(self, items: Iterable[tuple[object, str, object]]) -> None:
        """:meth:`set` for each ``(owner, name, value)``: a prepared plan, installed quickly."""
        saved = self._saved
        for owner, name, value in items:
            namespace = vars(owner)
            saved.append((owner, name, name in namespace, namespace.get(name)))
            setattr(owner, name, value)

    def set_item(self, mapping: dict[Any, Any], key: Any, value: object) -> None:
        """``mapping[key] = value`` until :meth:`undo` (a module in ``sys.modules``)."""
        self._items.append((mapping, key, key in mapping, mapping.get(key)))
        mapping[key] = value

    def set_code(self, function: Any, code: Any) -> None:
        """``function.__code__ = code`` until :meth:`undo`.

        Every holder of ``function`` (``from tempfile import TemporaryFile`` at import)
        runs ``code`` meanwhile.
        """
        self._codes.append((function, function.__code__))
        function.__code__ = code

    def set_defaults(
        self, function: Any, defaults: tuple[Any, ...] | None, kwdefaults: dict[str, Any] | None
    ) -> None:
        """``function``'s default values until :meth:`undo`.

        They are the function's own slots, not entries of its ``__dict__``, which
        :meth:`set` would delete on undo instead of putting the old values back.
        """
        self._defaults.append((function, function.__defaults__, function.__kwdefaults__))
        function.__defaults__ = defaults
        function.__kwdefaults__ = kwdefaults

    def lock_methods(self, cls: type, names: Iterable[str] | None = None) -> None:
        """Wrap ``names`` (default: every public plain method) of ``cls`` with :data:`LOCK`."""
        self.set_all(lock_plan(cls, names))

    def undo(self) -> None:
        while self._defaults:
            function, defaults, kwdefaults = self._defaults.pop()
            function.__defaults__ = defaults
            function.__kwdefaults__ = kwdefaults
        while self._codes:
            function, code = self._codes.pop()
            function.__code__ = code
        while self._items:
            mapping, key, had, previous = self._items.pop()
            if had:
                mapping[key] = previous
            else:
                mapping.pop(key, None)
        while self._saved:
            owner, name, present, value = self._saved.pop()
            if present:
                setattr(owner, name, value)
            else:
                delattr(owner, name)
