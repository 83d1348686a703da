"""Import chosen modules a second time, as Windows would, and swap them in for a test.

Code that decides its platform at import (atomicwrites defines ``_replace_atomic`` with
``os.rename`` or with ``MoveFileExW``; filelock binds ``FileLock`` to ``UnixFileLock`` or
``WindowsFileLock``) keeps its POSIX decision inside the simulation, where Windows rules then
fail it where real Windows would have taken the other branch. Call-time views
(``platform.py``) cannot reach a decision already made.

:class:`WindowsImports` imports the named modules and their submodules again while
``os.name == "nt"``, ``sys.platform == "win32"`` and ``platform.system() == "Windows"``,
with the Windows-only modules they reach provided by ``windows_modules.py``. The identity
is changed process-wide, but only for the import, on the main thread, between tests; the
modules' dependencies are imported first under the real identity so that only the named
modules see the Windows one, and anything else first loaded during that import is dropped
from ``sys.modules`` afterwards (the copies keep their references).

The copies are made once per process (as any import) and swapped in for each simulated
test: their ``sys.modules`` entries, and every reference another module holds to one of the
originals or to a function or class defined in them (``from atomicwrites import
atomic_write`` in a test module). The pyfakefs patcher starts after the swap and patches the
copies like any loaded module; everything is put back after it stops. Objects reached other
ways (instances made before the test, class attributes, default arguments) stay originals.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import platform as _platform
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytest_ocirace.fakefs.module_census import is_module, loaded_modules
from pytest_ocirace.fakefs.platform import (
    PlatformError,
    check_allowed,
    family_names,
    implied_by_import,
    register_summary,
    warn_once,
)
from pytest_ocirace.fakefs.platform_scan import import_time_choice
from pytest_ocirace.fakefs.windows_modules import OS_CONSTANTS, SURFACE

__all__ = ["ImportedCopies", "WindowsImports", "summary_lines"]

_OPTION = "windows_import_modules"

#: Modules whose references to the named code are left alone: the test run's machinery.
_MACHINERY = ("pytest", "_pytest", "pluggy", "pyfakefs", "pytest_ocirace", "xdist", "execnet")


@dataclass
class ImportedCopies:
    """The Windows copies of one set of named modules, with what was found on the way."""

    roots: tuple[str, ...]
    originals: dict[str, types.ModuleType]
    copies: dict[str, types.ModuleType]
    #: Per root: the Windows-only things its copies hold (``msvcrt``, ``ctypes.windll``...).
    reached: dict[str, list[str]] = field(default_factory=dict)
    #: Per root: where one of its modules reads the platform at import, if anywhere.
    choices: dict[str, str] = field(default_factory=dict)

    def current(self) -> bool:
        """Whether the originals are still the loaded modules (pytester may drop them)."""
        return all(sys.modules.get(name) is module for name, module in self.originals.items())

    def unchanged_roots(self) -> list[str]:
        """Roots for which importing as Windows can have changed nothing."""
        return [r for r in self.roots if not self.reached.get(r) and r not in self.choices]


_CACHE: dict[tuple[str, ...], ImportedCopies] = {}

#: Values swapped by name as well as identity (small ints and strings are shared objects).
_CONSTANTS = (bool, int, float, str, bytes, tuple, frozenset)


def summary_lines() -> list[str]:
    """One line per module imported as Windows in this process: what it reached, where it chose."""
    lines = []
    for made in _CACHE.values():
        for root in made.roots:
            members = sum(1 for name in made.copies if name == root or name.startswith(root + "."))
            details = [f"{members} module(s)"]
            if made.reached.get(root):
                details.append("reaches " + ", ".join(made.reached[root]))
            if root in made.choices:
                details.append("chooses at " + made.choices[root])
            lines.append(f"{_OPTION}: {root} imported as on Windows ({'; '.join(details)})")
    return lines


register_summary(summary_lines)


class WindowsImports:
    """The Windows copies of ``roots`` (made on first use), swapped in as a unit."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        for name in roots:
            check_allowed(name, _OPTION)
        self.roots = tuple(sorted(set(roots)))
        implied_by_import(self.roots)
        self._saved_modules: dict[str, types.ModuleType | None] = {}
        self._saved_refs: list[tuple[dict[str, Any], str, Any, Any]] = []
        self._saved_attributes: list[tuple[Any, str, Any]] = []
        self._table: _Replacements | None = None

    def copies(self) -> ImportedCopies:
        """The copies, imported now if not yet (or if the originals were replaced)."""
        cached = _CACHE.get(self.roots)
        if cached is not None and cached.current():
            return cached
        made = _import_as_windows(self.roots)
        _CACHE[self.roots] = made
        for root in made.unchanged_roots():
            warn_once(
                _OPTION,
                root,
                f"ocirace option {_OPTION}: {root!r} and its loaded submodules neither read "
                "the platform at import nor reach a Windows-only module, so importing them as "
                "Windows changes nothing (for checks made when called, "
                "windows_platform_modules is enough)",
            )
        return made

    @contextmanager
    def swapped(self) -> Iterator[ImportedCopies]:
        """The copies in place of the originals (and the stand-ins importable) for a block."""
        made = self.copies()
        self._install(made)
        try:
            yield made
        finally:
            self._uninstall()

    def _install(self, made: ImportedCopies) -> None:
        for name, copy in made.copies.items():
            self._saved_modules[name] = sys.modules.get(name)
            sys.modules[name] = copy
        for name, module in SURFACE.modules.items():
            if name not in sys.modules:
                self._saved_modules[name] = None
                sys.modules[name] = module
        for name, value in SURFACE.ctypes_attributes.items():
            if not hasattr(ctypes, name):
                self._saved_attributes.append((ctypes, name, value))
                setattr(ctypes, name, value)
        table = self._table = _Replacements(made)
        family = set(made.originals) | set(made.copies)
        for module_name, loaded in loaded_modules():
            if module_name in family or not is_module(loaded):
                continue
            if module_name.split(".")[0] in _MACHINERY or module_name in sys.stdlib_module_names:
                continue
            namespace = loaded.__dict__
            for attribute, value in list(namespace.items()):
                replacement = table.get(value, attribute)
                if replacement is not None:
                    namespace[attribute] = replacement
                    self._saved_refs.append((namespace, attribute, value, replacement))

    def rebind(self, values: dict[str, Any]) -> None:
        """Swap originals held in ``values`` (a test's parameters) for copies, until the end.

        ``parametrize("lock_type", [FileLock])`` captured the original class at collection.
        """
        if self._table is None:
            return
        for name, value in list(values.items()):
            replacement = self._table.get(value, name)
            if replacement is not None:
                values[name] = replacement
                self._saved_refs.append((values, name, value, replacement))

    def _uninstall(self) -> None:
        self._table = None
        while self._saved_refs:
            namespace, attribute, original, copy = self._saved_refs.pop()
            if namespace.get(attribute) is copy:
                namespace[attribute] = original
        while self._saved_attributes:
            target, name, value = self._saved_attributes.pop()
            if getattr(target, name, None) is value:
                delattr(target, name)
        for name, previous in self._saved_modules.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        self._saved_modules.clear()


class _Replacements:
    """What each original object becomes, chosen by the name a reference uses.

    One object can have several names (``filelock.FileLock`` is ``filelock._unix.UnixFileLock``
    on Linux, while the Windows copy's ``FileLock`` is ``WindowsFileLock``): a reference
    named ``FileLock`` gets the copy's ``FileLock``. A reference under another name
    (``parametrize("lock_type", [FileLock])``) gets the copy of the first alias, shallowest
    module first: an alias is where a module binds a name to a platform's choice; code that
    wants ``UnixFileLock`` itself names it so. Constants (``from filelock import
    has_fcntl``) are swapped only under their own name, and only where the copy's differs.
    """

    def __init__(self, made: ImportedCopies) -> None:
        self._by_id: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._constants: dict[tuple[str, int], tuple[Any, Any]] = {}
        names = set(made.originals)
        for name in sorted(made.originals, key=lambda n: (n.count("."), n)):
            original, copy = made.originals[name], made.copies.get(name)
            if copy is None:
                continue
            self._add(original, name.rpartition(".")[2], copy)
            for attribute, value in vars(original).items():
                replacement = vars(copy).get(attribute)
                if replacement is None or replacement is value:
                    continue
                if isinstance(value, _CONSTANTS) and not attribute.startswith("__"):
                    if replacement != value:
                        self._constants.setdefault((attribute, id(value)), (value, replacement))
                    continue
                if not isinstance(value, (type, types.FunctionType)):
                    # A name bound to another module's function on one platform and to
                    # the family's own on Windows (joblib.backports: ``from os import
                    # replace as concurrency_safe_rename``, a retrying wrapper on
                    # Windows): swapped only under that name, like a constant, since
                    # the original (``os.replace``) is held under its own name everywhere.
                    if _defined_in(replacement, names):
                        self._constants.setdefault((attribute, id(value)), (value, replacement))
                    continue
                if getattr(value, "__module__", None) in names:
                    self._add(value, attribute, replacement)

    def _add(self, original: Any, name: str, copy: Any) -> None:
        entry = self._by_id.setdefault(id(original), (original, {}))
        entry[1].setdefault(name, copy)  # parents first: the shallowest name wins

    def get(self, value: Any, name: str) -> Any | None:
        constant = self._constants.get((name, id(value)))
        if constant is not None and constant[0] is value:
            return constant[1]
        entry = self._by_id.get(id(value))
        if entry is None or entry[0] is not value:
            return None
        by_name = entry[1]
        if name in by_name:
            return by_name[name]
        own = getattr(value, "__name__", "").rpartition(".")[2]
        aliases = [copy for alias, copy in by_name.items() if alias != own]
        return aliases[0] if aliases else by_name.get(own)


def _defined_in(value: Any, names: set[str]) -> bool:
    """Whether ``value`` is a class or Python function of one of the modules ``names``."""
    return isinstance(value, (type, types.FunctionType)) and value.__module__ in names


def _family(roots: tuple[str, ...]) -> dict[str, types.ModuleType]:
    loaded: dict[str, types.ModuleType] = {}
    for root in roots:
        for name in family_names(root):
            module = sys.modules.get(name)
            if is_module(module):
                loaded[name] = module
    return loaded


def _import_as_windows(roots: tuple[str, ...]) -> ImportedCopies:
    if not isinstance(sys.modules.get("os"), types.ModuleType) or sys.modules["os"] is not os:
        raise PlatformError(
            f"ocirace option {_OPTION}: pyfakefs is already patching (its `fs` fixture was "
            "set up before `winfs`); request `winfs` first, or not `fs` at all"
        )
    for root in roots:
        try:
            importlib.import_module(root)  # its dependencies, under the real identity
        except ImportError as exc:
            raise PlatformError(
                f"ocirace option {_OPTION}: cannot import {root!r} ({exc}); give the dotted "
                "name of an importable module"
            ) from None
    originals = _family(roots)
    before = dict(sys.modules)
    for name in originals:
        del sys.modules[name]
    parents = _parent_attributes(originals)
    failure: BaseException | None = None
    failed = ""
    try:
        with _windows_identity() as views:
            for name in sorted(originals, key=lambda n: (n.count("."), n)):
                try:
                    importlib.import_module(name)
                except Exception as exc:
                    failure = exc
                    failed = name
                    break
        copies = _family(roots)
        _real_modules_back(copies, views)
    finally:
        for name in list(sys.modules):
            if name not in before:
                del sys.modules[name]
        sys.modules.update(originals)
        for parent, attribute, value in parents:
            setattr(parent, attribute, value)
    if failure is not None:
        raise PlatformError(
            f"ocirace option {_OPTION}: importing {failed!r} as on Windows failed: "
            f"{type(failure).__name__}: {failure} (the simulation provides msvcrt, nt, "
            "_winapi and ctypes.windll.kernel32 only in part; see docs/plugin.md)"
        )
    made = ImportedCopies(roots, originals, copies)
    for root in roots:
        members = [n for n in copies if n == root or n.startswith(root + ".")]
        made.reached[root] = sorted(
            {item for name in members for item in _stand_ins_held(name, copies[name])}
        )
        for name in members:
            choice = import_time_choice(getattr(copies[name], "__file__", None))
            if choice is not None:
                made.choices[root] = choice.describe()
                break
    return made


def _parent_attributes(modules: dict[str, types.ModuleType]) -> list[tuple[Any, str, Any]]:
    """Attributes that bind a submodule on a parent outside the set (restored afterwards)."""
    saved = []
    for name, module in modules.items():
        parent_name, _, attribute = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if (
            parent is not None
            and parent_name not in modules
            and getattr(parent, attribute, None) is module
        ):
            saved.append((parent, attribute, module))
    return saved


def _stand_ins_held(name: str, module: types.ModuleType) -> Iterator[str]:
    stand_ins = {id(m): key for key, m in SURFACE.modules.items()}
    stand_ins.update({id(v): f"ctypes.{key}" for key, v in SURFACE.ctypes_attributes.items()})
    for value in vars(module).values():
        found = stand_ins.get(id(value))
        if found is not None:
            yield found


def _view(module: types.ModuleType, overrides: dict[str, Any]) -> types.ModuleType:
    """A module object with ``module``'s attributes and ``overrides`` on top."""
    view = types.ModuleType(module.__name__, module.__doc__)
    view.__dict__.update(vars(module))
    view.__dict__.update(overrides)
    return view


@contextmanager
def _windows_identity() -> Iterator[dict[str, types.ModuleType]]:
    """``import os``/``sys``/``platform`` answer as Windows, and ``ctypes`` has ``windll``.

    Views in ``sys.modules``, not changes to the real modules: the import machinery (and
    pytest's assertion-rewriting hook, which builds ``pathlib`` paths while the named
    modules are imported) keep reading the real ``os.name``. Only code that runs ``import
    os`` during the block gets the view: the named modules and what they load first.
    """
    from pytest_ocirace.fakefs.filesystem import O_TEMPORARY
    from pytest_ocirace.fakefs.windows_modules import getwindowsversion

    views = {
        "os": _view(
            os,
            {**OS_CONSTANTS, "O_TEMPORARY": getattr(os, "O_TEMPORARY", O_TEMPORARY), "name": "nt"},
        ),
        "sys": _view(sys, {"platform": "win32", "getwindowsversion": getwindowsversion}),
        "platform": _view(_platform, {"system": lambda: "Windows"}),
    }
    saved_modules = {name: sys.modules.get(name) for name in (*views, *SURFACE.modules)}
    added_attributes = [n for n in SURFACE.ctypes_attributes if not hasattr(ctypes, n)]
    try:
        for name, module in SURFACE.modules.items():
            sys.modules.setdefault(name, module)
        for name in added_attributes:
            setattr(ctypes, name, SURFACE.ctypes_attributes[name])
        sys.modules.update(views)
        yield views
    finally:
        for name, previous in saved_modules.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        for name in added_attributes:
            if getattr(ctypes, name, None) is SURFACE.ctypes_attributes[name]:
                delattr(ctypes, name)


def _real_modules_back(copies: dict[str, types.ModuleType], views: dict[str, Any]) -> None:
    """The copies hold the real ``os``/``sys``/``platform`` again (pyfakefs patches those).

    At test time the call-time view (``platform.py``) makes them answer as Windows.
    """
    real = {id(view): sys.modules[name] for name, view in views.items()}
    for copy in copies.values():
        for attribute, value in list(vars(copy).items()):
            if id(value) in real:
                setattr(copy, attribute, real[id(value)])
