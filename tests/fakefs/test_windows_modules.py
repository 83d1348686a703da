"""The Windows-only stand-ins, on the simulated filesystem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyfakefs.fake_os import FakeOsModule

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.windows_modules import (
    MOVEFILE_REPLACE_EXISTING,
    MOVEFILE_WRITE_THROUGH,
    SURFACE,
)


@pytest.fixture
def fake_os() -> Iterator[Any]:
    with simulate() as sim:
        os_module = FakeOsModule(sim.fs)
        with SURFACE.bound(os_module):
            yield os_module


def _write(os_module: Any, name: str, data: bytes) -> None:
    fd = os_module.open(name, os_module.O_WRONLY | os_module.O_CREAT | os_module.O_TRUNC)
    os_module.write(fd, data)
    os_module.close(fd)


def _read(os_module: Any, name: str) -> bytes:
    fd = os_module.open(name, os_module.O_RDONLY)
    try:
        return bytes(os_module.read(fd, 100))
    finally:
        os_module.close(fd)


def test_move_file_ex_without_replace_refuses_an_existing_target(fake_os: Any) -> None:
    _write(fake_os, "a", b"new")
    _write(fake_os, "b", b"old")
    kernel32 = SURFACE.windll.kernel32
    assert kernel32.MoveFileExW("a", "b", MOVEFILE_WRITE_THROUGH) == 0
    assert kernel32.GetLastError() == 183
    error = SURFACE.ctypes_attributes["WinError"]()
    assert isinstance(error, FileExistsError)
    assert error.winerror == 183
    assert str(error) == "[WinError 183] Cannot create a file when that file already exists."
    assert _read(fake_os, "b") == b"old"


def test_move_file_ex_with_replace_existing_is_os_replace(fake_os: Any) -> None:
    _write(fake_os, "a", b"new")
    _write(fake_os, "b", b"old")
    flags = MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH
    assert SURFACE.windll.kernel32.MoveFileExW("a", "b", flags) == 1
    assert SURFACE.get_last_error() == 0
    assert _read(fake_os, "b") == b"new"
    assert not fake_os.path.exists("a")


def test_move_onto_a_file_held_open_fails_as_windows(fake_os: Any) -> None:
    _write(fake_os, "a", b"new")
    _write(fake_os, "b", b"old")
    fd = fake_os.open("b", fake_os.O_RDONLY)
    try:
        assert SURFACE.windll.kernel32.MoveFileExW("a", "b", MOVEFILE_REPLACE_EXISTING) == 0
        assert SURFACE.get_last_error() == 5  # ERROR_ACCESS_DENIED, as os.replace on Windows
    finally:
        fake_os.close(fd)


def test_replace_file_keeps_a_backup(fake_os: Any) -> None:
    _write(fake_os, "target", b"old")
    _write(fake_os, "staged", b"new")
    assert SURFACE.windll.kernel32.ReplaceFileW("target", "staged", "target.bak", 0, None, None)
    assert _read(fake_os, "target") == b"new"
    assert _read(fake_os, "target.bak") == b"old"
    assert SURFACE.windll.kernel32.ReplaceFileW("missing", "target", None, 0, None, None) == 0
    assert SURFACE.get_last_error() == 2


def test_unsupported_surface_is_named() -> None:
    with pytest.raises(AttributeError, match="function 'CreateFileW' not found in kernel32"):
        _ = SURFACE.windll.kernel32.CreateFileW
    with pytest.raises(OSError, match="provides only kernel32"):
        SURFACE.windll.LoadLibrary("user32")
    with pytest.raises(AttributeError, match="module 'msvcrt' has no attribute 'getch'"):
        _ = SURFACE.modules["msvcrt"].getch
    with pytest.raises(NotImplementedError, match="MoveFileExW flag 0x4 is not simulated"):
        SURFACE.move_file_ex("a", "b", 0x4)


def test_errcheck_and_argtypes_are_honoured(fake_os: Any) -> None:
    move = SURFACE.windll.kernel32.MoveFileExW
    move.argtypes = ("LPCWSTR", "LPCWSTR", "DWORD")
    seen: list[object] = []
    move.errcheck = lambda result, function, args: seen.append((result, args)) or result
    try:
        assert move("missing", "b", 0) == 0
        assert seen == [(0, ("missing", "b", 0))]
        assert SURFACE.get_last_error() == 2
    finally:
        move.errcheck = None
        move.argtypes = None


def test_msvcrt_handles_round_trip_and_check_descriptors(fake_os: Any) -> None:
    msvcrt = SURFACE.modules["msvcrt"]
    _write(fake_os, "f", b"x")
    fd = fake_os.open("f", fake_os.O_RDWR)
    try:
        handle = msvcrt.get_osfhandle(fd)
        assert handle % 4 == 0
        assert msvcrt.open_osfhandle(handle, 0) == fd
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        fake_os.close(fd)
    with pytest.raises(OSError, match="Bad file descriptor"):
        msvcrt.get_osfhandle(fd)


def test_nt_is_the_tests_os(fake_os: Any) -> None:
    assert SURFACE.modules["nt"].getcwd() == fake_os.getcwd() == "C:\\work"


def test_unbound_surface_says_where_it_was_called() -> None:
    with pytest.raises(RuntimeError, match="outside a simulated test"):
        SURFACE.windll.kernel32.MoveFileExW("a", "b", 0)
