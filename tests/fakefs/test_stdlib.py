"""The standard library's file objects inside the simulation behave as CPython's on Windows."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pathlib
import shutil
import tempfile
import weakref
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate

#: Bound at import, as `from tempfile import TemporaryFile` binds it in a library.
BOUND_TEMPORARY_FILE = tempfile.TemporaryFile
#: Bound at import, as cachecontrol's `filewrapper` binds it.
BOUND_NAMED_TEMPORARY_FILE = tempfile.NamedTemporaryFile
#: Bound at import, as requests-cache's `from shutil import rmtree` binds it.
BOUND_RMTREE = shutil.rmtree


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def test_a_file_object_left_by_a_failed_write_is_closed_when_freed(
    sim: WindowsFilesystem,
) -> None:
    # CPython frees (and closes) the file object once the exception is handled, so
    # Windows lets the file be deleted. The simulation kept every write's closure, and
    # with it the file object: [WinError 32] (safer, tdir's cleanup).
    with contextlib.suppress(TypeError):
        json.dump({"key": [object()]}, open("out.json", "w"))  # noqa: SIM115
    os.remove("out.json")
    assert not os.path.exists("out.json")


def test_reads_and_writes_do_not_keep_the_file_object_alive(sim: WindowsFilesystem) -> None:
    handle = open("data.txt", "w")  # noqa: SIM115
    for _ in range(3):
        handle.write("x")
    handle.close()
    with open("data.txt") as reader:
        assert reader.read() == "xxx"
    ref = weakref.ref(handle)
    del handle
    gc.collect()
    assert ref() is None


def test_posix_only_os_functions_are_absent_as_on_windows(sim: WindowsFilesystem) -> None:
    # pyfakefs handed os.mkfifo to the real os: python-dotenv's FIFO test made a real FIFO
    # named C:\...\.env in the real working directory. Windows' os has no mkfifo.
    assert not hasattr(os, "mkfifo")
    with pytest.raises(AttributeError, match="has no attribute 'mkfifo'"):
        os.mkfifo("fifo")  # type: ignore[attr-defined,unused-ignore]
    assert not os.path.exists("fifo")
    assert hasattr(os, "getpid")  # everything else still reaches the real os


def test_temporary_file_bound_at_import_is_windows_temporary_file(
    sim: WindowsFilesystem,
) -> None:
    # boltons' ioutils does `from tempfile import TemporaryFile` at import: on Windows that
    # is NamedTemporaryFile; here it was the POSIX function, which unlinks its open file
    # ([WinError 32] inside the simulation).
    directory = tempfile.mkdtemp()
    with BOUND_TEMPORARY_FILE(dir=directory) as handle:
        handle.write(b"spooled")
        handle.seek(0)
        assert handle.read() == b"spooled"
    assert os.listdir(directory) == []  # deleted on close
    os.rmdir(directory)


def test_temporary_file_bound_at_import_is_posix_again_after(tmp_path: pathlib.Path) -> None:
    with simulate():
        pass
    with BOUND_TEMPORARY_FILE(dir=str(tmp_path)) as handle:
        handle.write(b"x")
        assert os.listdir(tmp_path) == []  # the POSIX function unlinks at once


def test_named_temporary_file_bound_at_import_is_windows_named_temporary_file(
    sim: WindowsFilesystem,
) -> None:
    # cachecontrol's filewrapper does `from tempfile import NamedTemporaryFile`: on Windows
    # its delete=True file is O_TEMPORARY, which no one can open again by name.
    directory = tempfile.mkdtemp()
    with BOUND_NAMED_TEMPORARY_FILE(dir=directory) as handle:
        handle.write(b"buffered")
        with pytest.raises(PermissionError):
            open(handle.name, "rb").close()
    assert os.listdir(directory) == []  # deleted on close
    os.rmdir(directory)


def test_named_temporary_file_bound_at_import_is_posix_again_after(
    tmp_path: pathlib.Path,
) -> None:
    with simulate():
        pass
    with BOUND_NAMED_TEMPORARY_FILE(dir=str(tmp_path)) as handle:
        handle.write(b"x")
        handle.flush()
        with open(handle.name, "rb") as again:  # POSIX: a second open by name is fine
            assert again.read() == b"x"
    assert os.listdir(tmp_path) == []


def test_rmtree_imported_by_name_removes_a_tree(sim: WindowsFilesystem) -> None:
    # requests-cache: `from shutil import rmtree` ... rmtree(cache_dir, ignore_errors=True).
    # The real rmtree's fd-based walk os.open()ed the directory: [Errno 13] on Windows.
    for _ in range(2):  # the second time after a call through pyfakefs' shutil module
        os.makedirs("C:\\cache\\sub")
        with open("C:\\cache\\sub\\entry.json", "w") as f:
            f.write("{}")
        BOUND_RMTREE("C:\\cache")
        assert not os.path.exists("C:\\cache")
        os.makedirs("C:\\other")
        shutil.rmtree("C:\\other")


def test_tokenize_open_reads_a_source_the_simulation_shows(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # joblib's get_func_code: tokenize.open(func.__code__.co_filename) of a module imported
    # inside the simulation, whose co_filename is Windows-spelled.
    import tokenize

    source = tmp_path / "coded.py"
    source.write_bytes(b"# -*- coding: big5 -*-\ndef f():\n    return 1\n")
    with simulate() as simulation:
        simulation.fs.add_real_file(str(source), read_only=True)
        windows_name = str(pathlib.PureWindowsPath(str(source)))
        with tokenize.open(windows_name) as f:
            assert f.encoding == "big5"
            assert f.read().splitlines()[1] == "def f():"
    # Outside, and for names the real disk has, the real open as before.
    with tokenize.open(str(source)) as f:
        assert f.encoding == "big5"


def test_simulations_do_not_accumulate_what_they_inspect() -> None:
    # Each simulation makes a fresh copy of NamedTemporaryFile; its signature was cached
    # per copy, so a suite kept one entry (and one function) per simulated test.
    from pytest_ocirace.fakefs import stdlib

    with simulate():
        pass
    before = stdlib._signature.cache_info().currsize
    for _ in range(3):
        with simulate():
            pass
    assert stdlib._signature.cache_info().currsize == before


def test_the_fake_os_fspath_is_the_real_one_and_a_test_may_still_replace_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pyfakefs.fake_os import FakeOsModule

    real = {"fspath": os.fspath}  # this module's os is the fake one inside a simulation
    with simulate():
        assert type(os) is FakeOsModule
        assert os.fspath is real["fspath"]
        assert os.fspath(pathlib.PurePosixPath("a/b")) == "a/b"
        monkeypatch.setattr(os, "fspath", lambda path: "replaced")
        assert os.fspath("x") == "replaced"
        monkeypatch.undo()
        assert os.fspath("x") == "x"
    assert "fspath" not in vars(FakeOsModule)
    assert os.fspath is real["fspath"]
