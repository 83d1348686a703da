r"""Importing from a zip archive that lives in the fake filesystem.

CPython's ``zipimport`` reads archives with the real ``_io.open_code`` and ``posix.stat``,
which pyfakefs does not replace: an archive a simulated test writes (python-dotenv's
``setup_zipfile(tmp_path, ...)`` then ``sys.path.append(...)``) is invisible to it, and the
import fails with a bare ``ModuleNotFoundError``. While a simulation is in force, a path
hook ahead of ``zipimport`` takes every ``sys.path`` entry that is, or lies inside, a zip
archive of the fake filesystem and imports its ``.py`` sources (packages, modules,
``__file__`` spelled ``archive\inner\name.py`` as ``zipimport`` spells it). Compiled
``.pyc``-only members are not imported: the hook refuses them with a one-line
``ImportError`` naming the archive. Entries on the real disk still go to ``zipimport``.
"""

from __future__ import annotations

import io
import sys
import zipfile
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable, TraversableResources
else:  # pragma: no cover - 3.9/3.10
    from importlib.abc import Traversable, TraversableResources

from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["FakeZipFinder", "install"]


def install(patches: ClassPatches) -> None:
    """Put the fake-archive path hook first in ``sys.path_hooks`` until ``patches`` are undone."""
    patches.set(sys, "path_hooks", [FakeZipFinder, *sys.path_hooks])


def _split(fs: Any, path: str) -> tuple[str, str] | None:
    """``(archive, inner)`` when ``path`` is a fake file or lies inside one."""
    current, inner = path.rstrip("\\/"), ""
    while current:
        if fs.isfile(current):
            return current, inner
        parent, _, name = current.replace("/", "\\").rpartition("\\")
        if not parent or parent == current or parent.endswith(":"):
            return None
        inner = f"{name}/{inner}" if inner else name
        current = parent
    return None


#: The host's own ``stat`` (pyfakefs never replaces the built-in module's contents); in a
#: dict, because pyfakefs stubs module globals that are file functions.
_HOST: dict[str, Any] = {
    "stat": getattr(sys.modules.get("posix") or sys.modules.get("nt"), "stat", None)
}


def _really_there(archive: str) -> bool:
    """Whether the real ``zipimport`` can open ``archive`` (a file on the real disk)."""
    stat = _HOST["stat"]
    if stat is None:  # pragma: no cover - every CPython has one of the two
        return False
    try:
        stat(archive)
    except (OSError, ValueError):
        return False
    return True


class FakeZipFinder:
    """A path-entry finder over one zip archive of the fake filesystem (``inner``: a folder)."""

    def __init__(self, path: object) -> None:
        fs = IN_FORCE.fs
        if not isinstance(path, str) or fs is None or not IN_FORCE.is_active_now():
            raise ImportError("not an archive of the simulated filesystem")
        found = _split(fs, path)
        if found is None or _really_there(found[0]):
            # Not an archive, or one zipimport reads itself (the real tree shows it).
            raise ImportError("not an archive of the simulated filesystem")
        self.archive, inner = found
        self.prefix = f"{inner}/" if inner else ""
        self._fs = fs
        try:
            self._names = set(self._zip().namelist())
        except (OSError, zipfile.BadZipFile) as exc:
            raise ImportError(f"{self.archive} is not a zip archive") from exc

    def _zip(self) -> zipfile.ZipFile:
        data = self._fs.get_object(self.archive).byte_contents or b""
        return zipfile.ZipFile(io.BytesIO(data))

    def _location(self, member: str) -> str:
        return self.archive + "\\" + member.replace("/", "\\")

    def find_spec(self, fullname: str, target: ModuleType | None = None) -> ModuleSpec | None:
        if IN_FORCE.fs is not self._fs:
            return None  # a cached finder of a simulation that has ended
        base = self.prefix + fullname.rpartition(".")[2]
        for member, package in ((f"{base}/__init__.py", True), (f"{base}.py", False)):
            if member in self._names:
                loader = _ZipSourceLoader(self, member, package)
                spec = ModuleSpec(
                    fullname, loader, origin=self._location(member), is_package=package
                )
                spec.has_location = True
                if package:
                    spec.submodule_search_locations = [self._location(base)]
                return spec
        if f"{base}.pyc" in self._names or f"{base}/__init__.pyc" in self._names:
            raise ImportError(
                f"pytest-ocirace: {fullname} is compiled-only (.pyc) in the zip archive "
                f"{self.archive} of the simulated filesystem; only .py sources are imported "
                "from such archives: add the sources, or build the archive before the test",
                name=fullname,
            )
        return None

    def invalidate_caches(self) -> None:
        self._names = set(self._zip().namelist())


class _ZipSourceLoader(Loader):
    """Runs one ``.py`` member of a fake archive as a module."""

    def __init__(self, finder: FakeZipFinder, member: str, package: bool) -> None:
        self._finder = finder
        self._member = member
        self._package = package

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def get_source(self, fullname: str) -> str:
        with self._finder._zip() as archive:
            return archive.read(self._member).decode("utf-8")

    def is_package(self, fullname: str) -> bool:
        return self._package

    def get_filename(self, fullname: str) -> str:
        return self._finder._location(self._member)

    def get_resource_reader(self, fullname: str) -> TraversableResources | None:
        """``importlib.resources.files(package)``: the package's folder in the archive."""
        if not self._package:
            return None
        return _ZipResources(self._finder, self._member.rpartition("/")[0])

    def exec_module(self, module: ModuleType) -> None:
        source = self.get_source(module.__name__)
        code = compile(source, self.get_filename(module.__name__), "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _ZipResources(TraversableResources):
    """A package's data files in a fake archive, for ``importlib.resources``."""

    def __init__(self, finder: FakeZipFinder, folder: str) -> None:
        self._finder = finder
        self._folder = folder

    def files(self) -> Traversable:
        return zipfile.Path(self._finder._zip(), at=f"{self._folder}/")
