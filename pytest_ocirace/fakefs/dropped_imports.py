"""Modules a simulated test imported, loaded again before the next simulation starts.

pyfakefs drops from ``sys.modules`` every module first imported while its patcher runs:
such a module bound pyfakefs' fake ``os`` (``sys.modules["os"]`` is the fake while it
patches), which is dead after the test. So a test body that imports a library lazily
(minimalkv 1.11.2's ``test_parquet_file`` imports ``minimalkv.db.sql``, and with it
SQLAlchemy: about 120 modules) imported and executed the whole library again in every
test: 19 such tests cost 10 s of minimalkv's 37 s of ``--ocirace`` overhead, about 0.55 s
each against 0.03 s plain.

In a real run a module is imported once per process, and every later test finds it
loaded. This module makes the simulation do the same for the later tests: the modules a
simulation loaded from real files and pyfakefs then dropped are imported again right
before the next patcher starts, bind the real modules like any module the test file
imported at collection, and get pyfakefs' patching like every loaded module. The first
test that imports a module still imports it inside the simulation, as before.

What is left alone: a module not loaded from a real file by the standard loaders (one
made inside the fake filesystem, a namespace package, an assertion-rewritten test
helper), one whose import fails or finds another file outside the simulation (tried
once), the modules named in ``windows_platform_modules`` and their submodules, and every
module while ``windows_import_modules`` swaps in Windows copies (a module imported then
could keep one). Import-time side effects of a module loaded again happen on the real
disk before the test, as for any module a test file imports at its top.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from collections.abc import Iterable, Set

from pytest_ocirace.fakefs.module_census import is_module

__all__ = ["DROPPED", "DroppedImports", "Watch"]

#: Loaders of modules read from a real file: a module loaded otherwise is not loaded again.
_FILE_LOADERS = (
    importlib.machinery.SourceFileLoader,
    importlib.machinery.SourcelessFileLoader,
    importlib.machinery.ExtensionFileLoader,
)

#: Packages whose modules :mod:`preload` (or pytest itself) handles.
_MACHINERY = ("pytest_ocirace", "pyfakefs", "_pytest", "pytest", "pluggy")


class DroppedImports:
    """The modules to load again, by name, with the real file each was loaded from."""

    def __init__(self) -> None:
        #: Dropped by pyfakefs, to load before the next simulation: name -> real file.
        self.wanted: dict[str, str] = {}
        self._given_up: set[str] = set()

    def watch(self, excluded: Iterable[str] = ()) -> Watch:
        """Watch the patcher about to start (each of its stops, a pause's too)."""
        return Watch(self, frozenset(sys.modules), tuple(excluded))

    def load_again(self) -> list[str]:
        """Import the dropped modules (call with no patcher running); return those loaded.

        A module whose import raises, or that comes from another file than inside the
        simulation, is dropped again and never tried again.
        """
        loaded = []
        for name, origin in list(self.wanted.items()):
            if name in sys.modules:
                continue
            if not os.path.isfile(origin):
                self._give_up(name)
                continue
            try:
                module = importlib.import_module(name)
            except Exception:  # the test's own import reports it, as before
                sys.modules.pop(name, None)
                self._give_up(name)
                continue
            if getattr(getattr(module, "__spec__", None), "origin", None) != origin:
                sys.modules.pop(name, None)
                self._give_up(name)
                continue
            loaded.append(name)
        return loaded

    def _loaded_since(self, before: Set[str], families: tuple[str, ...]) -> dict[str, str]:
        found = {}
        modules = sys.modules
        for name in sorted(modules.keys() - before):  # sorted: a package before its modules
            module = modules.get(name)
            if name in self._given_up:
                continue
            if not is_module(module) or name.split(".")[0] in _MACHINERY:
                continue
            if any(name == f or name.startswith(f + ".") for f in families):
                continue
            spec = getattr(module, "__spec__", None)
            origin = getattr(spec, "origin", None)
            if isinstance(origin, str) and isinstance(getattr(spec, "loader", None), _FILE_LOADERS):
                found[name] = origin
        return found

    def _keep_dropped(self, loaded: dict[str, str]) -> None:
        for name, origin in loaded.items():
            if name not in sys.modules:
                self.wanted[name] = origin

    def _give_up(self, name: str) -> None:
        self.wanted.pop(name, None)
        self._given_up.add(name)


class Watch:
    """One patcher's stops: what was loaded right before each, and what it dropped."""

    def __init__(self, record: DroppedImports, before: Set[str], excluded: tuple[str, ...]):
        self._record = record
        self._before = before
        self._excluded = excluded
        self._loaded: dict[str, str] = {}

    def before_stop(self) -> None:
        """Note the modules loaded from real files since the patcher started."""
        self._loaded = self._record._loaded_since(self._before, self._excluded)

    def after_stop(self) -> None:
        """Of those, remember the ones the stop dropped."""
        self._record._keep_dropped(self._loaded)
        self._loaded = {}


#: The process' one record: simulations run one at a time.
DROPPED = DroppedImports()
