"""Zip archives written inside the simulation can be imported from (python-dotenv's test)."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import posixpath
import sys
import zipfile
import zipimport
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import simulate


@pytest.fixture
def restored_path() -> Iterator[None]:
    saved = list(sys.path)
    yield
    sys.path[:] = saved
    for name in [n for n in sys.modules if n.split(".")[0] in ("zipped_pkg", "zipped_mod")]:
        del sys.modules[name]


def test_a_package_in_an_archive_written_inside_the_simulation_imports(
    restored_path: None,
) -> None:
    with simulate():
        archive = os.path.abspath("code.zip")
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("zipped_pkg/__init__.py", "")
            zipped.writestr("zipped_pkg/data.txt", "inside")
            zipped.writestr("zipped_pkg/inner/__init__.py", "")
            zipped.writestr("zipped_pkg/inner/mod.py", "VALUE = __file__\n")
            zipped.writestr("zipped_mod.py", "import zipped_pkg.inner.mod as m\nFROM = m.VALUE\n")
        sys.path.append(archive)
        import zipped_mod  # type: ignore[import-not-found]

        expected = archive + "\\zipped_pkg\\inner\\mod.py"  # zipimport's spelling
        assert expected == zipped_mod.FROM
        assert sys.modules["zipped_pkg"].__path__ == [archive + "\\zipped_pkg"]
        resource = importlib.resources.files("zipped_pkg").joinpath("data.txt")
        assert resource.read_text() == "inside"


def test_a_compiled_only_member_gets_a_one_line_error(restored_path: None) -> None:
    with simulate():
        archive = os.path.abspath("compiled.zip")
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("zipped_mod.pyc", b"not really")
        sys.path.append(archive)
        with pytest.raises(ImportError, match=r"compiled-only \(\.pyc\) in the zip archive"):
            import zipped_mod  # type: ignore[import-not-found]  # noqa: F401


def test_an_archive_on_the_real_disk_still_goes_to_zipimport(
    tmp_path: os.PathLike[str], restored_path: None
) -> None:
    archive = os.path.join(tmp_path, "real.zip")
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped_mod.py", "WHERE = 'real'\n")
    sys.path.append(archive)
    with simulate():
        import zipped_mod  # type: ignore[import-not-found]

        assert zipped_mod.WHERE == "real"
        assert type(sys.path_importer_cache[archive]).__name__ == "zipimporter"


def _templates_archive(path: str) -> None:
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("zipped_pkg/__init__.py", "")
        zipped.writestr("zipped_pkg/templates/", "")
        zipped.writestr("zipped_pkg/templates/foo/test.html", "FOO")
        zipped.writestr("zipped_pkg/templates/test.html", "BAR")


def _read_like_jinja2(package: str) -> tuple[list[str], bytes]:
    """What jinja2 3.1's ``PackageLoader`` does with a package found in an archive."""
    spec = importlib.util.find_spec(package)
    assert spec is not None
    loader = spec.loader
    assert isinstance(loader, zipimport.zipimporter)
    assert spec.submodule_search_locations is not None
    root = os.path.join(next(iter(spec.submodule_search_locations)), "templates")
    prefix = root[len(loader.archive) :].lstrip(os.path.sep) + os.path.sep
    names = sorted(
        name[len(prefix) :].replace(os.path.sep, "/")
        for name in loader._files  # type: ignore[attr-defined]  # what jinja2 reads
        if name.startswith(prefix) and name[-1] != os.path.sep
    )
    data = loader.get_data(os.path.normpath(posixpath.join(root, "foo", "test.html")))
    return names, data


def test_an_archive_of_the_real_tree_is_a_zipimporter_as_on_windows(
    tmp_path: os.PathLike[str], restored_path: None
) -> None:
    # jinja2's PackageLoader tells a zipped package by its loader's type, then lists and
    # reads the archive through it; a loader of another type failed its zip tests.
    archive = os.path.join(tmp_path, "package.zip")
    _templates_archive(archive)
    with simulate(real_trees=[os.fspath(tmp_path)]):
        windows_name = "C:" + archive.replace("/", "\\")
        assert os.path.isfile(windows_name)
        sys.path.insert(0, windows_name)
        names, data = _read_like_jinja2("zipped_pkg")
    assert names == ["foo/test.html", "test.html"]
    assert data == b"FOO"


def test_an_archive_written_inside_is_a_zipimporter_too(restored_path: None) -> None:
    with simulate():
        archive = os.path.abspath("templates.zip")
        _templates_archive(archive)
        sys.path.insert(0, archive)
        names, data = _read_like_jinja2("zipped_pkg")
        with pytest.raises(OSError, match=r"absent\.html"):
            sys.path_importer_cache[archive].get_data(archive + "\\zipped_pkg\\absent.html")
    assert names == ["foo/test.html", "test.html"]
    assert data == b"FOO"
