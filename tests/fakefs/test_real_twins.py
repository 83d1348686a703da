r"""fakefs/real_twins.py: real files under their Windows names, for linecache and imports.

jinja2 compiles each template with its path as the code's file name; inside the simulation
that path is ``C:\...``, which the real disk (what ``linecache`` reads) does not know, and its
traceback tests failed for the missing source line.
"""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import runpy
import sys
import traceback
import zipfile
import zipimport
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.real_twins import real_spelling


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C:\\root\\proj\\page.html", "/root/proj/page.html"),
        ("c:\\root\\proj\\page.html", "/root/proj/page.html"),
        ("\\root\\proj\\page.html", "/root/proj/page.html"),
        ("C:/root\\proj/page.html", "/root/proj/page.html"),
        ("D:\\root\\proj\\page.html", None),
        ("\\\\server\\share\\page.html", None),
        ("proj\\page.html", None),
        ("C:proj\\page.html", None),
        ("/root/proj/page.html", None),
    ],
)
def test_real_spelling(name: str, expected: str | None) -> None:
    assert real_spelling(name, "C:") == expected


def _windows_name(path: Path) -> str:
    return "C:" + str(path).replace("/", "\\")


def _formatted_failure(source: str, filename: str) -> str:
    code = compile(source, filename, "exec")
    try:
        exec(code, {})
    except ZeroDivisionError as exc:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    raise AssertionError("the code did not fail")


def test_a_frame_under_a_windows_name_shows_its_line_inside_the_simulation(
    tmp_path: Path,
) -> None:
    source = "x = 1\ny = x / 0  # the failing line\n"
    real = tmp_path / "page.html"
    real.write_text(source)
    name = _windows_name(real)
    linecache.checkcache()
    with simulate():
        shown = _formatted_failure(source, name)
    assert f'File "{name}", line 2' in shown
    assert "y = x / 0  # the failing line" in shown
    linecache.checkcache(name)  # after the simulation the entry still stands
    assert linecache.getline(name, 2) == "y = x / 0  # the failing line\n"


def test_a_name_without_a_real_twin_stays_without_source(tmp_path: Path) -> None:
    name = _windows_name(tmp_path / "missing.html")
    with simulate():
        shown = _formatted_failure("y = 1 / 0\n", name)
    assert f'File "{name}", line 1' in shown
    assert "y = 1 / 0" not in shown


def test_outside_the_simulation_nothing_changes(tmp_path: Path) -> None:
    real = tmp_path / "page.html"
    real.write_text("y = 1 / 0\n")
    name = _windows_name(real)
    linecache.clearcache()
    shown = _formatted_failure("y = 1 / 0\n", name)
    assert "y = 1 / 0" not in shown


@pytest.fixture
def restored_imports() -> Iterator[None]:
    saved = list(sys.path)
    yield
    sys.path[:] = saved
    for name in [n for n in sys.modules if n.split(".")[0] in ("twin_pkg", "twin_zipped")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def test_a_windows_spelled_sys_path_entry_of_a_real_directory_imports(
    tmp_path: Path, restored_imports: None
) -> None:
    """jinja2: ``monkeypatch.syspath_prepend(Path(__file__).parent / "res")`` in a test."""
    package = tmp_path / "twin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 'from the real tree'\n")
    with simulate():
        sys.path.insert(0, _windows_name(tmp_path))
        importlib.invalidate_caches()
        module = importlib.import_module("twin_pkg")
    assert module.VALUE == "from the real tree"
    assert module.__file__ == str(package / "__init__.py")  # what FileFinder gives


def test_a_windows_spelled_sys_path_entry_of_a_real_zip_archive_imports_through_zipimport(
    tmp_path: Path, restored_imports: None
) -> None:
    """jinja2's ``PackageLoader`` takes a zip package only from a ``zipimporter``."""
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("twin_zipped/__init__.py", "VALUE = 'zipped'\n")
    with simulate():
        sys.path.insert(0, _windows_name(archive))
        importlib.invalidate_caches()
        module = importlib.import_module("twin_zipped")
    assert module.VALUE == "zipped"
    assert isinstance(module.__loader__, zipimport.zipimporter)
    assert module.__loader__.archive == str(archive)


def test_an_entry_without_a_real_twin_is_not_found(tmp_path: Path, restored_imports: None) -> None:
    with simulate():
        sys.path.insert(0, _windows_name(tmp_path / "nowhere"))
        importlib.invalidate_caches()
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("twin_pkg")


def test_runpy_runs_a_real_script_under_its_windows_name(tmp_path: Path) -> None:
    """black's tests ``runpy.run_path(str(ACTION_MAIN))``: ``io.open_code`` reads the real
    disk, where the Windows spelling names nothing."""
    script = tmp_path / "main.py"
    script.write_text("RESULT = 40 + 2\n")
    with simulate():
        found = runpy.run_path(_windows_name(script))
        with pytest.raises(FileNotFoundError):
            runpy.run_path(_windows_name(tmp_path / "missing.py"))
    assert found["RESULT"] == 42


def test_a_spec_from_a_windows_spelled_location_loads_the_real_file(tmp_path: Path) -> None:
    """portalocker loads its package's ``__init__.py`` by a path built from a module-level
    ``Path``; importlib's POSIX path functions made a Windows name ``<cwd>/C:\\...``."""
    source = tmp_path / "located.py"
    source.write_text("VALUE = 'located'\n")
    with simulate():
        spec = importlib.util.spec_from_file_location("ocirace_located", _windows_name(source))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    assert module.VALUE == "located"
