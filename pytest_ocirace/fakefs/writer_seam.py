"""The simulation's side of the writer seam: find every loaded copy of the writer, switch it.

The reference writer decides "am I on Windows?" once, at import, and remembers landed blobs per
process. Inside the simulation it must take its Windows code paths and forget the previous
test's filesystem. It can be loaded under any name: ``ocirace_writer`` (the distribution),
``pytest_ocirace.writer`` (the same module object), or a copy that ``ocirace vendor`` wrote into a
project (``myproject._vendor.ocirace_writer``). So the simulation does not look for a module name
or call a private function: every copy declares ``__ocirace_writer_seam__``, an object with
``use_windows(enabled) -> previous`` and ``forget_filesystem()`` (protocol 1, documented in
docs/writer.md), and this module finds those objects among the loaded modules.

A copy first imported while a simulated test runs (``def save(): from ._vendor import
ocirace_writer``) is switched as soon as it has executed: for the duration, a finder in
``sys.meta_path`` (right behind pyfakefs's) watches each import's loader: the loader's class
gets an ``exec_module`` that calls the seam after the module ran, until the simulation ends.
The loader object itself is left alone, because code tells loaders by type:
``importlib.util.find_spec(name).loader`` inside a simulated test is what it is outside
(jinja2's ``PackageLoader`` asks ``isinstance(loader, zipimport.zipimporter)``; a wrapper
object there sent it looking for a folder inside a zip archive). Only a loader whose class
cannot take an attribute (a C type) is still wrapped. pyfakefs removes modules imported during
a test when the test ends, so without this such a copy would never be switched.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from typing import Any, Protocol

from pyfakefs.fake_filesystem_unittest import DynamicPatcher

from pytest_ocirace.fakefs.module_census import ModuleCensus, loaded_modules

__all__ = ["SEAM_ATTRIBUTE", "WriterSeam", "WriterSeamError", "WriterSwitch", "loaded_seams"]

#: The module attribute every copy of the writer carries.
SEAM_ATTRIBUTE = "__ocirace_writer_seam__"


class WriterSeam(Protocol):
    """Protocol 1 of the seam: what the simulation may ask of a copy of the writer."""

    protocol: int

    def use_windows(self, enabled: bool) -> bool: ...

    def forget_filesystem(self) -> None: ...


class WriterSeamError(RuntimeError):
    """A loaded module carries the seam attribute but not the protocol."""


def _check(module_name: str, seam: object) -> WriterSeam:
    protocol = getattr(seam, "protocol", None)
    usable = (
        isinstance(protocol, int)
        and protocol >= 1
        and callable(getattr(seam, "use_windows", None))
        and callable(getattr(seam, "forget_filesystem", None))
    )
    if not usable:
        raise WriterSeamError(
            f"pytest-ocirace: module {module_name!r} has a {SEAM_ATTRIBUTE} that does not speak "
            "protocol 1 (use_windows, forget_filesystem); re-vendor the writer with "
            "`ocirace vendor PATH --force` or upgrade ocirace-writer"
        )
    return seam  # type: ignore[return-value]


#: The last search's ``sys.modules`` and answer: between two simulated tests the loaded
#: modules rarely change, and a search of every module is 0.1-0.2 ms (twice per test).
_CENSUS = ModuleCensus()
_FOUND: list[WriterSeam] = []


def loaded_seams() -> list[WriterSeam]:
    """The seams of every loaded copy of the writer, each once (one module may have two names)."""
    if _CENSUS.unchanged():
        return list(_FOUND)
    _CENSUS.remember()  # before the search: an import during it is a change next time
    found: dict[int, WriterSeam] = {}
    try:
        for name, module in loaded_modules():
            try:
                seam = module.__dict__.get(SEAM_ATTRIBUTE)
            # None or a stand-in object: nothing declared; ReferenceError: a dead weakref.proxy
            except (AttributeError, TypeError, ReferenceError):
                continue
            if seam is not None and id(seam) not in found:
                found[id(seam)] = _check(name, seam)
    except BaseException:
        _CENSUS.forget()
        raise
    _FOUND[:] = found.values()
    return list(_FOUND)


class _LoadedHook:
    """A loader wrapper: run the real loader, then report the module, then step aside."""

    def __init__(self, loader: Any, spec: ModuleSpec, loaded: Callable[[types.ModuleType], None]):
        self._loader = loader
        self._spec = spec
        self._loaded = loaded

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        # The module's own loader comes back first, so that nothing keeps the wrapper
        # (reload, linecache, importlib.resources all ask __loader__ / __spec__.loader).
        self._spec.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._loaded(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _NewCopies:
    """A ``sys.meta_path`` finder that only watches: it finds nothing itself."""

    def __init__(self, loaded: Callable[[types.ModuleType], None]) -> None:
        self._loaded = loaded
        #: (class, its own ``exec_module`` before, or None when it inherited one).
        self._watched: dict[type, Any] = {}

    def _watch(self, spec: ModuleSpec) -> None:
        """Make the loader's class report each module it runs, or wrap the loader if it can't."""
        loader = spec.loader
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return  # no loader, or a class used as one (built-in, frozen): no writer there
        klass = type(loader)
        if klass in self._watched:
            return
        own = klass.__dict__.get("exec_module")
        inherited = getattr(klass, "exec_module")  # noqa: B009 - set and put back below
        loaded = self._loaded

        def exec_module(self: Any, module: types.ModuleType) -> None:
            inherited(self, module)
            loaded(module)

        try:
            setattr(klass, "exec_module", exec_module)  # noqa: B010 - a class seen at run time
        except (AttributeError, TypeError):  # a C type
            wrapped: Any = _LoadedHook(loader, spec, loaded)
            spec.loader = wrapped
            return
        self._watched[klass] = own

    def unwatch(self) -> None:
        """Give every watched loader class its own ``exec_module`` back."""
        for klass, own in self._watched.items():
            if own is None:
                delattr(klass, "exec_module")
            else:
                setattr(klass, "exec_module", own)  # noqa: B010 - as it was
        self._watched.clear()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                return None  # a legacy finder: let the import system ask it, in order
            spec = find(fullname, path, target)
            if spec is None:
                continue
            self._watch(spec)
            return spec  # type: ignore[no-any-return]
        return None


class WriterSwitch:
    """The loaded writers switched to Windows for one simulation, and switched back after it.

    ``install`` switches every loaded copy to its Windows code paths and makes it forget the
    filesystem it knew; ``uninstall`` restores each copy's previous setting (a test that patched
    ``_WINDOWS`` itself gets its value back) and makes every copy forget the fake filesystem.
    """

    def __init__(self) -> None:
        self._previous: list[tuple[WriterSeam, bool]] = []
        self._finder: _NewCopies | None = None

    def install(self) -> None:
        for seam in loaded_seams():
            self._switch(seam)
        self._finder = _NewCopies(self._imported)
        # Behind pyfakefs's own finder, never in front of it: pyfakefs removes its finder with
        # ``sys.meta_path.pop(0)`` whenever it pauses or stops, which would take ours instead.
        index = 0
        while index < len(sys.meta_path) and isinstance(sys.meta_path[index], DynamicPatcher):
            index += 1
        sys.meta_path.insert(index, self._finder)

    def _switch(self, seam: WriterSeam) -> None:
        self._previous.append((seam, seam.use_windows(True)))
        seam.forget_filesystem()

    def _imported(self, module: types.ModuleType) -> None:
        seam = module.__dict__.get(SEAM_ATTRIBUTE)
        if seam is not None and self._finder is not None:
            self._switch(_check(module.__name__, seam))

    def uninstall(self) -> None:
        if self._finder is not None:
            finder, self._finder = self._finder, None
            sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]
            finder.unwatch()
        while self._previous:
            seam, previous = self._previous.pop()
            seam.use_windows(previous)
        for seam in loaded_seams():
            seam.forget_filesystem()
