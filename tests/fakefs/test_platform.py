from __future__ import annotations

import os
import sys

import pytest

from pytest_ocirace.fakefs.platform import (
    PATCHED,
    PlatformError,
    PlatformWarning,
    WindowsPlatform,
)

MODULE = "tests_ocirace_platform_target"


@pytest.fixture
def target(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    (tmp_path / f"{MODULE}.py").write_text(
        "import os, sys, platform\n"
        "def where():\n"
        "    return os.name, sys.platform, platform.system(), hasattr(os, 'O_TEMPORARY')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield MODULE
    sys.modules.pop(MODULE, None)


def test_named_module_sees_windows_and_others_do_not(target: str) -> None:
    view = WindowsPlatform((target,))
    view.install()
    try:
        module = sys.modules[target]
        assert module.where() == ("nt", "win32", "Windows", True)
        assert os.name == "posix"
        assert sys.platform != "win32"
    finally:
        view.uninstall()
    assert module.where()[0] == "posix"


def test_platform_system_bound_by_name_answers_windows(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # black's tests: ``from platform import system`` at import, ``system() == "Windows"``.
    name = "tests_ocirace_platform_system_target"
    (tmp_path / f"{name}.py").write_text(
        "from platform import system\ndef where():\n    return system()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        view = WindowsPlatform((name,))
        view.install()
        try:
            assert sys.modules[name].where() == "Windows"
        finally:
            view.uninstall()
        assert sys.modules[name].where() != "Windows"
    finally:
        sys.modules.pop(name, None)


def test_protected_modules_are_refused() -> None:
    with pytest.raises(PlatformError, match="cannot see a Windows platform"):
        WindowsPlatform(("_pytest.main",))


def test_missing_module_is_named() -> None:
    view = WindowsPlatform(("no_such_module_ocirace",))
    with pytest.raises(PlatformError, match="cannot import 'no_such_module_ocirace'"):
        view.install()


@pytest.fixture
def package(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A package whose ``__init__`` has no ``os`` but whose submodule does (like cachelib)."""
    root = tmp_path / "ocirace_pkg_sub"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "store.py").write_text("import os\ndef flavour():\n    return os.name\n")
    (tmp_path / "ocirace_pkg_empty.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in list(sys.modules):
        if name.startswith(("ocirace_pkg_sub", "ocirace_pkg_empty")):
            del sys.modules[name]


@pytest.mark.usefixtures("package")
def test_submodules_are_covered_and_what_was_patched_is_recorded() -> None:
    import ocirace_pkg_sub.store  # type: ignore[import-not-found]

    view = WindowsPlatform(("ocirace_pkg_sub",))
    view.install()
    try:
        assert ocirace_pkg_sub.store.flavour() == "nt"
    finally:
        view.uninstall()
    assert ocirace_pkg_sub.store.flavour() == "posix"
    assert PATCHED[("windows_platform_modules", "ocirace_pkg_sub")] == {"ocirace_pkg_sub.store.os"}


@pytest.mark.usefixtures("package")
def test_refresh_keeps_an_intact_view_and_puts_back_what_was_undone() -> None:
    # pyfakefs re-stubs module globals after a pause (the real os comes back); a refresh
    # with nothing changed keeps the view as it is (the same proxy), else installs it again.
    import ocirace_pkg_sub.store

    view = WindowsPlatform(("ocirace_pkg_sub",))
    view.install()
    try:
        proxy = vars(ocirace_pkg_sub.store)["os"]
        view.refresh()
        assert vars(ocirace_pkg_sub.store)["os"] is proxy
        ocirace_pkg_sub.store.os = os  # what a pause and resume leaves
        view.refresh()
        assert ocirace_pkg_sub.store.flavour() == "nt"
        assert vars(ocirace_pkg_sub.store)["os"] is not proxy
        view.uninstall()
        view.refresh()  # after an uninstall: installed again, not taken as intact
        assert ocirace_pkg_sub.store.flavour() == "nt"
    finally:
        view.uninstall()
    assert ocirace_pkg_sub.store.os is os


@pytest.mark.usefixtures("package")
def test_refresh_covers_a_submodule_imported_since_the_view_was_installed(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    import ocirace_pkg_sub.store

    (tmp_path / "ocirace_pkg_sub" / "later.py").write_text(
        "import os\ndef flavour():\n    return os.name\n"
    )
    view = WindowsPlatform(("ocirace_pkg_sub",))
    view.install()
    try:
        import ocirace_pkg_sub.later  # type: ignore[import-not-found]

        assert ocirace_pkg_sub.later.flavour() == "posix"
        view.refresh()
        assert ocirace_pkg_sub.later.flavour() == "nt"
        assert ocirace_pkg_sub.store.flavour() == "nt"
    finally:
        view.uninstall()
    assert ocirace_pkg_sub.later.flavour() == "posix"


@pytest.mark.usefixtures("package")
def test_a_name_with_nothing_to_patch_warns_naming_it() -> None:
    view = WindowsPlatform(("ocirace_pkg_empty",))
    expected = "'ocirace_pkg_empty' and its loaded submodules hold no"
    with pytest.warns(PlatformWarning, match=expected):
        view.install()
    view.uninstall()


def test_monkeypatch_through_a_named_modules_view_is_undone_on_the_module(
    target: str,
) -> None:
    # portalocker's tests named in windows_platform_modules: monkeypatch.setattr(os, "link",
    # ...) in the test module went through the view, and every undo failed with
    # "'_Proxy' object has no attribute 'link'".
    import types

    fake_os = types.ModuleType("os_stand_in")
    fake_os.name = "posix"  # type: ignore[attr-defined]
    fake_os.link = "original"  # type: ignore[attr-defined]
    view = WindowsPlatform((target,))
    view.install()
    try:
        module = sys.modules[target]
        module.os = view_of = type(module.os)(fake_os, {"name": "nt"})  # a view like the others
        patcher = pytest.MonkeyPatch()
        patcher.setattr(view_of, "link", "patched")
        patcher.setattr(view_of, "urandom", "added", raising=False)
        assert fake_os.link == "patched"  # type: ignore[attr-defined]
        assert view_of.name == "nt"
        patcher.undo()
        assert fake_os.link == "original"  # type: ignore[attr-defined]
        assert not hasattr(fake_os, "urandom")
    finally:
        view.uninstall()


def test_naming_a_second_copy_of_a_loaded_file_warns_with_the_name_to_use(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # filelock's suite: tests/test_filelock.py (no __init__.py) is imported by pytest as
    # test_filelock; naming it tests.test_filelock imported a second copy no test runs.
    import importlib

    folder = tmp_path / "ocirace_suite_root" / "ocirace_suite"
    folder.mkdir(parents=True)
    (folder / "test_ocirace_copied.py").write_text("import os\nWINDOWS = os.name == 'nt'\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.syspath_prepend(str(folder.parent))
    names = ("test_ocirace_copied", "ocirace_suite.test_ocirace_copied", "ocirace_suite")
    importlib.import_module("test_ocirace_copied")  # as pytest would
    view = WindowsPlatform(("ocirace_suite.test_ocirace_copied",))
    try:
        with pytest.warns(PlatformWarning, match="name 'test_ocirace_copied'"):
            view.install()
    finally:
        view.uninstall()
        for name in names:
            sys.modules.pop(name, None)
