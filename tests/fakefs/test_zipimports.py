"""Zip archives written inside the simulation can be imported from (python-dotenv's test)."""

from __future__ import annotations

import importlib.resources
import os
import sys
import zipfile
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
