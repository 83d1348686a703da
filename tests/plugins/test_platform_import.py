"""``windows_import_modules``, the call-time view's reach, and the platform note, end to end."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

#: A library that decides its platform at import, as atomicwrites and filelock do.
LIBRARY = {
    "winlib/__init__.py": """
import os
import sys

from winlib.locks import Lock

if sys.platform == "win32":
    from ctypes import windll, WinError
    import msvcrt

    FLAVOUR = "windows"

    def move(src, dst):
        if not windll.kernel32.MoveFileExW(src, dst, 0):
            raise WinError()

    def replace(src, dst):
        if not windll.kernel32.MoveFileExW(src, dst, 1 | 8):
            raise WinError()
else:
    FLAVOUR = "posix"

    def move(src, dst):
        os.link(src, dst)
        os.unlink(src)

    def replace(src, dst):
        os.rename(src, dst)
        fd = os.open(os.path.dirname(os.path.abspath(dst)), 0)  # a directory: EACCES on Windows
        os.close(fd)
""",
    "winlib/locks.py": """
import sys

class PosixLock:
    pass

class WindowsLock:
    pass

Lock = WindowsLock if sys.platform == "win32" else PosixLock
""",
}


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    quiet = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")
    return pytester.runpytest_inprocess(*quiet, *args)


@pytest.fixture
def winlib(pytester: pytest.Pytester) -> pytest.Pytester:
    for path, text in LIBRARY.items():
        target = pytester.path / path
        target.parent.mkdir(exist_ok=True)
        target.write_text(text)
    pytester.syspathinsert()
    return pytester


USES_LIBRARY = """
import os
import sys

import pytest

import winlib
from winlib import FLAVOUR, Lock, replace
from winlib.locks import PosixLock


def test_replace_publishes():
    with open("a", "w") as handle:
        handle.write("new")
    with open("b", "w") as handle:
        handle.write("old")
    replace("a", "b")
    with open("b") as handle:
        assert handle.read() == "new"
"""


def test_code_that_chose_posix_at_import_fails_plain_and_the_note_names_the_fix(
    winlib: pytest.Pytester,
) -> None:
    winlib.makepyfile(test_uses=USES_LIBRARY)
    result = _run(winlib, "--ocirace")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FileExistsError: [[]WinError 183[]]*",
            "*ocirace platform*",
            "*chose their platform when they were imported*",
            '  winlib (__init__.py:*: if sys.platform == "win32":)',
            "*--ocirace-windows-import-modules='winlib'*",
            "or, if their Windows branch needs what the simulation lacks (pywin32), keep what "
            "they chose at import and show Windows only to their checks at call time: "
            "--ocirace-windows-platform-modules='winlib'",
        ]
    )


def test_windows_import_modules_runs_the_windows_branch(winlib: pytest.Pytester) -> None:
    winlib.makepyfile(
        test_uses=USES_LIBRARY
        + """

def test_every_reference_sees_the_windows_copy():
    assert winlib.FLAVOUR == FLAVOUR == "windows"
    assert Lock is sys.modules["winlib.locks"].WindowsLock
    assert Lock.__name__ == "WindowsLock"
    assert os.name == "posix" and sys.platform != "win32"  # only the named modules
    assert "msvcrt" in sys.modules and winlib.msvcrt is sys.modules["msvcrt"]


def test_move_fails_as_windows_reports_it():
    open("a", "w").close()
    open("b", "w").close()
    with pytest.raises(FileExistsError) as caught:
        winlib.move("a", "b")
    assert caught.value.winerror == 183
    assert str(caught.value) == (
        "[WinError 183] Cannot create a file when that file already exists."
    )


@pytest.mark.parametrize("kind", [Lock, PosixLock])
def test_parameters_captured_at_collection(kind):
    expected = "WindowsLock" if kind.__name__ != "PosixLock" else "PosixLock"
    assert kind is getattr(sys.modules["winlib.locks"], expected)


@pytest.mark.ocirace(enabled=False)
def test_outside_the_simulation_the_originals_are_back():
    assert winlib.FLAVOUR == FLAVOUR == "posix"
    assert Lock.__name__ == "PosixLock"
    assert "msvcrt" not in sys.modules
""",
    )
    result = _run(winlib, "--ocirace", "--ocirace-windows-import-modules=winlib")
    result.assert_outcomes(passed=6)
    assert "chose their platform" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*ocirace platform*",
            "windows_import_modules: winlib imported as on Windows (2 module(s); reaches "
            "ctypes.WinError, ctypes.windll, msvcrt; chooses at __init__.py:*",
            "windows_platform_modules: winlib -> winlib.locks.sys, winlib.os, winlib.sys",
        ]
    )


def test_windows_import_modules_by_ini_and_marker(winlib: pytest.Pytester) -> None:
    winlib.makeini("[pytest]\nocirace_windows_import_modules = winlib\n")
    winlib.makepyfile(
        test_ini="""
import pytest
import winlib

@pytest.mark.ocirace
def test_windows():
    assert winlib.FLAVOUR == "windows"

def test_not_simulated():
    assert winlib.FLAVOUR == "posix"
""",
    )
    _run(winlib).assert_outcomes(passed=2)


def test_unimportable_module_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    pass\n")
    result = _run(pytester, "--ocirace", "--ocirace-windows-import-modules=no_such_lib_x")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ocirace option windows_import_modules: cannot import 'no_such_lib_x'*"]
    )


def test_import_failing_as_windows_names_module_and_cause(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        needswin="import sys\nif sys.platform == 'win32':\n    import winreg\n",
        test_one="import needswin\ndef test_one():\n    pass\n",
    )
    pytester.syspathinsert()
    result = _run(pytester, "--ocirace", "--ocirace-windows-import-modules=needswin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*importing 'needswin' as on Windows failed: ModuleNotFoundError*winreg*"]
    )


def test_options_that_change_nothing_say_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        plainlib="def add(a, b):\n    return a + b\n",
        test_one="import plainlib\ndef test_one():\n    assert plainlib.add(1, 2) == 3\n",
    )
    pytester.syspathinsert()
    result = _run(pytester, "--ocirace", "--ocirace-windows-import-modules=plainlib")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*PlatformWarning: ocirace option windows_import_modules: 'plainlib'*changes nothing*"]
    )
    # The call-time view the import option implies does not warn a second time.
    assert "option windows_platform_modules: 'plainlib'" not in result.stdout.str()
    # Once per process and name: another module for the other option.
    pytester.makepyfile(otherlib="X = 1\n")
    result = _run(pytester, "--ocirace", "--ocirace-windows-platform-modules=otherlib")
    result.stdout.fnmatch_lines(
        ["*PlatformWarning: ocirace option windows_platform_modules: 'otherlib'*hold no os*"]
    )


def test_platform_view_covers_submodules(pytester: pytest.Pytester) -> None:
    pkg = pytester.mkpydir("cachepkg")
    (pkg / "store.py").write_text("import os\ndef flavour():\n    return os.name\n")
    pytester.makepyfile(
        test_one="""
import cachepkg.store

def test_one():
    assert cachepkg.store.flavour() == "nt"
""",
    )
    pytester.syspathinsert()
    result = _run(pytester, "--ocirace", "--ocirace-windows-platform-modules=cachepkg")
    result.assert_outcomes(passed=1)
    assert "PlatformWarning" not in result.stdout.str()


def test_the_note_leaves_out_the_tests_own_platform_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_own="""
import os
import sys

import pytest

WINDOWS = sys.platform == "win32"

@pytest.mark.skipif(sys.platform == "darwin", reason="not here")
def test_fails_in_its_own_code():
    open("a", "w").close()
    open("b", "w").close()
    os.rename("a", "b")
""",
    )
    result = _run(pytester, "--ocirace")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FileExistsError: [[]WinError 183[]]*"])
    assert "chose their platform" not in result.stdout.str()


MSVCRT_LOCKS = """
import pytest

import winlib


@pytest.mark.ocirace(windows_import_modules=["winlib"])
def test_msvcrt_locks_of_a_windows_import_exclude(tmp_path):
    assert winlib.FLAVOUR == "windows"
    path = str(tmp_path / "lock")
    with open(path, "wb") as first, open(path, "wb") as second:
        winlib.msvcrt.locking(first.fileno(), winlib.msvcrt.LK_NBLCK, 1)
        with pytest.raises(PermissionError) as excinfo:
            winlib.msvcrt.locking(second.fileno(), winlib.msvcrt.LK_NBLCK, 1)
        assert excinfo.value.errno == 13
        winlib.msvcrt.locking(first.fileno(), winlib.msvcrt.LK_UNLCK, 1)
        winlib.msvcrt.locking(second.fileno(), winlib.msvcrt.LK_NBLCK, 1)
"""


def test_msvcrt_of_a_windows_import_locks_through_the_simulations_lock_table(
    winlib: pytest.Pytester,
) -> None:
    # Two stand-ins of msvcrt exist (the Windows import's, built once per process, and the
    # call-time view's); both must lock through the one lock table of the running test.
    winlib.makepyfile(test_msvcrt=MSVCRT_LOCKS)
    _run(winlib, "--ocirace").assert_outcomes(passed=1)
