"""``pathlib`` objects made before the simulation, used inside it."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate

#: Made at import, as a module-level ``FILENAME = Path("one")`` is: the host's PosixPath.
MADE_AT_IMPORT = pathlib.Path("One")
PURE_POSIX = pathlib.PurePosixPath("one")
PATH_CLASS = pathlib.Path


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def test_a_path_made_at_import_equals_the_windows_path_it_would_have_been(
    sim: WindowsFilesystem,
) -> None:
    # safer: `list(Path(".").iterdir()) == [FILENAME]` compared WindowsPath('one') with
    # PosixPath('one'); on Windows FILENAME is a WindowsPath too.
    with open("one", "w"):
        pass
    listed = list(pathlib.Path(".").iterdir())
    # Both operand orders: the left operand's __eq__ runs first.
    assert listed == [MADE_AT_IMPORT]
    assert [MADE_AT_IMPORT] == listed  # noqa: SIM300
    assert MADE_AT_IMPORT == pathlib.Path("ONE")  # noqa: SIM300
    assert MADE_AT_IMPORT != pathlib.Path("two")  # noqa: SIM300
    # A PurePosixPath is POSIX on Windows too.
    assert PURE_POSIX != pathlib.Path("one")  # noqa: SIM300


def test_a_real_posix_path_keeps_its_own_equality_outside() -> None:
    with simulate():
        pass
    assert pathlib.PureWindowsPath("one") != MADE_AT_IMPORT
    assert pathlib.Path("One") == MADE_AT_IMPORT


def test_monkeypatching_path_reaches_the_paths_inside(
    sim: WindowsFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a module had `Path`, pyfakefs puts a stand-in object; setting an attribute on
    # it must reach the fake Path class, as it would reach pathlib.Path.
    calls: list[str] = []
    with open("victim", "w"):
        pass

    def unlink(self: Path, missing_ok: bool = False) -> None:
        calls.append(str(self))

    monkeypatch.setattr(Path, "unlink", unlink)  # `Path` here is pyfakefs' stand-in
    pathlib.Path("victim").unlink()
    assert calls == ["victim"]
    assert os.path.exists("victim")
    monkeypatch.undo()
    pathlib.Path("victim").unlink()
    assert not os.path.exists("victim")


PURE_PATH_CLASS = pathlib.PurePath


def test_pure_path_captured_at_import_makes_windows_pure_paths_inside(
    sim: WindowsFilesystem,
) -> None:
    # filelock's parametrize("path_type", [str, PurePath, Path]): PurePath(tmp_path / "a")
    # made PurePosixPath('C:\\/root/.../a'), which names no file (FileNotFoundError).
    os.makedirs("dir")
    made = PURE_PATH_CLASS(pathlib.Path("dir") / "a")
    assert type(made) is pathlib.PureWindowsPath
    assert str(made) == "dir\\a"
    with open(made, "w") as handle:
        handle.write("x")
    assert os.listdir("dir") == ["a"]
    assert type(pathlib.PurePosixPath("a/b")) is pathlib.PurePosixPath  # stays POSIX


def test_pure_path_is_the_hosts_outside() -> None:
    with simulate():
        pass
    assert type(PURE_PATH_CLASS("a")) is type(pathlib.PurePath("a"))
    assert os.name != "posix" or type(PURE_PATH_CLASS("a")) is pathlib.PurePosixPath


def test_a_real_paths_resolve_inside_is_the_windows_path_it_names(tmp_path: Path) -> None:
    # pytest's tmp_path_factory.mktemp compares (base / name).resolve().parent with base:
    # resolve() wrapped the fake os.path's C:\... answer in a PosixPath whose parent is ".".
    base = tmp_path
    with simulate(real_trees=[str(tmp_path)]):
        resolved = (base / "inside").resolve()
        assert resolved.drive == "C:"
        assert resolved.parent == base
        assert base == resolved.parent
        assert (resolved.parent != base) is False  # __ne__ from the same rule
    assert (base / "inside").resolve().parent == base
