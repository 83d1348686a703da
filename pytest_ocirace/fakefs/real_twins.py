r"""Windows-spelled names of real files, for the readers that only see the real disk.

Inside the simulation a file of the real tree has its Windows name: ``/root/proj/x.html``
is ``C:\root\proj\x.html`` (``realtree.py`` shows the same file under both spellings). Two
readers that pyfakefs leaves on the real disk on purpose met that spelling and found nothing:

- ``linecache``, which tracebacks read (pyfakefs leaves it alone so that showing a
  traceback never becomes a file operation of the test, seen by the race model). Code
  compiled from a real file under its Windows name (jinja2 compiles each template with its
  path as the code's file name, and rewrites tracebacks to show the template's line) was
  shown without its source, and jinja2's own traceback tests failed.
- ``importlib.util.spec_from_file_location``, whose path functions are POSIX here;
- ``io.open_code``, which pyfakefs leaves on the real disk: black's tests
  ``runpy.run_path(str(ACTION_MAIN))`` a script of the real tree under its Windows name;
- the import system's path-entry finders (``FileFinder``, ``zipimport``), which read with
  the C ``stat``. ``monkeypatch.syspath_prepend(Path(__file__).parent / "res")`` inside a
  simulated test puts ``C:\...\res`` on ``sys.path``, and the import that follows failed
  with ``ModuleNotFoundError`` (jinja2's ``PackageLoader`` tests, a package directory and
  a zip archive).

While the simulation is in force, each of them tries a name the real disk does not know
again under its real twin: the simulation's drive dropped, backslashes made slashes. A name
on another drive, relative, or without a real twin keeps the plain answer. For imports this
hook is the last resort: sources in a folder the simulation shows go to ``fake_imports.py``
first (Windows-spelled ``__file__``), and an archive it shows to ``zipimports.py``; what
reaches this hook is what only the real disk can give (an extension module, a real
archive outside the trees the simulation shows).
"""

from __future__ import annotations

import importlib.util
import linecache
import ntpath
import os
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from pyfakefs.fake_io import FakeIoModule

from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches

# pytest leaves this module's frames out of tracebacks (``--full-trace`` shows them).
__tracebackhide__ = True

__all__ = ["finder_for", "install", "real_spelling", "real_twin"]

# The real ``os`` bits, where pyfakefs does not look: while a patcher runs it replaces this
# module's ``os`` (and any function bound from ``os.path`` here) with its fakes.
_REAL = types.SimpleNamespace(exists=os.path.exists, isfile=os.path.isfile, sep=os.sep)


def real_spelling(name: str, drive: str) -> str | None:
    r"""The real path behind a Windows-spelled absolute ``name`` on the simulation's ``drive``.

    ``C:\root\x.html`` with drive ``C:`` gives ``/root/x.html``; a drive-less rooted name
    (``\root\x.html``) is on the simulation's drive too. None for anything else: a relative
    name, another drive, a UNC path, a name that has no backslash (already real).
    """
    if _REAL.sep != "/" or "\\" not in name:
        return None
    found, rest = ntpath.splitdrive(name)
    if found and found.upper() != drive.upper():
        return None
    if not rest.startswith(("\\", "/")):
        return None
    return rest.replace("\\", "/")


def real_twin(name: object) -> str | None:
    """The real twin of ``name`` while a simulation is in force, if one exists on the real disk.

    A path inside a zip archive counts when the archive does (``zipimport`` takes such
    entries).
    """
    if not isinstance(name, str) or not IN_FORCE.is_active_now():
        return None
    cwd = getattr(IN_FORCE.fs, "cwd", "") or ""
    twin = real_spelling(name, ntpath.splitdrive(cwd)[0] or "C:")
    if twin is None:
        return None
    probe = twin
    while probe and probe != "/":
        if _REAL.exists(probe):
            # The name itself, or a file above it: a member of an archive.
            return twin if probe == twin or _REAL.isfile(probe) else None
        probe = probe.rpartition("/")[0]
    return None


def _updatecache(real: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def updatecache(filename: str, module_globals: Any = None) -> list[str]:
        lines = real(filename, module_globals)
        if lines:
            return lines
        twin = real_twin(filename)
        if twin is None:
            return lines
        lines = real(twin, module_globals)
        if lines:
            # The same entry under the name the code carries; its stored path is the
            # real one, so linecache.checkcache keeps it after the simulation too.
            linecache.cache[filename] = linecache.cache[twin]
        return lines

    return updatecache


class RealTwinHook:
    """A ``sys.path_hooks`` entry: a Windows-spelled entry gets the real finder of its twin.

    It asks the hooks that come after it (the host's ``zipimport`` and ``FileFinder``) for
    the twin, so the finder, the module's ``__file__`` and a zip loader's ``archive`` are
    exactly what the import system gives for the real path.
    """

    def __init__(self, hooks: Sequence[Callable[[str], Any]]) -> None:
        self._hooks = tuple(hooks)

    def __call__(self, entry: object) -> Any:
        twin = real_twin(entry)
        if twin is None:
            raise ImportError("not a Windows-spelled name of a real file")
        return finder_for(self._hooks, twin)


def finder_for(hooks: Sequence[Callable[[str], Any]], entry: str) -> Any:
    """The first finder ``hooks`` give for ``entry``, as the import system asks its hooks."""
    for hook in hooks:
        try:
            return hook(entry)
        except ImportError:
            continue
    raise ImportError(f"no finder for {entry!r}")


def _open_code(real: Callable[..., Any]) -> Callable[..., Any]:
    def open_code(self: Any, path: Any) -> Any:
        try:
            return real(self, path)
        except FileNotFoundError:
            twin = real_twin(path)
            if twin is None:
                raise
        return real(self, twin)

    return open_code


def _spec_from_file_location(real: Callable[..., Any]) -> Callable[..., Any]:
    def spec_from_file_location(name: str, location: Any = None, *args: Any, **kwargs: Any) -> Any:
        text = location
        if location is not None and not isinstance(location, str):
            text = getattr(location, "__fspath__", lambda: None)()
        twin = real_twin(text)
        return real(name, location if twin is None else twin, *args, **kwargs)

    return spec_from_file_location


def install(patches: ClassPatches) -> None:
    """Make ``linecache``, ``io.open_code`` and the import system try real twins."""
    patches.set(linecache, "updatecache", _updatecache(linecache.updatecache))
    # importlib's own path functions are POSIX here: a Windows-spelled location became
    # ``<cwd>/C:\...`` (portalocker loads its package's __init__.py by a path built from
    # a module-level Path, which the simulated test sees Windows-spelled).
    patches.set(
        importlib.util,
        "spec_from_file_location",
        _spec_from_file_location(importlib.util.spec_from_file_location),
    )
    # pyfakefs' io.open_code reads the real disk (it is how code is read: runpy.run_path).
    patches.set(FakeIoModule, "open_code", _open_code(FakeIoModule.open_code))
    hooks = list(sys.path_hooks)
    patches.set(sys, "path_hooks", [RealTwinHook(hooks), *hooks])
