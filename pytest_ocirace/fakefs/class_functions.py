r"""Filesystem functions a class captured at import (``_open_item = staticmethod(open)``).

pyfakefs replaces filesystem functions where modules hold them: module globals
(``from os.path import exists``); default values are ``default_args.py``'s. A class
attribute made from one at import is neither: joblib's ``FileSystemStoreBackend`` has
``_open_item = staticmethod(open)``, ``_item_exists = staticmethod(os.path.exists)`` and
``_move_item = staticmethod(concurrency_safe_rename)`` (``os.replace`` off Windows), so
``joblib.Memory`` inside the simulation wrote its cache to the *real* disk, under
Windows-spelled names (``C:\root\...\metadata.json`` files in the working directory), and
then looked for it on the fake one (``FileNotFoundError``, wrong call counts).

While a simulation runs, each ``staticmethod`` in a class of a loaded module (not the
standard library's, pyfakefs' or pytest's) that wraps a function pyfakefs fakes is replaced
by the same fake pyfakefs gives a module global, and put back after. Classes are scanned
once per module (``module_census.ModuleSearch``); a module imported during a test is not
scanned until the next one.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from pytest_ocirace.fakefs.fake_functions import FakeFunctions
from pytest_ocirace.fakefs.locking import ClassPatches
from pytest_ocirace.fakefs.module_census import ModuleSearch, defined_classes

__all__ = ["install"]

#: Top-level packages never scanned: the standard library, pyfakefs, pytest and this plugin.
_SKIPPED = frozenset(
    {*sys.stdlib_module_names, "pyfakefs", "pytest", "_pytest", "pluggy", "pytest_ocirace"}
)

#: Per module, its ``(class, attribute, function)`` triples; searched again only when
#: ``sys.modules`` changed (the loop over every module was 0.2 ms per test).
_SEARCH: ModuleSearch[tuple[type, str, Any]] = ModuleSearch(_SKIPPED)


def install(patches: ClassPatches, fs: Any) -> None:
    """Point captured filesystem functions of loaded classes at ``fs``'s patcher's fakes."""
    fakes = FakeFunctions.of(fs)
    if fakes is None:
        return
    for cls, attribute, function in _SEARCH.found(lambda module: _scan(module, fakes)):
        fake = fakes.fake_of(function)
        if fake is not function:
            patches.set(cls, attribute, staticmethod(fake))


def _scan(module: types.ModuleType, fakes: FakeFunctions) -> list[tuple[type, str, Any]]:
    entries: list[tuple[type, str, Any]] = []
    for cls in defined_classes(module):
        for attribute, member in list(vars(cls).items()):
            if not isinstance(member, staticmethod):
                continue
            function = member.__func__
            if not isinstance(function, (types.BuiltinFunctionType, types.FunctionType)):
                continue
            if fakes.is_faked(function):
                entries.append((cls, attribute, function))
    return entries
