"""fakefs/starting_tree.py: a copied starting tree is the tree a build makes, and nothing more.

Each comparison builds one filesystem the usual way (``realtree.map_trees`` and
``make_directories``) and gives another the same tree from the template, then walks both:
the same objects of the same classes, the same stat results (times read again), the same
links between them, nothing shared with the template or another copy.
"""

from __future__ import annotations

import os
import shutil
import time
import types
from pathlib import Path
from typing import Any

import pytest
from pyfakefs.fake_file import FakeDirectory
from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.fakefs import realtree, starting_tree
from pytest_ocirace.fakefs.filesystem import HOST_DIRECTORIES, TEMP_DIR, simulate
from pytest_ocirace.fakefs.patcher import new_windows_filesystem
from pytest_ocirace.fakefs.starting_tree import StartingTree

IMMUTABLE = (str, bytes, int, float, bool, type(None), tuple, frozenset)


def _windows(path: Path) -> str:
    return "C:" + str(path).replace("/", "\\")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "data.txt").write_text("shipped")
    return root


@pytest.fixture
def tree(project: Path, tmp_path: Path) -> StartingTree:
    other = tmp_path / "other" / "lib"
    other.mkdir(parents=True)
    return StartingTree(
        workdir=_windows(project),
        directories=(TEMP_DIR, *HOST_DIRECTORIES),
        real_roots=(str(project), str(other)),
    )


def _built(tree: StartingTree) -> FakeFilesystem:
    fs = new_windows_filesystem()
    tree._build(fs, realtree)
    return fs


def _given(tree: StartingTree) -> FakeFilesystem:
    fs = new_windows_filesystem()
    tree.give(fs)
    return fs


def _nodes(fs: FakeFilesystem) -> list[tuple[str, Any]]:
    found = []

    def walk(path: str, node: Any) -> None:
        found.append((path, node))
        for name, child in node._entries.items():
            walk(path + "\\" + name, child)

    walk("", fs.root)
    return found


def _stat(node: Any, *, times: bool) -> dict[str, Any]:
    fields = dict(vars(node.stat_result))
    if not times:
        for name in ("_st_atime_ns", "_st_mtime_ns", "_st_ctime_ns"):
            del fields[name]
    return fields


def _same_tree(built: FakeFilesystem, copied: FakeFilesystem, own: Path) -> None:
    """``copied`` is ``built``; real directories' times compared only under ``own``.

    Another process (or xdist worker) may add or remove an entry of a shared real
    directory (``/tmp``) between the two reads, which changes its times legitimately.
    """
    mine = "\\" + _windows(own)
    assert copied.last_ino == built.last_ino
    assert copied.last_dev == built.last_dev
    assert list(copied.mount_points) == list(built.mount_points)
    pairs = list(zip(_nodes(built), _nodes(copied), strict=True))
    for (path, one), (other_path, two) in pairs:
        assert path == other_path
        assert type(one) is type(two), path
        real = isinstance(one, realtree.RealTreeDirectory)
        # Made directories get "now"; real ones the real directory's stat, read again.
        times = real and (path == mine or path.startswith(mine + "\\"))
        assert _stat(one, times=times) == _stat(two, times=times), path
        assert sorted(vars(one)) == sorted(vars(two)), path
        for name, value in vars(one).items():
            if name not in starting_tree._OWN:
                assert vars(two)[name] == value, (path, name)
        assert two.filesystem is copied
        parent = two.parent_dir() if two.parent_dir is not None else None
        if path:
            assert parent is dict(_nodes(copied))[path.rpartition("\\")[0]], path


def test_a_copied_tree_is_the_tree_a_build_makes(tree: StartingTree, tmp_path: Path) -> None:
    _given(tree)  # the first one is built, and teaches the template
    _same_tree(_built(tree), _given(tree), tmp_path)


def test_copies_share_nothing_but_values(tree: StartingTree) -> None:
    _given(tree)
    one, two = _given(tree), _given(tree)
    for (path, first), (_, second) in zip(_nodes(one), _nodes(two), strict=True):
        if not path:
            continue
        assert first is not second
        for name, value in vars(first).items():
            if name == "only":
                continue  # the trie of a real ancestor: only ever read
            if name in starting_tree._OWN:
                if value is not None:
                    assert vars(second)[name] is not value, (path, name)
            else:
                assert isinstance(value, IMMUTABLE), (path, name, type(value))


def test_made_directories_get_the_time_they_were_copied(tree: StartingTree) -> None:
    _given(tree)
    time.sleep(0.01)
    before = time.time()
    fs = _given(tree)
    temp = dict(_nodes(fs))["\\" + TEMP_DIR]
    assert type(temp) is FakeDirectory
    assert temp.st_mtime >= before - 0.001


def test_a_real_directory_changed_between_two_copies_is_read_again(
    tree: StartingTree, project: Path
) -> None:
    _given(tree)
    (project / "pkg" / "new.txt").write_text("new")  # lazily listed: seen by the next copy
    os.utime(project, (1_000_000_000, 1_000_000_000))
    fs = _given(tree)
    node = dict(_nodes(fs))["\\" + _windows(project)]
    assert node.st_mtime == 1_000_000_000
    assert sorted(node.entries["pkg"].entries) == ["data.txt", "new.txt"]


def test_a_real_directory_gone_between_two_trees_is_left_out_as_a_build_does(
    tree: StartingTree, tmp_path: Path
) -> None:
    _given(tree)
    # "other" is in the template (listed on the way to the working directory).
    assert "other" in dict(_nodes(_given(tree)))["\\" + _windows(tmp_path)]._entries
    shutil.rmtree(tmp_path / "other")
    copied = _given(tree)
    _same_tree(_built(tree), copied, tmp_path)
    assert "other" not in dict(_nodes(copied))["\\" + _windows(tmp_path)]._entries


def test_a_working_directory_below_a_mapped_tree_is_built_every_time(
    project: Path,
) -> None:
    # Reaching it lists the mapped tree's real directory: that listing is the disk's now.
    below = StartingTree(workdir=_windows(project / "pkg"), real_roots=(str(project),))
    _given(below)
    (project / "late").mkdir()
    fs = _given(below)
    node = dict(_nodes(fs))["\\" + _windows(project)]
    assert "late" in node._entries


def test_a_filesystem_that_is_not_fresh_is_built_into(tree: StartingTree) -> None:
    _given(tree)
    fs = new_windows_filesystem()
    fs.create_dir("C:\\already")
    tree.give(fs)
    assert "already" in fs.root.entries["C:"].entries
    assert fs.isdir(tree.workdir)
    assert fs.isdir(TEMP_DIR)


def test_a_file_in_the_place_of_a_directory_is_one_line() -> None:
    fs = new_windows_filesystem()
    fs.create_file("C:\\blocked")
    with pytest.raises(starting_tree.TreeError, match=r"'C:\\\\blocked\\\\x' exists and is not"):
        StartingTree(workdir="C:\\blocked\\x").give(fs)


def test_simulations_get_copies_written_in_one_absent_in_the_next(project: Path) -> None:
    trees = [str(project)]
    for _ in range(2):  # the second simulation gets a copy
        with simulate(real_trees=trees) as sim:
            assert os.listdir(TEMP_DIR) == []
            assert sorted(os.listdir(_windows(project))) == ["pkg"]
            with open(os.path.join(TEMP_DIR, "scratch"), "w") as handle:
                handle.write("x")
            with open(os.path.join(_windows(project), "made.txt"), "w") as handle:
                handle.write("x")
            os.mkdir(os.path.join(sim.workdir, "made"))
    assert sorted(os.listdir(project)) == ["pkg"]  # nothing reached the real disk


def test_the_template_is_keyed_by_the_tree(project: Path, tmp_path: Path) -> None:
    first = StartingTree(workdir="C:\\one", real_roots=(str(project),))
    second = StartingTree(workdir="C:\\two", real_roots=(str(project),))
    for tree in (first, second, first, second):
        fs = _given(tree)
        assert fs.isdir(tree.workdir)
        other = second if tree is first else first
        assert not fs.exists(other.workdir)


def test_a_stale_module_copy_gets_its_own_templates(tree: StartingTree) -> None:
    # pytester's in-process runs import fresh copies of the package's modules: a tree must
    # be made of the classes of the copy that checks them (``isinstance`` in realtree).
    _given(tree)
    keys = {key[0] for key in starting_tree._TEMPLATES}
    assert all(isinstance(module, types.ModuleType) for module in keys)
    assert realtree in keys
