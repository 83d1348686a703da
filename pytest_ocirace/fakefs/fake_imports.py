r"""Importing ``.py`` sources from a folder of the simulated filesystem named as Windows would.

The import system reads the real disk (``FileFinder`` uses the C ``stat`` and ``listdir``).
A ``sys.path`` entry or a package ``__path__`` made inside the simulation has the Windows
spelling (``C:\Users\...\tmp\compiled``), and what a test wrote there exists only in the
fake filesystem: jinja2's ``Environment.compile_templates`` writes one module per template
and its ``ModuleLoader`` imports them, joblib's tests write a module and import it. Each
failed with a bare ``ModuleNotFoundError`` (or jinja2's ``TemplateNotFound``).

While a simulation is in force, a path hook takes every Windows-spelled entry that is a
folder of the fake filesystem and finds ``name/__init__.py`` and ``name.py`` there (two
lookups, which the race model sees as the test's own ``isfile`` would be), read from the
fake file's content and run with ``__file__`` spelled as Windows spells it. What it does
not find there (an extension module, a name only the real folder has) goes to the real
twin's finder (``real_twins.py``). Compiled ``.pyc`` files are neither read nor written.
POSIX-spelled entries (``sys.path`` as pytest and the host set it) never reach this hook's
search.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches
from pytest_ocirace.fakefs.real_twins import finder_for

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = ["FakeSourceHook", "install"]


def _windows_spelled(entry: str) -> bool:
    return "\\" in entry or (len(entry) >= 2 and entry[1] == ":")


class FakeSourceHook:
    """A ``sys.path_hooks`` entry for Windows-spelled folders of the simulated filesystem.

    ``fallback`` makes the finder for the same entry on the real disk (``real_twins.py``'s
    hook), asked only for what the fake folder does not hold.
    """

    def __init__(self, fallback: Callable[[str], Any]) -> None:
        self._fallback = fallback

    def __call__(self, entry: object) -> FakeSourceFinder:
        fs = IN_FORCE.fs
        if (
            not isinstance(entry, str)
            or not _windows_spelled(entry)
            or fs is None
            or not IN_FORCE.is_active_now()
            or not fs.isdir(entry)
        ):
            raise ImportError("not a Windows-spelled folder of the simulated filesystem")
        return FakeSourceFinder(entry, fs, self._fallback)


class FakeSourceFinder:
    """A path-entry finder over one folder of the simulated filesystem."""

    def __init__(self, folder: str, fs: Any, fallback: Callable[[str], Any]) -> None:
        self.folder = folder.rstrip("\\/")
        self._fs = fs
        self._fallback = fallback
        self._real: Any = None
        self._real_asked = False

    def _location(self, *parts: str) -> str:
        return "\\".join((self.folder, *parts))

    def find_spec(self, fullname: str, target: ModuleType | None = None) -> ModuleSpec | None:
        if IN_FORCE.fs is not self._fs or not IN_FORCE.is_active_now():
            return None  # a cached finder of a simulation that has ended
        name = fullname.rpartition(".")[2]
        init = self._location(name, "__init__.py")
        if self._fs.isfile(init):
            return _spec(fullname, init, self._fs, [self._location(name)])
        module = self._location(name + ".py")
        if self._fs.isfile(module):
            return _spec(fullname, module, self._fs, None)
        real = self._real_finder()
        return None if real is None else real.find_spec(fullname, target)

    def _real_finder(self) -> Any:
        if not self._real_asked:
            self._real_asked = True
            try:
                self._real = self._fallback(self.folder)
            except ImportError:
                self._real = None
        return self._real

    def invalidate_caches(self) -> None:
        real = self._real
        if real is not None and hasattr(real, "invalidate_caches"):
            real.invalidate_caches()


def _spec(fullname: str, path: str, fs: Any, locations: Sequence[str] | None) -> ModuleSpec:
    loader = _FakeSourceLoader(path, fs, locations is not None)
    spec = ModuleSpec(fullname, loader, origin=path, is_package=locations is not None)
    spec.has_location = True
    if locations is not None:
        spec.submodule_search_locations = list(locations)
    return spec


class _FakeSourceLoader(Loader):
    """Runs one ``.py`` file of the simulated filesystem as a module."""

    def __init__(self, path: str, fs: Any, package: bool) -> None:
        self.path = path
        self._fs = fs
        self._package = package

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def get_data(self, path: str) -> bytes:
        data = self._fs.get_object(path).byte_contents
        return bytes(data or b"")

    def get_source(self, fullname: str) -> str:
        import importlib.util

        return importlib.util.decode_source(self.get_data(self.path))

    def is_package(self, fullname: str) -> bool:
        return self._package

    def get_filename(self, fullname: str) -> str:
        return self.path

    def exec_module(self, module: ModuleType) -> None:
        code = compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)
        exec(code, module.__dict__)


def install(patches: ClassPatches) -> None:
    """Put the hook first in ``sys.path_hooks``; what it does not find goes to the hooks after."""
    after = tuple(sys.path_hooks)
    patches.set(sys, "path_hooks", [FakeSourceHook(functools.partial(finder_for, after)), *after])
