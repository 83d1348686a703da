"""Importing named modules as on Windows, and swapping the copies in and out."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ocirace.fakefs.platform import PlatformError
from pytest_ocirace.fakefs.platform_import import WindowsImports

LIB = "ocirace_import_lib"


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    (tmp_path / f"{LIB}.py").write_text(
        "import os, sys, platform\n"
        "if sys.platform == 'win32':\n"
        "    import msvcrt\n"
        "    import ocirace_import_winonly as helper\n"
        "SEEN = (os.name, sys.platform, platform.system(), hasattr(os, 'O_BINARY'))\n"
        "def where():\n"
        "    return SEEN\n"
    )
    (tmp_path / "ocirace_import_winonly.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module(LIB)
    yield module
    for name in (LIB, "ocirace_import_winonly"):
        sys.modules.pop(name, None)


def test_the_copy_saw_windows_and_nothing_else_did(lib: types.ModuleType) -> None:
    made = WindowsImports((LIB,)).copies()
    copy = made.copies[LIB]
    assert copy is not lib
    assert copy.SEEN == ("nt", "win32", "Windows", True)
    assert lib.SEEN[0] == os.name == "posix"
    assert sys.platform != "win32"
    assert not hasattr(os, "O_BINARY")
    # A module first loaded by the Windows import stays with the copy only.
    assert copy.helper.VALUE == 1
    assert "ocirace_import_winonly" not in sys.modules
    assert "msvcrt" not in sys.modules
    assert made.reached[LIB] == ["msvcrt"]
    assert made.choices[LIB].startswith(f"{LIB}.py:2: ")
    assert WindowsImports((LIB,)).copies() is made  # once per process


def test_swap_replaces_references_and_puts_them_back(lib: types.ModuleType) -> None:
    holder = types.ModuleType("ocirace_import_holder")
    holder.where = lib.where  # type: ignore[attr-defined]
    holder.lib = lib  # type: ignore[attr-defined]
    sys.modules[holder.__name__] = holder
    try:
        imports = WindowsImports((LIB,))
        with imports.swapped() as made:
            copy = made.copies[LIB]
            assert sys.modules[LIB] is copy
            assert holder.lib is copy
            assert holder.where is copy.where
            assert sys.modules["msvcrt"] is copy.msvcrt
            params = {"fn": lib.where}
            imports.rebind(params)
            assert params["fn"] is copy.where
        assert sys.modules[LIB] is lib
        assert holder.lib is lib
        assert holder.where is lib.where
        assert params["fn"] is lib.where
        assert "msvcrt" not in sys.modules
    finally:
        del sys.modules[holder.__name__]


def test_protected_and_missing_modules_are_one_line_errors() -> None:
    with pytest.raises(PlatformError, match="windows_import_modules: 'pytest' cannot see"):
        WindowsImports(("pytest",))
    with pytest.raises(PlatformError, match="cannot import 'ocirace_no_such_module'"):
        WindowsImports(("ocirace_no_such_module",)).copies()


def test_a_name_bound_to_a_builtin_off_windows_is_swapped_under_that_name_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # joblib.backports: `from os import replace as concurrency_safe_rename` on POSIX, a
    # retrying wrapper on Windows; the test module imports it by name. os.replace itself,
    # held as `replace` everywhere, must stay.
    name = "ocirace_import_alias_lib"
    (tmp_path / f"{name}.py").write_text(
        "import sys\n"
        "if sys.platform == 'win32':\n"
        "    def safe_rename(src, dst):\n"
        "        return 'retried'\n"
        "else:\n"
        "    from os import replace as safe_rename\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    lib = importlib.import_module(name)
    holder = types.ModuleType("ocirace_import_alias_holder")
    holder.safe_rename = lib.safe_rename  # type: ignore[attr-defined]
    holder.replace = os.replace  # type: ignore[attr-defined]
    sys.modules[holder.__name__] = holder
    try:
        assert lib.safe_rename is os.replace
        with WindowsImports((name,)).swapped() as made:
            assert holder.safe_rename is made.copies[name].safe_rename
            assert holder.safe_rename("a", "b") == "retried"
            assert holder.replace is os.replace
        assert holder.safe_rename is os.replace
    finally:
        del sys.modules[holder.__name__]
        sys.modules.pop(name, None)
