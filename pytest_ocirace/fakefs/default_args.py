r"""Filesystem functions captured as default arguments at import (``walker=os.walk``).

A default value is evaluated once, when the ``def`` runs: zarr's
``DirectoryStore._keys_fast(path, walker=os.walk)`` holds the real ``os.walk`` for good.
pyfakefs can patch such defaults (``patch_default_args``) but does not by default, as it
costs a walk over every function of every loaded module each time it starts. So inside the
simulation zarr listed its store on the *real* disk, where nothing was written, and its
``len(store)``, ``keys()``, ``clear()`` and ``pop()`` answered as if the store were empty
(16 of its tests).

While a simulation runs, every function of a loaded module (module level and in its
classes, static and class methods included; not the standard library's, pyfakefs',
pytest's or this plugin's) whose default values hold a function pyfakefs fakes gets those
defaults pointed at the same fakes pyfakefs gives a module global, and put back after. The
search runs again only when ``sys.modules`` changed (``module_census.py``), and each
module's answer is kept while the module lives.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from pytest_ocirace.fakefs.fake_functions import FakeFunctions
from pytest_ocirace.fakefs.locking import ClassPatches
from pytest_ocirace.fakefs.module_census import ModuleSearch, defined_classes

__all__ = ["install"]

#: Top-level packages never searched: the standard library, pyfakefs, pytest and this plugin.
_SKIPPED = frozenset(
    {*sys.stdlib_module_names, "pyfakefs", "pytest", "_pytest", "pluggy", "pytest_ocirace"}
)

#: A function whose defaults hold filesystem functions: which positions, which keywords.
_Found = tuple[types.FunctionType, tuple[int, ...], tuple[str, ...]]

_SEARCH: ModuleSearch[_Found] = ModuleSearch(_SKIPPED)


def install(patches: ClassPatches, fs: Any) -> None:
    """Point captured filesystem defaults of loaded functions at ``fs``'s patcher's fakes."""
    fakes = FakeFunctions.of(fs)
    if fakes is None:
        return
    fake_of = fakes.fake_of
    for function, positions, keywords in _SEARCH.found(lambda module: _scan(module, fakes)):
        defaults = function.__defaults__
        if positions and defaults is not None:
            changed = list(defaults)
            for index in positions:
                changed[index] = fake_of(changed[index])
            defaults = tuple(changed)
        kwdefaults = function.__kwdefaults__
        if keywords and kwdefaults is not None:
            kwdefaults = dict(kwdefaults)
            for name in keywords:
                kwdefaults[name] = fake_of(kwdefaults[name])
        patches.set_defaults(function, defaults, kwdefaults)


def _functions_of(module: types.ModuleType) -> list[types.FunctionType]:
    """The module's own functions, and those of its own classes (one level)."""
    try:
        values = list(vars(module).values())
    except TypeError:  # pragma: no cover - a module object without a __dict__
        return []
    # By the value's real type, never ``isinstance`` (see module_census.defined_classes).
    functions = [
        value
        for value in values
        if type(value) is types.FunctionType and value.__module__ == module.__name__
    ]
    for cls in defined_classes(module):
        for member in list(vars(cls).values()):
            inner = member.__func__ if isinstance(member, staticmethod | classmethod) else member
            if type(inner) is types.FunctionType:
                functions.append(inner)
    return functions


def _scan(module: types.ModuleType, fakes: FakeFunctions) -> list[_Found]:
    entries: list[_Found] = []
    for function in _functions_of(module):
        defaults = function.__defaults__ or ()
        kwdefaults = function.__kwdefaults__ or {}
        if not defaults and not kwdefaults:
            continue
        positions = tuple(i for i, v in enumerate(defaults) if fakes.is_faked(v))
        keywords = tuple(k for k, v in kwdefaults.items() if fakes.is_faked(v))
        if positions or keywords:
            entries.append((function, positions, keywords))
    return entries
