"""``islink`` without a walk while the simulated filesystem holds no symbolic link."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest
from pyfakefs.fake_filesystem import OSType
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs import symlinks
from pytest_ocirace.fakefs.filesystem import simulate


def test_no_link_means_islink_is_false_for_any_path() -> None:
    with simulate() as sim:
        os.makedirs("a/b")
        with open("a/b/file.txt", "w") as handle:
            handle.write("x")
        assert not symlinks.may_hold_links(sim.fs)
        for path in ("a", "a/b", "a/b/file.txt", "missing", pathlib.Path("a/b"), b"a"):
            assert os.path.islink(path) is False
        assert os.path.realpath("a/b/file.txt") == os.path.join(os.getcwd(), "a\\b\\file.txt")
        with pytest.raises(TypeError):
            os.path.islink(None)  # type: ignore[arg-type]


def test_a_link_made_by_the_test_is_seen_at_once() -> None:
    with simulate() as sim:
        os.makedirs("target/inner")
        os.symlink("target", "link", target_is_directory=True)
        assert symlinks.may_hold_links(sim.fs)
        assert os.path.islink("link") is True
        assert os.path.islink("target") is False
        assert os.path.realpath("link\\inner") == os.path.join(os.getcwd(), "target\\inner")
        os.rename("link", "moved")  # the link moves: still a link under its new name
        assert os.path.islink("moved") is True
        shutil.rmtree("target")
        assert os.path.islink("moved") is True  # dangling, still a link


def test_each_simulation_starts_without_the_previous_ones_links() -> None:
    with simulate() as sim:
        os.mkdir("target")
        os.symlink("target", "link", target_is_directory=True)
        assert symlinks.may_hold_links(sim.fs)
    with simulate() as sim:
        assert not symlinks.may_hold_links(sim.fs)
        assert os.path.islink("link") is False


def test_links_already_in_a_joined_filesystem_are_found() -> None:
    # pyfakefs' own patcher came first (its ``fs`` fixture), switched to Windows and given
    # a link before the simulation joined it.
    with Patcher() as patcher:
        fs = patcher.fs
        assert fs is not None
        fs.os = OSType.WINDOWS
        fs.create_dir("C:\\data")
        fs.create_symlink("C:\\data\\link", "C:\\data")
        with simulate() as sim:
            assert symlinks.may_hold_links(sim.fs)
            assert os.path.islink("C:\\data\\link") is True


def test_a_real_directory_added_by_the_test_brings_its_links(tmp_path: pathlib.Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "file.txt").write_text("data")
    (real / "link.txt").symlink_to(real / "file.txt")
    with simulate() as sim:
        os.mkdir("data")
        target = os.path.join(os.getcwd(), "data", "copy")
        sim.fs.add_real_directory(str(real), target_path=target, lazy_read=False)
        assert symlinks.may_hold_links(sim.fs)
        assert os.path.islink("data\\copy\\link.txt") is True
        assert os.path.islink("data\\copy\\file.txt") is False
