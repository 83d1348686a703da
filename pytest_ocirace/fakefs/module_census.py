"""Whether ``sys.modules`` still holds exactly the modules it held when last remembered.

Each simulated test used to walk every loaded module five times (pyfakefs' search for the
modules to patch, the proxied-module search, the captured class functions, the writer seams
at the start and at the end): about 0.6 ms of a test's fixed cost for 500 modules, to find
the same answer as in the test before. Between two tests of one suite ``sys.modules``
rarely changes (pyfakefs drops the modules a test imported). A :class:`ModuleCensus` lets
a search keep its last answer while the same objects sit under the same names, in the same
order, compared by identity in about 15 us for 500 modules: a module swapped for another
one under the same name, added or removed is always a change.

Two exceptions, by name, both new objects for every test: while pyfakefs patches, its
``DynamicPatcher`` puts the fake modules of the running patcher (``os``, ``io``,
``pathlib``...: ``Patcher.fake_modules``) into ``sys.modules`` under their real names; and
the simulation's own stand-in modules (``msvcrt`` for file locking, marked
``__ocirace_stand_in__``) sit there while a simulation runs. What sits under those names is
not compared as long as it is again a fake or a stand-in (the searches that use a census
look for nothing in either); which names they are is part of the remembered state.

What a census cannot see is a change inside a module that stayed (an attribute assigned
later): every search that uses one reads only what a module holds once it has finished
executing, and while any loaded module is still executing (``__spec__._initializing``,
another thread's import) nothing is remembered.
"""

from __future__ import annotations

import sys
import types
import weakref
from collections.abc import Callable
from operator import is_, itemgetter
from typing import Generic, TypeGuard, TypeVar

from pyfakefs.fake_filesystem_unittest import Patcher

__all__ = ["ModuleCensus", "ModuleSearch", "defined_classes", "is_module", "loaded_modules"]


def loaded_modules() -> list[tuple[str, object]]:
    """The entries of ``sys.modules`` now, to walk while the walk may import.

    Copied in one C call before anything is allocated per entry: ``list(sys.modules.items())``
    makes a tuple per entry, a collection while it does so can run a finalizer that imports
    (zict's ``ZipFile.__del__``), and the walk failed with "dictionary changed size during
    iteration" at the end of a simulation.
    """
    return list(sys.modules.copy().items())


def is_module(value: object) -> TypeGuard[types.ModuleType]:
    """Whether an entry of ``sys.modules`` is a module object, judged by its real type.

    ``sys.modules`` may hold anything. ``isinstance`` asks the object's ``__class__``, which
    a ``weakref.proxy`` forwards to its module (jinja2's ``ModuleLoader`` registers one)
    and which raises ``ReferenceError`` once that module is gone; reading such an entry's
    namespace failed at the end of a simulated test, and every later test errored at
    set-up. ``type()`` never forwards and never raises.
    """
    return issubclass(type(value), types.ModuleType)


def defined_classes(module: types.ModuleType) -> list[type]:
    """The classes ``module`` defines (its globals whose ``__module__`` is its name).

    Told by the value's real type, never ``isinstance``: that asks ``value.__class__``, which
    a lazy proxy answers by setting itself up (Django's ``settings``, a module global of
    diskcache's Django cache, raised ImproperlyConfigured in every test).
    """
    try:
        values = list(vars(module).values())
    except TypeError:  # pragma: no cover - a module object without a __dict__
        return []
    name = module.__name__
    return [
        value
        for value in values
        if issubclass(type(value), type) and getattr(value, "__module__", None) == name
    ]


def _swapped_names() -> frozenset[str]:
    """The names under which the running pyfakefs patcher shows its fake modules."""
    patcher = Patcher.PATCHER
    if patcher is None or not patcher.is_patching:
        return frozenset()
    return frozenset(getattr(patcher, "fake_modules", ()))


class ModuleCensus:
    """One remembered state of ``sys.modules`` (names and objects), for one search."""

    __slots__ = ("_compared", "_names", "_pick", "_stand_ins", "_swapped")

    def __init__(self) -> None:
        self._names: list[str] = []
        self._swapped: frozenset[str] = frozenset()
        self._stand_ins: tuple[str, ...] = ()
        self._pick: Callable[[list[object]], tuple[object, ...]] = tuple
        self._compared: tuple[object, ...] = ()

    def unchanged(self) -> bool:
        """Whether ``sys.modules`` holds the remembered objects under the remembered names.

        False until :meth:`remember` was called once.
        """
        modules = sys.modules
        names = self._names
        if not names or len(modules) != len(names) or list(modules) != names:
            return False
        if _swapped_names() != self._swapped:
            return False
        for name in self._stand_ins:
            if not _is_stand_in(modules.get(name)):
                return False
        # list() of a dict is one C call: no other thread's import can interleave.
        picked = self._pick(list(modules.values()))
        compared = self._compared
        return len(picked) == len(compared) and all(map(is_, picked, compared))

    def remember(self) -> None:
        """Take the present state; call it *before* the search whose answer it guards.

        A module imported while the search runs then counts as a change next time. While
        any loaded module is still executing its body (another thread's import, a search
        run from inside an import), nothing is remembered: the search may miss what that
        module defines later, so its answer must not outlive this call.
        """
        modules = sys.modules
        names = list(modules)
        objects: list[object] = list(modules.values())  # not only modules
        if not _all_initialised(objects):
            self.forget()
            return
        swapped = _swapped_names()
        stand_ins = tuple(
            name
            for name, value in zip(names, objects, strict=True)
            if name not in swapped and _is_stand_in(value)
        )
        ignored = swapped.union(stand_ins)
        kept = [index for index, name in enumerate(names) if name not in ignored]
        pick: Callable[[list[object]], tuple[object, ...]]
        if len(kept) == len(names):
            pick = tuple
        elif len(kept) >= 2:
            pick = itemgetter(*kept)
        else:
            pick = _picker(kept)
        self._names, self._swapped, self._pick = names, swapped, pick
        self._stand_ins = stand_ins
        self._compared = pick(objects)

    def forget(self) -> None:
        """Make the next :meth:`unchanged` false."""
        self._names = []
        self._compared = ()


def _picker(indices: list[int]) -> Callable[[list[object]], tuple[object, ...]]:
    def pick(objects: list[object]) -> tuple[object, ...]:
        return tuple(objects[index] for index in indices)

    return pick


def _is_stand_in(value: object) -> bool:
    """Whether ``value`` is one of the simulation's stand-in modules (``msvcrt``)."""
    if not is_module(value):
        return False
    # Not value.__dict__: a lazily loaded module (importlib.util.LazyLoader) would execute.
    namespace = object.__getattribute__(value, "__dict__")
    return isinstance(namespace, dict) and namespace.get("__ocirace_stand_in__") is True


def _all_initialised(modules: list[object]) -> bool:
    for module in modules:
        try:
            # Not getattr: a lazily loaded module (importlib.util.LazyLoader) would execute.
            namespace = object.__getattribute__(module, "__dict__")
            spec = namespace.get("__spec__") if isinstance(namespace, dict) else None
        except AttributeError:  # None, or a stand-in object without a namespace
            continue
        if spec is not None and getattr(spec, "_initializing", False) is True:
            return False
    return True


_T = TypeVar("_T")


class ModuleSearch(Generic[_T]):
    """What a scan finds in every loaded module, kept while ``sys.modules`` is unchanged.

    For the searches that point captured filesystem functions at pyfakefs' fakes
    (``class_functions.py``, ``default_args.py``): the loop over every module is skipped
    while the census holds, and each module is scanned once while it lives. A module is
    known by its name and ``id`` *and* a weak reference: by ``id`` alone, a module made at
    the address a dropped one left free got the old one's answer. Packages whose first
    name is in ``skipped`` are never scanned.
    """

    def __init__(self, skipped: frozenset[str]) -> None:
        self._skipped = skipped
        self._census = ModuleCensus()
        self._found: dict[tuple[str, int], tuple[weakref.ref[types.ModuleType], list[_T]]] = {}
        self._last: list[_T] = []

    def found(self, scan: Callable[[types.ModuleType], list[_T]]) -> list[_T]:
        """Everything ``scan`` finds in the loaded modules (the same list object when kept)."""
        if self._census.unchanged():
            return self._last
        self._census.remember()
        found: list[_T] = []
        try:
            for name, module in loaded_modules():
                if not is_module(module) or name.partition(".")[0] in self._skipped:
                    continue
                key = (name, id(module))
                known = self._found.get(key)
                if known is None or known[0]() is not module:
                    known = self._found[key] = (weakref.ref(module), scan(module))
                found.extend(known[1])
        except BaseException:
            self._census.forget()
            raise
        self._last[:] = found
        return self._last
