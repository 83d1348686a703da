"""The layer's contract with the race model, its lock, and stdlib behaviour inside it."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.racemodel.events import Answer, FsOp, OpKind
from pytest_ocirace.winrules import errors
from pytest_ocirace.winrules.options import SimulationOptions


class Recorder:
    def __init__(self) -> None:
        self.ops: list[tuple[str, FsOp, BaseException | None]] = []
        self.raise_on: OpKind | None = None
        self.absent: set[str] = set()

    def before(self, op: FsOp) -> Answer:
        self.ops.append(("before", op, None))
        if op.kind is self.raise_on:
            raise errors.windows_error(5, op.display, op.display2)
        if op.kind is OpKind.STAT and op.path in self.absent:
            return Answer.PRETEND_ABSENT
        return Answer.PROCEED

    def after(self, op: FsOp, error: BaseException | None) -> None:
        self.ops.append(("after", op, error))

    def kinds(self) -> list[tuple[str, OpKind]]:
        return [(when, op.kind) for when, op, _ in self.ops]


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def _write(name: str, data: bytes) -> None:
    with open(name, "wb") as handle:
        handle.write(data)


def test_observer_sees_open_close_and_replace_with_digest(sim: WindowsFilesystem) -> None:
    recorder = Recorder()
    sim.observer = recorder
    _write("tmp", b"payload")
    os.replace("tmp", "Blob.")
    kinds = [kind for when, kind in recorder.kinds() if when == "before"]
    assert kinds == [OpKind.OPEN, OpKind.CLOSE, OpKind.REPLACE]
    opened = recorder.ops[0][1]
    assert opened.handle is not None
    assert "write" in opened.access
    assert opened.creates
    closed = next(op for when, op, _ in recorder.ops if op.kind is OpKind.CLOSE)
    assert closed.handle == opened.handle
    replace = next(op for _, op, _ in recorder.ops if op.kind is OpKind.REPLACE)
    assert replace.path == "c:\\work\\tmp"
    assert replace.path2 == "c:\\work\\blob"
    assert replace.display2 == "Blob."
    assert replace.content_digest == hashlib.sha256(b"payload").hexdigest()


def test_the_layer_says_which_operations_make_their_name_appear(sim: WindowsFilesystem) -> None:
    # The race model's check-then-act rule answers "absent" only against a name an
    # unordered operation made appear: never one that was there before.
    _write("there", b"old")
    recorder = Recorder()
    sim.observer = recorder
    _write("there", b"new")  # an open "w" of a name that is there
    _write("tmp", b"x")
    os.replace("tmp", "there")  # onto a name that is there
    _write("tmp", b"y")
    os.replace("tmp", "fresh")  # onto a name that is not
    os.link("fresh", "linked")
    os.link("fresh", "linked2")
    appears = [
        (op.kind, op.display2 or op.display, op.creates)
        for when, op, _ in recorder.ops
        if when == "before" and op.kind is not OpKind.CLOSE
    ]
    assert appears == [
        (OpKind.OPEN, "there", False),
        (OpKind.OPEN, "tmp", True),
        (OpKind.REPLACE, "there", False),
        (OpKind.OPEN, "tmp", True),
        (OpKind.REPLACE, "fresh", True),
        (OpKind.LINK, "linked", True),
        (OpKind.LINK, "linked2", True),
    ]


def test_error_from_before_propagates_and_changes_nothing(sim: WindowsFilesystem) -> None:
    _write("tmp", b"new")
    _write("blob", b"old")
    recorder = Recorder()
    recorder.raise_on = OpKind.REPLACE
    sim.observer = recorder
    with pytest.raises(PermissionError) as info:
        os.replace("tmp", "blob")
    assert info.value.winerror == 5  # type: ignore[attr-defined]
    sim.observer = None
    assert pathlib.Path("blob").read_bytes() == b"old"
    assert pathlib.Path("tmp").read_bytes() == b"new"


def test_failed_operation_reaches_after_with_its_error(sim: WindowsFilesystem) -> None:
    recorder = Recorder()
    sim.observer = recorder
    with pytest.raises(FileNotFoundError):
        os.remove("missing")
    when, op, error = recorder.ops[-1]
    assert (when, op.kind) == ("after", OpKind.REMOVE)
    assert isinstance(error, FileNotFoundError)
    assert error.winerror == 2


def test_pretend_absent_answers_every_existence_query(sim: WindowsFilesystem) -> None:
    _write("blob", b"x")
    recorder = Recorder()
    recorder.absent.add(sim.key("blob"))
    sim.observer = recorder
    assert not os.path.exists("blob")
    assert not os.path.isfile("blob")
    assert not pathlib.Path("BLOB").exists()
    with pytest.raises(FileNotFoundError) as info:
        os.stat("blob")
    assert info.value.winerror == 2  # type: ignore[attr-defined]
    assert str(info.value) == "[WinError 2] The system cannot find the file specified: 'blob'"


def test_mkdir_rmdir_link_are_reported(sim: WindowsFilesystem) -> None:
    recorder = Recorder()
    sim.observer = recorder
    os.mkdir("d")
    os.rmdir("d")
    sim.observer = None
    _write("a", b"1")
    sim.observer = recorder
    os.link("a", "b")
    kinds = [kind for when, kind in recorder.kinds() if when == "before"]
    assert kinds == [OpKind.MKDIR, OpKind.RMDIR, OpKind.LINK]


def test_no_observer_means_no_events(sim: WindowsFilesystem) -> None:
    assert sim.observer is None
    _write("a", b"1")
    os.replace("a", "b")
    assert pathlib.Path("b").read_bytes() == b"1"


def test_leaked_file_object_is_closed_like_cpython(sim: WindowsFilesystem) -> None:
    _write("blob", b"old")
    _write("tmp", b"new")
    assert open("blob", "rb").read() == b"old"  # noqa: SIM115 - the leak is the point
    os.replace("tmp", "blob")
    assert pathlib.Path("blob").read_bytes() == b"new"


def test_shutil_works_as_on_windows(sim: WindowsFilesystem) -> None:
    _write("src", b"s")
    _write("dst", b"d")
    shutil.move("src", "dst")  # rename fails with 183, move falls back to copy + unlink
    assert pathlib.Path("dst").read_bytes() == b"s"
    assert not os.path.exists("src")
    os.makedirs("tree/sub")
    _write("tree/sub/f", b"f")
    shutil.copytree("tree", "copy")
    shutil.copy("dst", "copy/c1")
    shutil.copy2("dst", "copy/c2")
    assert sorted(os.listdir("copy")) == ["c1", "c2", "sub"]
    shutil.rmtree("copy")
    assert not os.path.exists("copy")


def test_paths_look_like_windows(sim: WindowsFilesystem) -> None:
    import tempfile

    assert os.getcwd() == "C:\\work"
    assert tempfile.gettempdir().startswith("C:\\Users\\")
    assert isinstance(pathlib.Path("x"), pathlib.WindowsPath)


def test_detach_restores_pyfakefs() -> None:
    from pyfakefs.fake_filesystem import FakeFilesystem
    from pyfakefs.fake_os import FakeOsModule

    original = FakeOsModule.__dict__["replace"]
    with simulate() as simulation:
        assert FakeOsModule.__dict__["replace"] is not original
        fs = simulation.fs
    assert type(fs) is FakeFilesystem
    assert FakeOsModule.__dict__["replace"] is original
    assert "O_TEMPORARY" not in FakeOsModule.__dict__


def test_max_path_option_off() -> None:
    with simulate(SimulationOptions(max_path=False)):
        _write("tmp", b"x")
        os.rename("tmp", "b" * 255)
        assert os.path.exists("b" * 255)


def test_threads_do_not_corrupt_the_fake_filesystem(sim: WindowsFilesystem) -> None:
    os.mkdir("shared")
    failures: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def writer(number: int) -> None:
        try:
            for round_ in range(60):
                temp = f"shared\\tmp-{number}-{round_}"
                _write(temp, f"{number}:{round_}".encode())
                os.replace(temp, f"shared\\Target-{number}")
                assert os.path.exists(f"shared\\target-{number}")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert sorted(os.listdir("shared")) == sorted(f"Target-{n}" for n in range(8))
    for n in range(8):
        assert pathlib.Path(f"shared\\target-{n}").read_bytes() == f"{n}:59".encode()


def test_open_errors_have_the_c_runtime_shape(sim: WindowsFilesystem) -> None:
    fd = os.open("blob", os.O_RDWR | os.O_CREAT | os.O_TEMPORARY)  # type: ignore[attr-defined]
    os.remove("blob")
    assert sim.is_delete_pending("blob")
    with pytest.raises(PermissionError) as pending:
        open("blob", "rb")  # noqa: SIM115
    assert str(pending.value) == "[Errno 13] Permission denied: 'blob'"
    assert pending.value.winerror is None  # type: ignore[attr-defined]
    os.close(fd)
    assert not os.path.exists("blob")
    with pytest.raises(OSError, match=r"^\[Errno 22\] Invalid argument: 'a\?b'$"):
        open("a?b", "w")  # noqa: SIM115
    _write("ro", b"x")
    sim.set_readonly("ro")
    with pytest.raises(PermissionError, match=r"^\[Errno 13\] Permission denied: 'ro'$"):
        open("ro", "wb")  # noqa: SIM115


def test_reserved_names_option() -> None:
    with simulate(SimulationOptions(reserved_names="allow")):
        _write("tmp", b"x")
        os.rename("tmp", "nul")
        assert os.listdir(".") == ["nul"]
    with simulate() as strict:
        _write("tmp", b"x")
        with pytest.raises(OSError, match="WinError 123"):
            os.mkdir("com1")
        assert strict.options.reserved_names == "error"


def test_streams_follow_their_file(sim: WindowsFilesystem) -> None:
    _write("sha256:abc", b"hidden")
    os.rename("sha256", "moved")
    assert pathlib.Path("moved:abc").read_bytes() == b"hidden"
    os.remove("moved")
    with pytest.raises(FileNotFoundError):
        open("moved:abc", "rb")  # noqa: SIM115


def test_temporary_file_is_windows_named_temporary_file(sim: WindowsFilesystem) -> None:
    # Regression: tempfile.TemporaryFile kept its POSIX form, which unlinks the file while
    # it is open - refused on Windows (WinError 32) - so every TemporaryFile() failed.
    import tempfile

    with tempfile.TemporaryFile() as handle:
        handle.write(b"spooled")
        handle.seek(0)
        assert handle.read() == b"spooled"
        assert os.listdir(tempfile.gettempdir()) == [os.path.basename(handle.name)]
    assert os.listdir(tempfile.gettempdir()) == []  # deleted on close, as O_TEMPORARY does
    with tempfile.SpooledTemporaryFile(max_size=1) as spooled:
        spooled.write(b"rolls over to a TemporaryFile")


def test_every_spelling_of_a_file_is_one_file(sim: WindowsFilesystem) -> None:
    # pytest's tmp_path keeps its POSIX spelling; os.path.abspath of it gives C:\...
    os.makedirs("/tmp/pytest-of-u/t0")
    directory = os.path.abspath("/tmp/pytest-of-u/t0")
    assert directory == "C:\\tmp\\pytest-of-u\\t0"
    temporary = os.path.join(directory, ".tmp_x")
    _write(temporary, b"x")
    os.replace(temporary, "/tmp/pytest-of-u/t0/nx")  # not WinError 17
    for spelling in (
        "C:\\tmp\\pytest-of-u\\t0\\nx",
        "c:/TMP/pytest-of-u/t0/NX",
        "\\\\?\\C:\\tmp\\pytest-of-u\\t0\\nx",
        "//?/c:/tmp/pytest-of-u/t0/nx",
        "/tmp/pytest-of-u/t0/nx.",
    ):
        assert os.path.isfile(spelling), spelling
        with open(spelling, "rb") as handle:
            assert handle.read() == b"x"
        assert sim.key(spelling) == sim.key("/tmp/pytest-of-u/t0/nx")
    assert os.listdir("\\\\?\\C:\\tmp\\pytest-of-u\\t0") == ["nx"]
    os.makedirs("\\\\?\\C:\\tmp\\pytest-of-u\\t0\\d")
    assert os.path.isdir("/tmp/pytest-of-u/t0/d")
    os.rename("\\\\?\\C:\\tmp\\pytest-of-u\\t0\\nx", "c:/tmp/pytest-of-u/t0/d/moved")
    os.remove("/tmp/pytest-of-u/t0/d/moved")
    assert not os.path.exists("C:\\tmp\\pytest-of-u\\t0\\d\\moved")


def test_other_drives_are_still_other_volumes(sim: WindowsFilesystem) -> None:
    _write("/x", b"x")
    os.makedirs("D:\\y")
    with pytest.raises(OSError, match="WinError 17") as caught:
        os.replace("/x", "D:\\y\\x")
    assert caught.value.winerror == 17  # type: ignore[attr-defined]


def test_observer_gets_one_key_for_every_spelling(sim: WindowsFilesystem) -> None:
    recorder = Recorder()
    sim.observer = recorder
    os.makedirs("/tmp/k")
    _write("/tmp/k/a", b"1")
    _write("C:\\tmp\\k\\A", b"2")
    _write("\\\\?\\C:\\tmp\\k\\a", b"3")
    keys = {op.path for when, op, _ in recorder.ops if op.kind is OpKind.OPEN}
    assert keys == {"c:\\tmp\\k\\a"}


@pytest.mark.parametrize(
    "call",
    [
        lambda: os.open("a\x00", os.O_RDONLY),
        lambda: open("a\x00"),  # noqa: SIM115
        lambda: open(b"a\x00", "wb"),  # noqa: SIM115
        lambda: os.stat("a\x00"),
        lambda: os.lstat("a\x00"),
        lambda: os.rename("a\x00", "b"),
        lambda: os.replace("a", "b\x00"),
        lambda: os.remove("a\x00"),
        lambda: os.mkdir("a\x00"),
        lambda: os.makedirs("a\x00\\x"),
        lambda: os.rmdir("a\x00"),
        lambda: os.listdir("a\x00"),
        lambda: os.chmod("a\x00", 0o600),
        lambda: os.link("a", "b\x00"),
        lambda: pathlib.Path("a\x00").write_text("x"),
    ],
)
def test_embedded_null_byte_is_value_error_as_in_cpython(
    sim: WindowsFilesystem, call: Callable[[], object]
) -> None:
    _write("a", b"x")
    with pytest.raises(ValueError, match="embedded null"):
        call()
    assert os.listdir(".") == ["a"]


def test_existence_queries_of_a_null_byte_name_are_false(sim: WindowsFilesystem) -> None:
    for query in (os.path.exists, os.path.isfile, os.path.isdir, os.path.islink, os.path.lexists):
        assert query("a\x00") is False
    assert pathlib.Path("a\x00").exists() is False


def test_replace_onto_a_file_symlink_replaces_the_link_itself() -> None:
    # MoveFileExW(MOVEFILE_REPLACE_EXISTING) on a file symlink replaces the link, not its
    # target (python-dotenv's set_key on a symlinked .env); pyfakefs refused it (EACCES).
    with simulate():
        with open("real.txt", "w") as handle:
            handle.write("original")
        os.symlink("real.txt", "link")
        with open("tmp", "w") as handle:
            handle.write("replacement")
        os.replace("tmp", "link")
        assert not os.path.islink("link")
        with open("link") as handle:
            assert handle.read() == "replacement"
        with open("real.txt") as handle:
            assert handle.read() == "original"
        with open("tmp", "w") as handle:
            handle.write("x")
        os.symlink("real.txt", "link2")
        with pytest.raises(FileExistsError):
            os.rename("tmp", "link2")  # without REPLACE_EXISTING: [WinError 183]
        os.mkdir("folder")
        os.symlink("folder", "folder-link")
        with pytest.raises(PermissionError):
            os.replace("tmp", "folder-link")  # a link to a directory stays refused


def test_removing_one_name_of_a_hard_link_keeps_the_other(sim: WindowsFilesystem) -> None:
    # pyfakefs keeps one name per file object (the newest link's): removing the old name
    # removed the new one (safer's 'x' mode publishes with os.link, then os.remove).
    os.makedirs("sub")
    _write("first", b"data")
    os.link("first", "second")
    os.link("first", "sub\\third")
    os.remove("first")
    assert sorted(os.listdir(".")) == ["second", "sub"]
    assert os.listdir("sub") == ["third"]
    with open("second", "rb") as handle:
        assert handle.read() == b"data"
    os.remove("sub\\third")
    assert os.listdir("sub") == []
    assert os.path.exists("second")
    os.remove("second")
    assert os.listdir(".") == ["sub"]


def test_workdir_real_is_the_real_working_directory_as_windows_spells_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sqlitedict opens "tests/db/..." relative to the project: the simulation must start
    # where the suite did, and show the project's files there (the real tree).
    (tmp_path / "data.txt").write_text("real")
    monkeypatch.chdir(tmp_path)
    expected = "C:" + str(tmp_path).replace("/", "\\")
    with simulate(SimulationOptions(workdir="real"), real_trees=[str(tmp_path)]) as simulation:
        assert os.getcwd() == expected == simulation.workdir
        with open("data.txt") as handle:
            assert handle.read() == "real"
        with open("new.txt", "w") as handle:
            handle.write("fake")
    assert not (tmp_path / "new.txt").exists()
    with simulate() as simulation:
        assert os.getcwd() == "C:\\work" == simulation.workdir


def test_new_files_have_windows_permission_bits(sim: WindowsFilesystem) -> None:
    # Windows' stat derives the bits from the read-only attribute alone: 0o666 for a
    # writable file, 0o777 for a directory. The host's umask made plain open() 0o644.
    _write("plain", b"x")
    os.mkdir("folder")
    assert stat.S_IMODE(os.stat("plain").st_mode) == 0o666
    assert stat.S_IMODE(os.stat("folder").st_mode) == 0o777
    sim.set_readonly("plain")
    assert stat.S_IMODE(os.stat("plain").st_mode) == 0o444


def test_the_host_temp_and_home_directories_named_before_the_simulation_exist_in_it() -> None:
    # portalocker's BoundedSemaphore takes tempfile.gettempdir() ("/tmp") at import; inside
    # the simulation "/tmp/x.lock" is C:\tmp\x.lock, and the fake filesystem had no C:\tmp:
    # FileNotFoundError. On Windows both directories exist.
    import tempfile

    named_at_import = [tempfile.gettempdir(), os.path.expanduser("~")]
    marker = f"ocirace-host-dir-{os.getpid()}.lock"
    with simulate():
        for directory in named_at_import:
            assert os.path.isdir(directory)
            with open(os.path.join(directory, marker), "w") as handle:
                handle.write("fake")
            assert os.listdir(directory) == [marker]  # empty: the real one is not shown
    for directory in named_at_import:
        assert not os.path.exists(os.path.join(directory, marker))


def test_a_file_object_is_named_by_what_the_caller_passed(sim: WindowsFilesystem) -> None:
    # aiofiles' test_name_property: on Windows open(p).name == p, slashes and ".." kept;
    # the simulation had named it by the path it normalised for pyfakefs.
    os.makedirs("C:\\data\\sub")
    given = "C:/data/sub/../f.txt"
    with open(given, "w") as handle:
        assert handle.name == given
    with open(given.encode(), "rb") as handle:
        assert handle.name == given.encode()
    with open(given, "rb", buffering=0) as handle:
        assert handle.name == given
    with open(pathlib.Path(given), "rb") as handle:
        assert handle.name == os.fspath(pathlib.Path(given))  # a WindowsPath: "C:\\data..."
    descriptor = os.open(given, os.O_RDONLY)
    os.close(descriptor)


@pytest.mark.parametrize("name", [b"C:\\locks\\0.0", "C:\\locks\\\u00e9t\u00e9".encode()])
def test_a_bytes_path_opens_the_file_its_text_names(sim: WindowsFilesystem, name: bytes) -> None:
    # fasteners' lock files are bytes paths: an ASCII one is handed to pyfakefs as text
    # (every other operation of the layer does so), a non-ASCII one as pyfakefs' bytes.
    text = os.fsdecode(name)
    os.makedirs(b"C:\\locks", exist_ok=True)
    for mode in ("a", "ab", "w", "r+b", "rb", "r"):
        with open(name, mode) as handle:
            assert handle.name == name
            assert handle.tell() == 0
    with open(name, "ab") as handle:
        handle.write(b"12")
    with open(text, "rb") as handle:
        assert handle.read() == b"12"
    with open(name, "a") as handle:
        assert handle.tell() == 2
    assert os.listdir("C:\\locks") == [os.path.basename(text)]
    with pytest.raises(FileNotFoundError) as missing:
        open(b"C:\\nope\\" + os.path.basename(name), "rb")  # noqa: SIM115
    assert missing.value.filename == "C:\\nope\\" + os.path.basename(text)


def test_a_failing_step_of_the_end_leaves_nothing_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # zict: a finalizer imported a module while the writers' search walked sys.modules
    # ("dictionary changed size during iteration"); detach stopped there, the test's
    # patches stayed, and every later test errored at set-up.
    import tempfile

    from pytest_ocirace.fakefs.writer_seam import WriterSwitch

    original = tempfile.NamedTemporaryFile
    original_code = original.__code__

    real_uninstall = WriterSwitch.uninstall

    def broken(self: WriterSwitch) -> None:
        real_uninstall(self)  # its own work done, then the failure
        raise RuntimeError("dictionary changed size during iteration")

    monkeypatch.setattr(WriterSwitch, "uninstall", broken)
    with pytest.raises(RuntimeError, match="dictionary changed size"), simulate():
        pass
    monkeypatch.undo()
    assert tempfile.NamedTemporaryFile is original
    assert original.__code__ is original_code
    assert type(os).__name__ == "module"
    with simulate() as simulation, tempfile.NamedTemporaryFile() as handle:
        assert handle.name.startswith("C:\\")  # the next one starts as usual
    assert not simulation.fs.exists(handle.name)  # deleted on close, as on Windows
