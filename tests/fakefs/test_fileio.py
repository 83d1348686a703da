"""``io.FileIO`` inside the simulation: the fake file, the simulation's rules, real descriptors."""

from __future__ import annotations

import _io
import io
import os
import tempfile
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate

#: Held before any simulation (inside one, this module's ``_io`` is pyfakefs' stand-in).
REAL_FILEIO = _io.FileIO


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def test_a_hand_built_io_stack_writes_the_fake_file(sim: WindowsFilesystem) -> None:
    # safer's temp files: mkstemp, then TextIOWrapper(BufferedWriter(FileIO(name, "w"))),
    # then os.replace. The FileIO went to the real disk; the published file was empty.
    with open("target.txt", "w") as handle:
        handle.write("old")
    descriptor, temp = tempfile.mkstemp(dir=".")
    os.close(descriptor)
    stream = io.TextIOWrapper(io.BufferedWriter(io.FileIO(temp, "w")))
    stream.write("replacement")
    stream.close()
    os.replace(temp, "target.txt")
    with open("target.txt") as handle:
        assert handle.read() == "replacement"
    assert not os.path.exists(os.path.join(os.getcwd(), temp))


def test_fileio_reads_seeks_and_reports_like_fileio(sim: WindowsFilesystem) -> None:
    with io.FileIO("data.bin", "w") as raw:
        assert raw.write(b"0123456789") == 10
        assert raw.mode == "wb"
        assert raw.writable()
        assert not raw.readable()
    with io.FileIO("data.bin", "r+") as raw:
        assert raw.mode == "rb+"
        assert raw.seek(4) == 4
        buffer = bytearray(3)
        assert raw.readinto(buffer) == 3
        assert bytes(buffer) == b"456"
        assert raw.tell() == 7
        assert raw.readall() == b"789"
        assert raw.truncate(5) == 5
    with open("data.bin", "rb") as handle:
        assert handle.read() == b"01234"
    with pytest.raises(ValueError, match="invalid mode"):
        io.FileIO("data.bin", "rw")
    with pytest.raises(ValueError, match="closed file"):
        raw.read()


def test_fileio_meets_the_simulations_rules(sim: WindowsFilesystem) -> None:
    with pytest.raises(FileNotFoundError):
        io.FileIO("missing.bin", "r")
    with io.FileIO("open.bin", "w"):
        # An open FileIO holds the file as open() does: Windows refuses to delete it.
        with pytest.raises(PermissionError) as caught:
            os.remove("open.bin")
        assert caught.value.winerror == 32  # type: ignore[attr-defined]
    with pytest.raises(FileExistsError):
        io.FileIO("open.bin", "x")


def test_real_descriptors_and_real_fileio_objects_stay_real(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    with io.FileIO(write_end, "w") as writer:
        writer.write(b"through the pipe")
    with io.FileIO(read_end, "r") as reader:
        assert reader.read() == b"through the pipe"
    spare_read, spare_write = os.pipe()
    os.close(spare_write)
    # A FileIO made by the real class (open() builds those) is still an io.FileIO.
    with REAL_FILEIO(spare_read, "r") as real:
        assert isinstance(real, io.FileIO)
        assert issubclass(type(real), io.FileIO)


def test_io_fileio_is_swapped_only_while_the_simulation_runs() -> None:
    with simulate():
        assert io.FileIO is not REAL_FILEIO
        assert not isinstance(io.BytesIO(), io.FileIO)
    assert io.FileIO is REAL_FILEIO
