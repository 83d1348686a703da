"""Windows names and paths: the writer under pyfakefs' Windows emulation, and name rules.

pyfakefs in Windows mode gives drive letters, backslashes, case-insensitive names and a
``os.rename`` that refuses an existing target (decision table row 2) - the behaviour the
writer's no-clobber publish relies on. (The full Windows simulation with share modes and
concurrent renames is a later issue's test of this writer.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem, OSType

from pytest_ocirace import writer

from .conftest import make_blob

RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}


@pytest.fixture
def winfs(fs: FakeFilesystem, windows: None) -> FakeFilesystem:
    fs.os = OSType.WINDOWS
    fs.create_dir("C:\\cache")
    return fs


def test_blob_round_trip_on_a_windows_path(winfs: FakeFilesystem) -> None:
    blob = make_blob(5000)
    path = writer.write_blob("C:\\cache\\layout", blob.digest, blob.data)
    assert str(path) == "C:\\cache\\layout\\blobs\\sha256\\" + blob.digest.encoded
    with open(path, "rb") as handle:
        assert handle.read() == blob.data
    assert sorted(os.listdir("C:\\cache\\layout")) == ["blobs", "index.json", "oci-layout"]


def test_rename_onto_an_existing_blob_is_success_not_an_error(winfs: FakeFilesystem) -> None:
    blob = make_blob(5000)
    target = str(writer.blob_path("C:\\cache\\l", blob.digest))

    def source() -> Iterator[bytes]:
        yield blob.data[:10]
        winfs.create_file(target, contents=blob.data)  # another process won the race
        yield blob.data[10:]

    assert str(writer.write_blob("C:\\cache\\l", blob.digest, source())) == target
    assert os.listdir(os.path.dirname(target)) == [blob.digest.encoded]


def test_publish_if_absent_on_windows(winfs: FakeFilesystem) -> None:
    winfs.create_file("C:\\cache\\src", contents=b"a")
    winfs.create_file("C:\\cache\\DST", contents=b"a")  # case-insensitive: same as dst
    assert writer.publish("C:\\cache\\src", "C:\\cache\\dst", overwrite=False) is False
    assert not os.path.exists("C:\\cache\\src")


def test_atomic_write_replaces_on_windows(winfs: FakeFilesystem) -> None:
    winfs.create_file("C:\\cache\\index.json", contents="old")
    with writer.atomic_write("C:\\cache\\index.json", "w") as handle:
        handle.write("new")
    with open("C:\\cache\\index.json") as handle:
        assert handle.read() == "new"
    assert os.listdir("C:\\cache") == ["index.json"]


@pytest.mark.parametrize("target", ["data.json", "x" * 240, "name with spaces . ", "ünïcödé.bin"])
def test_temp_names_are_valid_windows_names(tmp_path: Path, target: str) -> None:
    # The temp name is derived from the target's name; check it for every rule in
    # windows-semantics.md: no reserved characters, no trailing dot or space, not a device
    # name, within NTFS' 255-character limit, and never a valid digest (no ':' anywhere).
    with writer.atomic_write(tmp_path / target) as handle:
        (name,) = os.listdir(tmp_path)
        handle.write(b"x")
    assert writer.is_temp_name(name)
    assert not re.search(r'[<>:"/\\|?*\x00-\x1f]', name)
    assert not name.endswith((".", " "))
    assert name.split(".")[1].lower() not in RESERVED
    assert len(name) <= 255
    assert os.listdir(tmp_path) == [target]


def test_blob_names_need_no_escaping_on_windows() -> None:
    for algorithm in ("sha256", "sha512"):
        path = writer.blob_path("C:\\x", make_blob(1, algorithm=algorithm).digest)
        for part in (path.parent.name, path.name):
            assert re.fullmatch(r"[a-z0-9]+", part), "no ':', no upper case, no dots"
            assert part not in RESERVED
