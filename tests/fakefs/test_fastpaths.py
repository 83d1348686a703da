"""The remembered path arithmetic answers exactly what pyfakefs' own code answers."""

from __future__ import annotations

import os
import pathlib

import pytest
from pyfakefs.fake_file import FakeDirectory
from pyfakefs.fake_filesystem import FakeFilesystem
from pyfakefs.helpers import FSType

from pytest_ocirace.fakefs import fastpaths
from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.locking import ClassPatches

SPELLINGS = [
    "",
    ".",
    "..",
    "x",
    "X.txt",
    "a/b",
    "a\\b\\",
    "/tmp/x",
    "\\tmp\\x",
    "\\\\",
    "C:",
    "c:",
    "C:\\",
    "C:x",
    "c:/work/Blob",
    "C:\\work\\..\\work\\.\\blob",
    "C:\\work\\\\blob",
    "D:\\other\\file",
    "\\\\server\\share\\dir\\f",
    "\\\\server\\share",
    "//server/share/f",
    "\\\\server",
    "\\\\?\\C:\\x",
    "C:\\Users\\ocirace\\AppData\\Local\\Temp\\tmpabc",
    "work\\missing\\deeper",
]

PURE = [
    "splitdrive",
    "normcase",
    "normpath",
    "_path_components",
    "isabs",
    "splitpath",
    "starts_with_sep",
    "starts_with_drive_letter",
    "absnormpath",
    "replace_windows_root",
    "_original_path",
    "resolve_path",
    "get_object_from_normpath",
]


def _seen_as(cls: type[FakeFilesystem], fs: FakeFilesystem) -> FakeFilesystem:
    """The same filesystem seen through ``cls``'s methods only (no simulation routing)."""
    twin = object.__new__(cls)
    twin.__dict__ = fs.__dict__
    return twin


def _outcome(function: object, value: object) -> object:
    try:
        return function(value)  # type: ignore[operator]
    except Exception as exc:
        return type(exc)


def _tree() -> None:
    os.makedirs("C:\\work\\Blob\\Inner")
    with open("C:\\work\\Blob\\File.TXT", "w") as handle:
        handle.write("x")


@pytest.mark.parametrize("method", PURE)
def test_each_remembered_function_answers_as_pyfakefs_does(method: str) -> None:
    with simulate() as sim:
        _tree()
        assert isinstance(sim.fs, fastpaths.FastWindowsPaths)
        fs = _seen_as(fastpaths.FastWindowsPaths, sim.fs)
        plain = _seen_as(FakeFilesystem, sim.fs)
        for cwd in ("C:\\work", "C:\\work\\Blob"):
            fs.cwd = cwd
            for spelling in [*SPELLINGS, "blob\\file.txt", "C:\\WORK\\blob\\inner\\x"]:
                for _ in range(2):  # computed, then remembered
                    assert _outcome(getattr(fs, method), spelling) == _outcome(
                        getattr(plain, method), spelling
                    ), (
                        method,
                        spelling,
                        cwd,
                    )


def test_bytes_and_path_objects_take_pyfakefs_own_way() -> None:
    with simulate() as sim:
        fs = _seen_as(fastpaths.FastWindowsPaths, sim.fs)
        plain = _seen_as(FakeFilesystem, sim.fs)
        for method in PURE:
            for value in (b"C:\\work\\x", b"/tmp/x", pathlib.PureWindowsPath("C:/work/x")):
                assert _outcome(getattr(fs, method), value) == _outcome(
                    getattr(plain, method), value
                ), (method, value)


def test_posix_arithmetic_through_use_fs_type_is_not_windows_arithmetic() -> None:
    with simulate() as sim:
        fs = sim.fs
        fs.splitdrive("C:/x")  # remembered under Windows rules
        with fs.use_fs_type(FSType.POSIX):
            assert fs.splitdrive("C:/x") == ("", "C:/x")
            assert fs.path_separator == "/"
            assert fs.normpath("a/b/../c") == "a/c"
            assert not fs.is_windows_fs
        assert fs.splitdrive("C:/x") == ("C:", "/x")
        assert fs.is_windows_fs


def test_the_working_directory_is_part_of_the_answer() -> None:
    with simulate() as sim:
        os.makedirs("C:\\one")
        os.makedirs("C:\\two")
        os.chdir("C:\\one")
        assert sim.fs.absnormpath("x") == "C:\\one\\x"
        os.chdir("C:\\two")
        assert sim.fs.absnormpath("x") == "C:\\two\\x"


def test_case_insensitive_lookups_follow_every_change_of_a_directory() -> None:
    with simulate():
        os.makedirs("C:\\d")
        with open("C:\\d\\Report.TXT", "w"):
            pass
        assert os.listdir("C:\\d") == ["Report.TXT"]
        assert os.path.exists("C:\\d\\report.txt")
        os.rename("C:\\d\\report.txt", "C:\\d\\Other.txt")
        assert not os.path.exists("C:\\d\\REPORT.txt")
        assert os.path.exists("C:\\d\\other.TXT")
        assert os.listdir("C:\\d") == ["Other.txt"]
        os.remove("C:\\D\\OTHER.TXT")
        assert os.listdir("C:\\d") == []
        assert not os.path.exists("C:\\d\\other.txt")
        with open("C:\\d\\other.txt", "w"):
            pass
        assert os.listdir("C:\\d") == ["other.txt"]
        os.replace("C:\\d\\OTHER.txt", "C:\\d\\Final")
        assert os.listdir("C:\\d") == ["Final"]
        os.makedirs("C:\\d\\Sub\\Deep")
        os.rmdir("C:\\D\\sub\\deep")
        assert os.path.isdir("C:\\d\\SUB")
        assert not os.path.exists("C:\\d\\sub\\DEEP")


def test_a_directory_changed_outside_the_wrappers_is_indexed_afresh() -> None:
    with simulate() as sim:
        os.makedirs("C:\\d")
        with open("C:\\d\\A.txt", "w"):
            pass
        assert os.path.exists("C:\\d\\a.txt")
        directory = sim.fs.resolve("C:\\d")
        assert isinstance(directory, FakeDirectory)
        assert fastpaths.folded(directory) == {"a.txt": ["A.txt"]}
        # As between two simulations on one filesystem: changed while nothing was wrapped.
        directory.entries["B.txt"] = directory.entries.pop("A.txt")
        fastpaths.install(ClassPatches(), sim.fs)  # a new simulation: a new token
        assert fastpaths.folded(directory) == {"b.txt": ["B.txt"]}
        assert os.path.exists("C:\\d\\b.TXT")
        assert not os.path.exists("C:\\d\\a.txt")


def test_tables_are_bounded() -> None:
    with simulate() as sim:
        for index in range(fastpaths.LIMIT + 10):
            sim.fs.splitdrive(f"C:\\x{index}")
        assert sim.fs.splitdrive("C:\\y") == ("C:", "\\y")
    assert len(fastpaths._SPLITDRIVE) <= fastpaths.LIMIT


def test_remembered_walks_follow_every_change_of_the_tree() -> None:
    # resolve_path and _original_path are remembered per string: each change of a
    # directory's names (create, rename, remove, a link) must be seen by the next call.
    with simulate() as sim:
        fs = sim.fs
        os.makedirs("C:\\work\\Blob")
        os.chdir("C:\\work")
        plain = _seen_as(FakeFilesystem, fs)

        def agree(spelling: str) -> str:
            answers = {fs.resolve_path(spelling), plain.resolve_path(spelling)}
            assert len(answers) == 1, (spelling, answers)
            assert fs._original_path(spelling) == plain._original_path(spelling)
            return answers.pop()

        assert agree("c:\\WORK\\new\\x") == "C:\\work\\new\\x"
        os.mkdir("C:\\work\\NEW")
        assert agree("c:\\WORK\\new\\x") == "C:\\work\\NEW\\x"
        os.rename("C:\\work\\NEW", "C:\\work\\Newer")
        assert agree("c:\\WORK\\new\\x") == "C:\\work\\new\\x"
        assert agree("c:\\work\\newer\\x") == "C:\\work\\Newer\\x"
        os.rmdir("C:\\work\\Newer")
        assert agree("c:\\work\\newer\\x") == "C:\\work\\newer\\x"
        assert agree("link\\x") == "C:\\work\\link\\x"
        fs.create_symlink("C:\\work\\link", "C:\\work\\Blob")
        assert agree("link\\x") == "C:\\work\\Blob\\x"
        os.chdir("C:\\work\\Blob")
        assert agree("x") == "C:\\work\\Blob\\x"


def test_realpath_follows_every_change_of_the_tree() -> None:
    with simulate() as sim:
        fs = sim.fs
        os.makedirs("C:\\work\\Blob")
        os.makedirs("C:\\work\\Other")
        os.chdir("C:\\work")
        assert os.path.realpath("link\\x") == "C:\\work\\link\\x"
        fs.create_symlink("C:\\work\\link", "C:\\work\\Blob")
        assert os.path.realpath("link\\x") == "C:\\work\\Blob\\x"
        os.remove("C:\\work\\link")
        fs.create_symlink("C:\\work\\link", "C:\\work\\Other")
        assert os.path.realpath("link\\x") == "C:\\work\\Other\\x"
        os.chdir("C:\\work\\Other")
        assert os.path.realpath("x") == "C:\\work\\Other\\x"
        assert os.path.realpath(b"x") == b"C:\\work\\Other\\x"


def test_the_remembered_object_of_a_path_is_the_one_there_now() -> None:
    with simulate() as sim:
        fs = sim.fs
        with open("C:\\f.txt", "w"):
            pass
        first = fs.get_object_from_normpath("C:\\f.txt")
        assert fs.get_object_from_normpath("C:\\F.TXT") is first
        os.remove("C:\\f.txt")
        with pytest.raises(FileNotFoundError):
            fs.get_object_from_normpath("C:\\f.txt")
        with open("C:\\f.txt", "w"):
            pass
        second = fs.get_object_from_normpath("C:\\f.txt")
        assert second is not first
        os.replace("C:\\f.txt", "C:\\g.txt")
        assert fs.get_object_from_normpath("C:\\g.txt") is second


def test_nothing_remembered_reaches_the_next_simulation() -> None:
    # The remembered walks live on one simulation's filesystem: a later test's starts empty.
    with simulate() as sim:
        os.makedirs("C:\\kept\\Dir")
        with open("C:\\kept\\Dir\\F.txt", "w"):
            pass
        assert sim.fs.get_object_from_normpath("C:\\kept\\dir\\f.txt") is not None
        assert os.path.realpath("c:\\kept\\dir").lower() == "c:\\kept\\dir"
        assert sim.fs.resolve_path("c:\\KEPT\\dir\\f.txt") == "C:\\kept\\Dir\\F.txt"
    with simulate() as sim:
        assert not os.path.exists("C:\\kept\\Dir\\F.txt")
        assert sim.fs.resolve_path("c:\\KEPT\\dir\\f.txt") == "C:\\KEPT\\dir\\f.txt"
        with pytest.raises(FileNotFoundError):
            sim.fs.get_object_from_normpath("C:\\kept\\dir\\f.txt")
