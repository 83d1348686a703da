from __future__ import annotations

import os
import sys

import pytest

from pytest_ocirace.simulation.platform import PlatformError, WindowsPlatform

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


def test_protected_modules_are_refused() -> None:
    with pytest.raises(PlatformError, match="cannot see a Windows platform"):
        WindowsPlatform(("_pytest.main",))


def test_missing_module_is_named() -> None:
    view = WindowsPlatform(("no_such_module_ocirace",))
    with pytest.raises(PlatformError, match="cannot import 'no_such_module_ocirace'"):
        view.install()
