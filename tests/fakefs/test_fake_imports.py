r"""fakefs/fake_imports.py: modules a test writes in a folder of the simulation import.

jinja2's ``compile_templates`` + ``ModuleLoader`` and joblib's tests write ``.py`` files
inside the simulation and import them; the import system reads the real disk, and each
failed with a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import types
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import simulate

NAMES = ("fake_written_pkg", "fake_written_mod", "fake_templates_pkg")


@pytest.fixture
def restored_imports() -> Iterator[None]:
    saved = list(sys.path)
    yield
    sys.path[:] = saved
    for name in [n for n in sys.modules if n.split(".")[0] in NAMES]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def test_a_package_and_a_module_written_inside_import_with_windows_names(
    restored_imports: None,
) -> None:
    with simulate():
        folder = tempfile.mkdtemp()
        assert folder.startswith("C:\\")
        _write(os.path.join(folder, "fake_written_pkg", "__init__.py"), "from .inner import X\n")
        _write(os.path.join(folder, "fake_written_pkg", "inner.py"), "X = 'é' * 2\n")
        _write(os.path.join(folder, "fake_written_mod.py"), "import fake_written_pkg as p\n")
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        module = importlib.import_module("fake_written_mod")
        assert module.p.X == "éé"
        assert module.__file__ == os.path.join(folder, "fake_written_mod.py")
        assert module.p.__path__ == [os.path.join(folder, "fake_written_pkg")]
        assert importlib.import_module("fake_written_pkg.inner").__file__ == os.path.join(
            folder, "fake_written_pkg", "inner.py"
        )


def test_a_package_path_set_by_hand_imports_from_the_folder(restored_imports: None) -> None:
    """jinja2's ``ModuleLoader``: a module object whose ``__path__`` is the compiled folder."""
    with simulate():
        folder = tempfile.mkdtemp()
        _write(os.path.join(folder, "tmpl_abc.py"), "name = 'a/test.html'\n")
        package = types.ModuleType("fake_templates_pkg")
        package.__path__ = [folder]
        sys.modules["fake_templates_pkg"] = package
        module = importlib.import_module("fake_templates_pkg.tmpl_abc")
        assert module.name == "a/test.html"


def test_a_syntax_error_names_the_windows_path(restored_imports: None) -> None:
    with simulate():
        folder = tempfile.mkdtemp()
        _write(os.path.join(folder, "fake_written_mod.py"), "def broken(:\n")
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        with pytest.raises(SyntaxError) as caught:
            importlib.import_module("fake_written_mod")
        assert caught.value.filename == os.path.join(folder, "fake_written_mod.py")


def test_the_folder_is_gone_with_the_simulation(restored_imports: None) -> None:
    with simulate():
        folder = tempfile.mkdtemp()
        _write(os.path.join(folder, "fake_written_mod.py"), "X = 1\n")
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        importlib.import_module("fake_written_mod")
    sys.modules.pop("fake_written_mod", None)  # pyfakefs drops what was imported inside
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fake_written_mod")
