"""A remembered walk is answered again only while it is still pyfakefs' answer.

Every test remembers the walks of many spellings, changes the tree under them in one of
the ways pyfakefs can, and compares each remembered answer with pyfakefs' own code run
on the same filesystem (``resolve_path``, ``_original_path``, the object at a path) and
with ``os.path.realpath`` computed with nothing remembered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyfakefs.fake_file import FakeDirectory
from pyfakefs.fake_filesystem import FakeFilesystem

from pytest_ocirace.fakefs import fastpaths, walkstamps
from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.fakefs.locking import LOCK

SPELLINGS = [
    "C:\\w\\a\\b\\f.txt",
    "c:\\W\\A\\B\\F.TXT",
    "C:\\w\\a\\b",
    "C:\\w\\a\\b\\F.TXT\\more",
    "C:\\w\\a\\B\\new.txt",
    "C:\\w\\a\\b\\NEW.TXT",
    "C:\\w\\A\\b\\deeper\\x",
    "C:\\w\\z\\b\\f.txt",
    "C:\\w\\Z",
    "C:\\w\\other\\g.txt",
    "C:\\w\\link\\f.txt",
    "C:\\w\\link",
    "a\\b\\f.txt",
    "b\\F.txt",
    "f.txt",
    "..\\a\\b",
    "D:\\mounted\\x",
    "d:\\MOUNTED",
    "C:\\w\\a\\b\\f.lock",
    "c:\\w\\A\\b\\F.LOCK",
    "C:\\w\\a\\b\\f.lock\\",
]


def _plain(fs: FakeFilesystem) -> FakeFilesystem:
    """The same filesystem seen through pyfakefs' own methods (nothing remembered)."""
    twin = object.__new__(FakeFilesystem)
    twin.__dict__ = fs.__dict__
    return twin


def _outcome(function: Callable[[str], Any], spelling: str) -> Any:
    try:
        return function(spelling)
    except OSError as exc:
        return type(exc), exc.args, exc.filename, exc.filename2


def _fresh_realpath(fs: FakeFilesystem, spelling: str) -> str:
    """``os.path.realpath`` with the remembered walks of ``fs`` set aside for the call."""
    saved = fs.__dict__.pop("_ocirace_paths_by_tree", None)
    try:
        return os.path.realpath(spelling)
    finally:
        fs.__dict__.pop("_ocirace_paths_by_tree", None)
        if saved is not None:
            fs.__dict__["_ocirace_paths_by_tree"] = saved


def _agree(sim: WindowsFilesystem) -> None:
    """Every spelling, twice (computed or remembered, then remembered), as pyfakefs says."""
    fs = sim.fs
    plain = _plain(fs)
    for _ in range(2):
        for spelling in SPELLINGS:
            with LOCK:  # as every pyfakefs entry point is called in the simulation
                for method in ("resolve_path", "_original_path"):
                    assert _outcome(getattr(fs, method), spelling) == _outcome(
                        getattr(plain, method), spelling
                    ), (method, spelling, fs.cwd)
                normalized = fs.absnormpath(spelling)
                ours = _outcome(fs.get_object_from_normpath, normalized)
                theirs = _outcome(plain.get_object_from_normpath, normalized)
                assert ours is theirs or ours == theirs, (spelling, ours, theirs)
                for check_link in (False, True):
                    assert fs.exists(spelling, check_link) == plain.exists(spelling, check_link), (
                        spelling,
                        check_link,
                    )
            assert os.path.realpath(spelling) == _fresh_realpath(fs, spelling), spelling


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as sim:
        os.makedirs("C:\\w\\a\\b")
        os.makedirs("C:\\w\\other")
        with open("C:\\w\\a\\b\\f.txt", "w") as handle:
            handle.write("first")
        os.chdir("C:\\w")
        _agree(sim)
        yield sim


def _write(path: str, text: str = "x") -> None:
    with open(path, "w") as handle:
        handle.write(text)


def test_a_file_created_or_removed_on_the_walk(sim: WindowsFilesystem) -> None:
    _write("C:\\w\\a\\b\\new.txt")
    _agree(sim)
    os.remove("C:\\w\\a\\b\\new.txt")
    _agree(sim)
    _write("C:\\w\\a\\b\\New.Txt")  # another case: the spelling of the answer changes
    _agree(sim)
    os.mkdir("C:\\w\\a\\b\\deeper")
    _agree(sim)


def test_a_file_replaced_under_a_remembered_object(sim: WindowsFilesystem) -> None:
    before = sim.fs.get_object_from_normpath("C:\\w\\a\\b\\f.txt")
    _write("C:\\w\\other\\f2.txt", "second")
    os.replace("C:\\w\\other\\f2.txt", "C:\\w\\a\\b\\f.txt")
    _agree(sim)
    assert sim.fs.get_object_from_normpath("C:\\w\\a\\b\\f.txt") is not before
    with open("C:\\w\\a\\b\\F.TXT") as handle:
        assert handle.read() == "second"


def test_a_directory_on_the_walk_renamed_and_made_again(sim: WindowsFilesystem) -> None:
    os.rename("C:\\w\\a", "C:\\w\\z")
    _agree(sim)
    os.makedirs("C:\\w\\a\\b")  # the same names, other directories
    _agree(sim)
    _write("C:\\w\\a\\b\\f.txt", "new")
    _agree(sim)
    with open("C:\\w\\z\\b\\f.txt") as handle:
        assert handle.read() == "first"


def test_a_directory_on_the_walk_replaced_at_once(sim: WindowsFilesystem) -> None:
    # Nothing asked in between: the walk went through the old directory, which still
    # holds the same names elsewhere, while the new one under the old name is empty.
    os.rename("C:\\w\\a", "C:\\w\\z")
    os.mkdir("C:\\w\\a")
    _agree(sim)


def test_a_file_on_the_walk_replaced_by_a_directory(sim: WindowsFilesystem) -> None:
    # The walk stopped at a file; a directory of the same name lets it go on.
    os.remove("C:\\w\\a\\b\\f.txt")
    os.makedirs("C:\\w\\a\\b\\f.txt\\More")
    _agree(sim)


def test_a_directory_removed_and_made_again(sim: WindowsFilesystem) -> None:
    os.remove("C:\\w\\a\\b\\f.txt")
    os.rmdir("C:\\w\\a\\b")
    _agree(sim)
    os.mkdir("C:\\w\\a\\B")
    _agree(sim)
    _write("C:\\w\\a\\B\\F.txt")
    _agree(sim)


def test_the_case_of_a_directory_on_the_walk_changed(sim: WindowsFilesystem) -> None:
    os.rename("C:\\w\\a", "C:\\w\\A")
    _agree(sim)
    assert sim.fs.resolve_path("c:\\w\\a\\b\\f.txt") == "C:\\w\\A\\b\\f.txt"
    os.rename("C:\\w\\A\\b\\f.txt", "C:\\w\\A\\b\\F.TXT")
    _agree(sim)


def test_a_symbolic_link_on_the_walk(sim: WindowsFilesystem) -> None:
    sim.fs.create_symlink("C:\\w\\link", "C:\\w\\a\\b")
    _agree(sim)
    assert os.path.realpath("C:\\w\\link\\f.txt") == "C:\\w\\a\\b\\f.txt"
    os.remove("C:\\w\\link")
    sim.fs.create_symlink("C:\\w\\link", "C:\\w\\other")
    _agree(sim)
    os.rename("C:\\w\\a", "C:\\w\\z")
    _agree(sim)


def test_the_working_directory_changed(sim: WindowsFilesystem) -> None:
    os.chdir("C:\\w\\a")
    _agree(sim)
    os.chdir("C:\\w\\a\\b")
    _agree(sim)
    os.rename("C:\\w\\a\\b\\f.txt", "C:\\w\\a\\b\\F.txt")
    _agree(sim)


def test_a_drive_mounted(sim: WindowsFilesystem) -> None:
    sim.fs.add_mount_point("D:\\")
    _agree(sim)
    os.mkdir("D:\\Mounted")
    _agree(sim)


def test_a_real_directory_read_on_first_use(tmp_path: Path) -> None:
    # A real directory shown inside is read when first walked through: its entries
    # arrive during the walk that remembers the answer.
    root = tmp_path / "proj"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "Data.txt").write_text("shipped")
    spelled = "C:" + str(root).replace("/", "\\")
    with simulate(real_trees=[str(root)]) as sim:
        fs, plain = sim.fs, _plain(sim.fs)
        for spelling in (
            spelled + "\\PKG\\data.TXT",
            spelled + "\\pkg\\sub\\x",
            spelled + "\\pkg\\Data.txt",
        ):
            for _ in range(2):
                with LOCK:
                    assert fs.resolve_path(spelling) == plain.resolve_path(spelling)
                    assert fs._original_path(spelling) == plain._original_path(spelling)
        _write(spelled + "\\pkg\\sub\\x")
        with LOCK:
            assert fs._original_path(spelled + "\\PKG\\SUB\\X") == spelled + "\\pkg\\sub\\x"


# -- the rule itself, on directories of a plain pyfakefs filesystem -----------------------


def _lookup(directory: Any, component: str, folding: bool) -> tuple[str | None, Any]:
    entry = directory.entries.get(component)
    return (component, entry) if entry is not None else (None, None)


def _walk_to(fs: FakeFilesystem, names: list[str], calls: list[int]) -> Any:
    """A walk that notes each lookup, as fastpaths' walks do (it answers with the last
    entry itself, so that lookup is noted at ``ITSELF``, as ``_walk_to_object`` does)."""
    calls.append(1)
    current: Any = fs.root
    for index, name in enumerate(names):
        level = walkstamps.ITSELF if index == len(names) - 1 else walkstamps.KIND
        _, entry = walkstamps.look_up(current, name, False, _lookup, level)
        if entry is None:
            return None
        current = entry
    return current


def _change(directory: FakeDirectory, change: Callable[[], None]) -> None:
    walkstamps.changing(directory)
    change()
    walkstamps.changing(directory)


def test_a_change_elsewhere_keeps_the_walk_and_a_change_on_it_does_not() -> None:
    fs = FakeFilesystem()
    fs.create_dir("/x/y")
    fs.create_dir("/elsewhere")
    table: dict[Any, list[Any]] = {}
    calls: list[int] = []

    def walk() -> Any:
        with LOCK:
            return walkstamps.remember(
                table, "/x/y", lambda: _walk_to(fs, ["x", "y"], calls), _lookup
            )

    first = walk()
    assert walk() is first
    assert len(calls) == 1
    elsewhere = fs.get_object("/elsewhere")
    _change(elsewhere, lambda: fs.create_file("/elsewhere/new"))
    assert walk() is first
    assert len(calls) == 1
    x = fs.get_object("/x")
    _change(x, lambda: fs.create_file("/x/sibling"))
    assert walk() is first
    assert len(calls) == 1
    _change(x, lambda: x.remove_entry("y"))
    assert walk() is None
    assert len(calls) == 2
    _change(x, lambda: fs.create_dir("/x/y"))
    again = walk()
    assert again is not first
    assert again is fs.get_object("/x/y")
    assert len(calls) == 3


def test_a_walk_outside_the_lock_is_valid_only_until_any_change() -> None:
    fs = FakeFilesystem()
    fs.create_dir("/x/y")
    fs.create_dir("/elsewhere")
    table: dict[Any, list[Any]] = {}
    calls: list[int] = []

    def walk() -> Any:
        return walkstamps.remember(table, "/x/y", lambda: _walk_to(fs, ["x", "y"], calls), _lookup)

    walk()
    walk()
    assert len(calls) == 1
    _change(fs.get_object("/elsewhere"), lambda: fs.create_file("/elsewhere/new"))
    walk()
    assert len(calls) == 2


@pytest.mark.parametrize("outer_reads_first", [False, True])
def test_an_inner_walk_read_in_an_outer_one_counts_for_the_outer(
    outer_reads_first: bool,
) -> None:
    # resolve_path calls _original_path: an answer remembered inside must keep the outer
    # one honest when only the inner walk read the changed name (whether or not the
    # outer walk had read something of its own before).
    fs = FakeFilesystem()
    fs.create_dir("/x/y")
    fs.create_dir("/other")
    inner: dict[Any, list[Any]] = {}
    outer: dict[Any, list[Any]] = {}
    calls: list[int] = []

    def inner_walk() -> Any:
        return walkstamps.remember(inner, "y", lambda: _walk_to(fs, ["x", "y"], calls), _lookup)

    def outer_compute() -> Any:
        if outer_reads_first:
            _walk_to(fs, ["other"], calls)
        return inner_walk()

    def outer_walk() -> Any:
        with LOCK:
            return walkstamps.remember(outer, "outer", outer_compute, _lookup)

    with LOCK:
        inner_walk()  # remembered before the outer walk asks for it
    first = outer_walk()
    assert outer_walk() is first
    x = fs.get_object("/x")
    _change(x, lambda: x.remove_entry("y"))
    assert outer_walk() is None


def test_remembered_walks_are_dropped_with_the_simulation() -> None:
    with simulate() as sim:
        os.makedirs("C:\\kept")
        assert sim.fs.resolve_path("c:\\KEPT") == "C:\\kept"
        fs = sim.fs
    fastpaths.forget(fs)
    assert "_ocirace_paths_by_tree" not in fs.__dict__


def test_walks_through_one_folder_share_its_lookups_and_the_tree_does_not_outlive_them() -> None:
    import gc
    import weakref

    with simulate() as sim:
        os.makedirs("C:\\store\\a")
        for name in ("0", "1"):
            with open(f"C:\\store\\a\\{name}", "wb"):
                pass
        walks = [sim.fs._walk_original_path(f"C:\\store\\a\\{n}") for n in "01"]
        assert walks == ["C:\\store\\a\\0", "C:\\store\\a\\1"]
        table = sim.fs._by_tree()[0]
        with LOCK:  # a walk made outside the lock keeps no lookups
            assert sim.fs._original_path("C:\\STORE\\a\\0") == "C:\\store\\a\\0"
            assert sim.fs._original_path("C:\\STORE\\a\\1") == "C:\\store\\a\\1"
        reads = [table[(p, sim.fs._cwd)][0][1] for p in ("C:\\STORE\\a\\0", "C:\\STORE\\a\\1")]
        store = [read for read in reads[0] if read[2] == "STORE"]
        again = [read for read in reads[1] if read[2] == "STORE"]
        assert store
        assert store[0] is again[0]  # the same lookup of "STORE", kept once
        folder = weakref.ref(sim.fs.resolve("C:\\store"))
        assert any(isinstance(r, tuple) for r in gc.get_referrers(folder()))
    del sim, table, reads, store, again
    gc.collect()
    kept = folder()
    # No remembered lookup keeps the finished simulation's tree.
    assert kept is None or not any(isinstance(r, tuple) for r in gc.get_referrers(kept))


# -- a name that comes and goes (a lock file) -----------------------------------------------


def test_a_lock_file_created_and_deleted_again_and_again(sim: WindowsFilesystem) -> None:
    # Both remembered states of the name (absent, present) are checked on every use: a
    # remembered "absent" must not answer once the file is there, nor "present" after it
    # is gone, whatever spelling made it and whichever state came first.
    for spelling in ("C:\\w\\a\\b\\f.lock", "C:\\w\\a\\b\\F.LOCK", "c:\\W\\a\\B\\f.Lock"):
        for _ in range(3):
            descriptor = os.open(spelling, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            _agree(sim)
            os.close(descriptor)
            os.remove("C:\\w\\a\\b\\f.lock")
            _agree(sim)
            with pytest.raises(FileNotFoundError) as missing:
                os.stat("C:\\w\\a\\b\\f.lock")
            assert missing.value.winerror == 2  # type: ignore[attr-defined]


def test_a_lock_file_renamed_in_and_out(sim: WindowsFilesystem) -> None:
    _write("C:\\w\\other\\f.lock")
    _agree(sim)
    os.rename("C:\\w\\other\\f.lock", "C:\\w\\a\\b\\f.lock")  # in
    _agree(sim)
    os.rename("C:\\w\\a\\b\\f.lock", "C:\\w\\other\\F.LOCK")  # out
    _agree(sim)
    os.mkdir("C:\\w\\a\\b\\F.lock")  # a directory under the name now
    _agree(sim)
    assert os.path.isdir("C:\\w\\a\\b\\f.lock")
    os.rmdir("C:\\w\\a\\b\\f.lock")
    _agree(sim)
    os.replace("C:\\w\\other\\F.LOCK", "C:\\w\\a\\b\\f.LOCK")
    _agree(sim)


def test_a_lock_folder_removed_and_linked_elsewhere(sim: WindowsFilesystem) -> None:
    # The lock file's folder goes away between two uses, then its name becomes a link
    # (as a junction would) to another folder holding a lock file of its own.
    descriptor = os.open("C:\\w\\a\\b\\f.lock", os.O_RDWR | os.O_CREAT)
    os.close(descriptor)
    _agree(sim)
    os.remove("C:\\w\\a\\b\\f.lock")
    os.remove("C:\\w\\a\\b\\f.txt")
    os.rmdir("C:\\w\\a\\b")
    _agree(sim)
    _write("C:\\w\\other\\f.lock")
    sim.fs.create_symlink("C:\\w\\a\\b", "C:\\w\\other")
    _agree(sim)
    assert os.path.exists("C:\\w\\a\\b\\f.lock")
    os.remove("C:\\w\\a\\b")
    os.mkdir("C:\\w\\a\\b")
    _agree(sim)
    assert not os.path.exists("C:\\w\\a\\b\\f.lock")


def test_a_lock_name_swapped_for_a_link_to_nothing(sim: WindowsFilesystem) -> None:
    # exists() and lexists() of one name differ while it is a dangling link.
    descriptor = os.open("C:\\w\\a\\b\\f.lock", os.O_RDWR | os.O_CREAT)
    os.close(descriptor)
    _agree(sim)
    os.remove("C:\\w\\a\\b\\f.lock")
    sim.fs.create_symlink("C:\\w\\a\\b\\f.lock", "C:\\w\\nowhere.lock")
    _agree(sim)
    assert not os.path.exists("C:\\w\\a\\b\\f.lock")
    assert os.path.lexists("C:\\w\\a\\b\\f.lock")
    _write("C:\\w\\nowhere.lock")
    _agree(sim)
    assert os.path.exists("C:\\w\\a\\b\\f.lock")


def test_a_lock_file_seen_from_another_working_directory(sim: WindowsFilesystem) -> None:
    descriptor = os.open("a\\b\\f.lock", os.O_RDWR | os.O_CREAT)  # relative to C:\\w
    os.close(descriptor)
    _agree(sim)
    os.chdir("C:\\w\\a")
    _agree(sim)
    os.remove("b\\F.lock")
    _agree(sim)
    os.chdir("C:\\w\\a\\b")
    _agree(sim)


def test_a_name_that_comes_and_goes_keeps_both_walks() -> None:
    fs = FakeFilesystem()
    fs.create_dir("/x")
    table: dict[Any, list[Any]] = {}
    calls: list[int] = []

    def walk() -> Any:
        with LOCK:
            return walkstamps.remember(
                table, "/x/y", lambda: _walk_to(fs, ["x", "y"], calls), _lookup
            )

    x = fs.get_object("/x")
    assert walk() is None
    _change(x, lambda: fs.create_dir("/x/y"))
    present = walk()
    assert present is fs.get_object("/x/y")
    assert len(calls) == 2
    for _ in range(3):  # the same directory leaves and comes back: both walks hold
        _change(x, lambda: x.remove_entry("y"))
        assert walk() is None
        _change(x, lambda: x.add_entry(present))
        assert walk() is present
    assert len(calls) == 2
    _change(x, lambda: x.remove_entry("y"))
    _change(x, lambda: fs.create_dir("/x/y"))  # another directory under the name
    other = walk()
    assert other is not present
    assert other is fs.get_object("/x/y")
    assert len(calls) == 3
    assert len(table["/x/y"]) <= walkstamps.VARIANTS


def test_a_remembered_missing_name_raises_a_new_error_each_time(
    sim: WindowsFilesystem,
) -> None:
    path = sim.fs.absnormpath("C:\\w\\a\\b\\gone.txt")
    errors = []
    for _ in range(2):
        with LOCK, pytest.raises(FileNotFoundError) as raised:
            sim.fs.get_object_from_normpath(path)
        errors.append(raised.value)
    assert errors[0] is not errors[1]
    assert errors[0].args == errors[1].args
    assert errors[1].filename == "C:\\w\\a\\b\\gone.txt"
    assert errors[1].__traceback__ is not None
    assert errors[1].__traceback__.tb_next is None or len(
        list(_frames(errors[1].__traceback__))
    ) == len(list(_frames(errors[0].__traceback__)))


def _frames(tb: Any) -> Iterator[Any]:
    while tb is not None:
        yield tb
        tb = tb.tb_next
