"""fakefs/read_maps.py: which maps are read-only, and the bytes a read-only map holds."""

from __future__ import annotations

import mmap
import os

import pytest

from pytest_ocirace.fakefs import read_maps
from pytest_ocirace.fakefs.filesystem import simulate


def test_read_only_is_access_read_or_prot_read_alone() -> None:
    assert read_maps.is_read_only((0,), {"access": mmap.ACCESS_READ})
    assert read_maps.is_read_only((0,), {"prot": mmap.PROT_READ})
    assert not read_maps.is_read_only((0,), {})
    assert not read_maps.is_read_only((0,), {"access": mmap.ACCESS_WRITE})
    assert not read_maps.is_read_only((0,), {"prot": mmap.PROT_READ | mmap.PROT_WRITE})


def test_the_snapshot_is_the_range_asked_for_of_what_the_descriptor_holds() -> None:
    with simulate() as sim:
        with open("C:\\f.bin", "wb") as f:
            f.write(b"0123456789")
        with open("C:\\f.bin", "r+b") as f:
            f.write(b"ab")  # still in the file object's buffer: a real map does not see it
            fd = f.fileno()
            assert read_maps.snapshot(sim.fs, fd, (0,), {}) == b"0123456789"
            f.flush()
            assert read_maps.snapshot(sim.fs, fd, (0,), {}) == b"ab23456789"
            assert read_maps.snapshot(sim.fs, fd, (4,), {"offset": 2}) == b"2345"
            with pytest.raises(ValueError, match="greater than file size"):
                read_maps.snapshot(sim.fs, fd, (20,), {})
        fd = os.open("C:\\empty", os.O_CREAT | os.O_RDWR)
        try:
            with pytest.raises(ValueError, match="empty file"):
                read_maps.snapshot(sim.fs, fd, (0,), {})
        finally:
            os.close(fd)
