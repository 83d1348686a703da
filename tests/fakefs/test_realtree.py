"""The test's real directories inside the simulation: readable, lazy, never written back."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from pytest_ocirace.fakefs.filesystem import simulate
from pytest_ocirace.fakefs.realtree import RealTreeDirectory, project_roots
from pytest_ocirace.racemodel.events import Answer, FsOp
from pytest_ocirace.winrules.options import OptionError, SimulationOptions

HERE = os.path.abspath(__file__)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "data.txt").write_text("shipped")
    (root / "pkg" / "sub" / "deep.txt").write_text("deep")
    (root / ".env").write_text("KEY=1\n")
    return root


def _windows(path: Path) -> str:
    return "C:" + str(path).replace("/", "\\")


def test_posix_and_windows_spellings_read_the_real_file(tree: Path) -> None:
    data = str(tree / "pkg" / "data.txt")
    with simulate(real_trees=[str(tree)]):
        assert os.path.exists(data)
        with open(data) as handle:
            assert handle.read() == "shipped"
        with open(_windows(tree / "pkg" / "DATA.TXT")) as handle:  # any case, as Windows
            assert handle.read() == "shipped"
        assert sorted(os.listdir(str(tree))) == [".env", "pkg"]


def test_real_files_and_folders_have_windows_modes(tree: Path) -> None:
    # Windows has one permission bit: a shown file reads 0o666 (0o444 when it cannot be
    # written), beside a file written inside; cookiecutter compares the two.
    (tree / "pkg" / "data.txt").chmod(0o644)
    (tree / "pkg" / "script.sh").write_text("#!/bin/sh\n")
    (tree / "pkg" / "script.sh").chmod(0o755)
    (tree / "pkg" / "locked.txt").write_text("x")
    (tree / "pkg" / "locked.txt").chmod(0o444)
    (tree / "pkg").chmod(0o755)
    with simulate(real_trees=[str(tree)]):
        inside = str(tree / "pkg" / "new.txt")
        with open(inside, "w") as handle:
            handle.write("made inside")
        modes = {
            name: os.stat(str(tree / "pkg" / name)).st_mode
            for name in ("data.txt", "script.sh", "locked.txt", "new.txt")
        }
        folder = os.stat(str(tree / "pkg")).st_mode
    assert modes == {
        "data.txt": 0o100666,
        "script.sh": 0o100666,
        "locked.txt": 0o100444,
        "new.txt": 0o100666,
    }
    assert folder == 0o40777


def test_walking_up_from_a_file_finds_the_project_file(tree: Path) -> None:
    # What python-dotenv's find_dotenv does from the caller's co_filename.
    start = str(tree / "pkg" / "sub" / "deep.txt")
    with simulate(real_trees=[str(tree)]):
        directory = os.path.dirname(start)
        found = None
        while True:
            if os.path.isfile(os.path.join(directory, ".env")):
                found = os.path.join(directory, ".env")
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        assert found is not None
        with open(found) as handle:
            assert handle.read() == "KEY=1\n"


def test_copy_on_write_changes_stay_in_memory(tree: Path) -> None:
    data = str(tree / "pkg" / "data.txt")
    with simulate(real_trees=[str(tree)]):
        with open(data, "w") as handle:
            handle.write("changed")
        with open(str(tree / "new.txt"), "w") as handle:
            handle.write("new")
        os.remove(str(tree / ".env"))
        with open(data) as handle:
            assert handle.read() == "changed"
    assert (tree / "pkg" / "data.txt").read_text() == "shipped"
    assert not (tree / "new.txt").exists()
    assert (tree / ".env").exists()


def test_read_only_mode_fails_writes_as_windows_does(tree: Path) -> None:
    data = str(tree / "pkg" / "data.txt")
    with simulate(SimulationOptions(real_tree="read-only"), real_trees=[str(tree)]):
        with pytest.raises(PermissionError) as opened, open(data, "w"):
            pass
        assert opened.value.errno == errno.EACCES
        with pytest.raises(PermissionError) as removed:
            os.remove(data)
        assert getattr(removed.value, "winerror", None) == 5
        with open(str(tree / "tmp"), "w") as handle:  # new files are fine
            handle.write("x")
        with pytest.raises(PermissionError) as replaced:
            os.replace(str(tree / "tmp"), data)
        assert getattr(replaced.value, "winerror", None) == 5
    assert (tree / "pkg" / "data.txt").read_text() == "shipped"


def test_off_maps_nothing(tree: Path) -> None:
    with simulate(SimulationOptions(real_tree="off"), real_trees=[str(tree)]):
        assert not os.path.exists(str(tree / "pkg" / "data.txt"))


def test_bad_mode_is_one_line() -> None:
    with pytest.raises(OptionError, match="real_tree='yes' is not valid: use one of"):
        SimulationOptions(real_tree="yes")


def test_mapping_is_lazy(tree: Path) -> None:
    with simulate(real_trees=[str(tree)]) as sim:
        directory = sim.fs.resolve(str(tree))
        assert isinstance(directory, RealTreeDirectory)
        assert not directory.contents_read
        os.path.exists(str(tree / "pkg" / "data.txt"))
        sub = sim.fs.resolve(str(tree / "pkg" / "sub"))
        assert isinstance(sub, RealTreeDirectory)
        assert not sub.contents_read


def test_ancestors_show_only_the_way_to_the_tree(tree: Path) -> None:
    with simulate(real_trees=[str(tree / "pkg")]):
        assert os.listdir(str(tree)) == ["pkg"]


def test_mapping_reports_nothing_to_the_race_model(tree: Path) -> None:
    seen: list[FsOp] = []

    class Recorder:
        def before(self, op: FsOp) -> Answer:
            seen.append(op)
            return Answer.PROCEED

        def after(self, op: FsOp, error: BaseException | None) -> None:
            return None

    with simulate(real_trees=[str(tree)]) as sim:
        sim.observer = Recorder()
        assert os.path.isfile(str(tree / "pkg" / "sub" / "deep.txt"))
    assert len(seen) == 1  # the test's own isfile, nothing from loading the tree


def test_add_real_file_on_a_mapped_file_is_not_an_error(tree: Path) -> None:
    # pyfakefs users' own mapping (the documented recipe) keeps working.
    data = str(tree / "pkg" / "data.txt")
    with simulate(real_trees=[str(tree)]) as sim:
        sim.fs.add_real_file(data)
        sim.fs.add_real_directory(str(tree / "pkg"))
        with open(data) as handle:
            assert handle.read() == "shipped"
        with pytest.raises(PermissionError), open(data, "w"):  # add_real_file's read_only
            pass


def test_project_roots_keeps_outermost_directories(tree: Path) -> None:
    roots = project_roots([tree, tree / "pkg", tree / "pkg" / "data.txt", "/"])
    assert str(tree) in roots
    assert str(tree / "pkg") not in roots
    assert "/" not in roots
    assert all(os.path.isdir(root) for root in roots)
    site = next(p for p in sys.path if p.endswith("site-packages"))
    assert any(site == r or site.startswith(r + os.sep) for r in roots)


def test_co_filename_of_this_file_exists_inside() -> None:
    with simulate(real_trees=project_roots([os.path.dirname(HERE)])):
        assert os.path.exists(sys._getframe().f_code.co_filename)
