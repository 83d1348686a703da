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
import zipimport
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType
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


class FakeZipFinder(zipimport.zipimporter):
    r"""A ``zipimporter`` over one zip archive of the fake filesystem (``prefix``: a folder in it).

    It is a ``zipimport.zipimporter`` as the real one is (finder and loader in one object),
    because code tells a package in an archive by that type and then reads the archive
    through the importer: jinja2's ``PackageLoader`` takes ``loader.archive``, lists
    ``loader._files`` (``_get_files()`` from Python 3.13) and reads templates with
    ``loader.get_data(path)``; a loader of another type sent it to ``os.path.isdir`` of a
    folder inside the archive, and its zip tests failed. Names are spelled as the real
    importer spells them on Windows: ``archive\member\path``. It never calls the real
    importer's code, which reads the real disk.
    """

    archive: str
    prefix: str

    def __init__(self, path: object) -> None:
        fs = IN_FORCE.fs
        if not isinstance(path, str) or fs is None or not IN_FORCE.is_active_now():
            raise ImportError("not an archive of the simulated filesystem")
        found = _split(fs, path)
        if found is None or _really_there(found[0]):
            # Not an archive, or one zipimport reads itself (the real tree shows it).
            raise ImportError("not an archive of the simulated filesystem")
        self.archive, inner = found
        self.prefix = inner.replace("/", "\\") + "\\" if inner else ""
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

    def _module(self, fullname: str) -> tuple[str, bool] | None:
        """The ``.py`` member of ``fullname`` and whether it is a package's ``__init__``."""
        base = self.prefix.replace("\\", "/") + fullname.rpartition(".")[2]
        for member, package in ((f"{base}/__init__.py", True), (f"{base}.py", False)):
            if member in self._names:
                return member, package
        if f"{base}.pyc" in self._names or f"{base}/__init__.pyc" in self._names:
            raise ImportError(
                f"pytest-ocirace: {fullname} is compiled-only (.pyc) in the zip archive "
                f"{self.archive} of the simulated filesystem; only .py sources are imported "
                "from such archives: add the sources, or build the archive before the test",
                name=fullname,
            )
        return None

    def _found(self, fullname: str) -> tuple[str, bool]:
        found = self._module(fullname)
        if found is None:
            raise ImportError(f"can't find module {fullname!r}", name=fullname)
        return found

    def find_spec(self, fullname: str, target: ModuleType | None = None) -> ModuleSpec | None:
        if IN_FORCE.fs is not self._fs:
            return None  # a cached finder of a simulation that has ended
        found = self._module(fullname)
        if found is None:
            return None
        member, package = found
        loader: Any = self  # a Loader; typeshed does not say so of zipimporter
        spec = ModuleSpec(fullname, loader, origin=self._location(member), is_package=package)
        spec.has_location = True
        if package:
            spec.submodule_search_locations = [self._location(member.rpartition("/")[0])]
        return spec

    def invalidate_caches(self) -> None:
        self._names = set(self._zip().namelist())

    @property
    def _files(self) -> dict[str, zipfile.ZipInfo]:
        """The archive's members by their Windows spelling, as ``zipimporter._files`` has them."""
        with self._zip() as archive:
            return {info.filename.replace("/", "\\"): info for info in archive.infolist()}

    def _get_files(self) -> dict[str, zipfile.ZipInfo]:
        """``zipimporter._get_files()`` of Python 3.13+."""
        return self._files

    def get_data(self, pathname: str) -> bytes:
        r"""A member's bytes, named ``archive\member`` or relative to the archive."""
        key = pathname.replace("/", "\\")
        if key.startswith(self.archive + "\\"):
            key = key[len(self.archive) + 1 :]
        try:
            with self._zip() as archive:
                return archive.read(key.replace("\\", "/"))
        except KeyError:
            raise OSError(0, "", key) from None

    def get_source(self, fullname: str) -> str:
        member, _ = self._found(fullname)
        with self._zip() as archive:
            return archive.read(member).decode("utf-8")

    def get_code(self, fullname: str) -> CodeType:
        return compile(
            self.get_source(fullname), self.get_filename(fullname), "exec", dont_inherit=True
        )

    def is_package(self, fullname: str) -> bool:
        return self._found(fullname)[1]

    def get_filename(self, fullname: str) -> str:
        return self._location(self._found(fullname)[0])

    def get_resource_reader(self, fullname: str) -> TraversableResources | None:  # type: ignore[override]
        """``importlib.resources.files(package)``: the package's folder in the archive."""
        member, package = self._found(fullname)
        if not package:
            return None
        return _ZipResources(self, member.rpartition("/")[0])

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)

    def load_module(self, fullname: str) -> ModuleType:
        """The deprecated protocol, through ``exec_module`` (never the real importer's reads)."""
        return Loader.load_module(self, fullname)  # type: ignore[arg-type]


class _ZipResources(TraversableResources):
    """A package's data files in a fake archive, for ``importlib.resources``."""

    def __init__(self, finder: FakeZipFinder, folder: str) -> None:
        self._finder = finder
        self._folder = folder

    def files(self) -> Traversable:
        return zipfile.Path(self._finder._zip(), at=f"{self._folder}/")
