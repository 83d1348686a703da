"""The simulated ``open()`` returns CPython's io classes, and every simulation rule still holds.

Regression (issue 8, aiofiles 25.1.0: 12 tests): pyfakefs' file objects are only
``io.BufferedIOBase``/``io.TextIOBase``, so aiofiles' ``singledispatch`` on the io classes
rejected temporary files (``TypeError: Unsupported IO type``) or wrapped ``rb+`` files
without ``peek``/``readall``, and ``detach()`` failed.
"""

from __future__ import annotations

import _io
import contextlib
import functools
import gc
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.racemodel.model import RaceModel

#: The real classes, held before any simulation (as a library holds them at import).
REAL_CLASSES = {
    "FileIO": _io.FileIO,
    "BufferedReader": _io.BufferedReader,
    "BufferedWriter": _io.BufferedWriter,
    "BufferedRandom": _io.BufferedRandom,
    "TextIOWrapper": _io.TextIOWrapper,
}


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


@functools.singledispatch
def wrap(file: object) -> str:
    """aiofiles' ``wrap``: one async class per io class, registered at import."""
    raise TypeError(f"Unsupported IO type: {file}")


@wrap.register(io.TextIOBase)
def _(file: object) -> str:
    return "text"


@wrap.register(io.BufferedWriter)
@wrap.register(io.BufferedIOBase)
def _(file: object) -> str:
    return "buffered"


@wrap.register(io.BufferedReader)
@wrap.register(io.BufferedRandom)
def _(file: object) -> str:
    return "buffered-reader"


@wrap.register(io.FileIO)
def _(file: object) -> str:
    return "raw"


@pytest.mark.parametrize(
    ("mode", "kind", "raw_mode"),
    [
        ("rb", "BufferedReader", "rb"),
        ("wb", "BufferedWriter", "wb"),
        ("ab", "BufferedWriter", "ab"),
        ("xb", "BufferedWriter", "xb"),
        ("r+b", "BufferedRandom", "rb+"),
        ("w+b", "BufferedRandom", "rb+"),
        ("ab+", "BufferedRandom", "ab+"),
        ("xb+", "BufferedRandom", "xb+"),
    ],
)
def test_each_binary_mode_gives_the_class_cpython_gives(
    sim: WindowsFilesystem, mode: str, kind: str, raw_mode: str
) -> None:
    name = "fresh.bin" if "x" in mode else "data.bin"
    with open("data.bin", "wb") as setup:
        setup.write(b"0123456789")
    with open(name, mode) as handle:
        assert type(handle) is REAL_CLASSES[kind]
        assert isinstance(handle.raw, REAL_CLASSES["FileIO"])
        assert handle.mode == raw_mode
        assert handle.raw.mode == raw_mode
        assert handle.name == name
        assert wrap(handle) in ("buffered", "buffered-reader")
    with open("data.bin", mode.replace("x", "w"), buffering=0) as raw:
        assert isinstance(raw, REAL_CLASSES["FileIO"])
        assert wrap(raw) == "raw"


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("r", "BufferedReader"), ("w", "BufferedWriter"), ("a+", "BufferedRandom")],
)
def test_text_is_a_text_io_wrapper_over_the_buffered_class(
    sim: WindowsFilesystem, mode: str, kind: str
) -> None:
    with open("data.txt", "w", encoding="utf-8") as setup:
        setup.write("line one\nline two\n")
    with open("data.txt", mode, encoding="utf-8") as handle:
        assert type(handle) is REAL_CLASSES["TextIOWrapper"]
        assert type(handle.buffer) is REAL_CLASSES[kind]
        assert handle.mode == mode  # open() sets it to the mode given
        assert wrap(handle) == "text"


def test_temporary_files_dispatch_as_the_io_classes(sim: WindowsFilesystem) -> None:
    # aiofiles' tempfile tests: NamedTemporaryFile("wb+") and TemporaryFile("rb+").
    with tempfile.NamedTemporaryFile("wb+") as named:
        assert type(named.file) is REAL_CLASSES["BufferedRandom"]
        assert wrap(named.file) == "buffered-reader"
        named.write(b"spooled")
        named.seek(0)
        assert named.read() == b"spooled"
    with tempfile.TemporaryFile("rb+") as anonymous:
        assert wrap(anonymous.file) == "buffered-reader"  # type: ignore[attr-defined]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as text:
        assert wrap(text.file) == "text"  # type: ignore[attr-defined]


def test_peek_read1_readinto1_readall_and_detach(sim: WindowsFilesystem) -> None:
    with open("data.bin", "wb") as setup:
        setup.write(b"0123456789")
    handle = open("data.bin", "rb")  # noqa: SIM115 - detached below, as aiofiles' test does
    assert handle.peek(3)[:3] == b"012"
    assert handle.read1(2) == b"01"
    target = bytearray(3)
    assert handle.readinto1(target) == 3
    assert bytes(target) == b"234"
    assert handle.raw.readall() == b""  # the buffer read ahead: the raw is at the end
    raw = handle.detach()
    assert isinstance(raw, REAL_CLASSES["FileIO"])
    raw.seek(0)
    assert raw.readall() == b"0123456789"
    raw.close()
    text = open("data.bin", encoding="utf-8")  # noqa: SIM115
    assert text.read(3) == "012"
    buffer = text.detach()
    assert type(buffer) is REAL_CLASSES["BufferedReader"]
    assert not buffer.closed
    buffer.close()
    with pytest.raises(ValueError, match="detached"):
        text.read()
    os.remove("data.bin")  # every detached layer closed its handle


def test_a_write_reaches_a_second_handle_when_it_is_flushed(sim: WindowsFilesystem) -> None:
    with open("shared.bin", "wb") as writer, open("shared.bin", "rb") as reader:
        writer.write(b"first")
        assert reader.read() == b""  # still in the writer's buffer, as on the real disk
        writer.flush()
        assert reader.read() == b"first"
        assert os.path.getsize("shared.bin") == 5


def test_fileno_is_the_simulations_descriptor(sim: WindowsFilesystem) -> None:
    with open("data.bin", "wb") as handle:
        descriptor = handle.fileno()
        assert sim.fs.get_open_file(descriptor) is not None
        os.write(descriptor, b"through the descriptor")
    assert os.fstat(os.open("data.bin", os.O_RDONLY)).st_size == len(b"through the descriptor")
    with os.fdopen(os.open("data.bin", os.O_RDONLY), "rb") as opened:
        assert type(opened) is REAL_CLASSES["BufferedReader"]
        assert opened.name == opened.fileno()  # open(fd) names the object by the number
        assert opened.read() == b"through the descriptor"


def test_an_open_handle_refuses_a_delete_and_a_dropped_one_does_not(
    sim: WindowsFilesystem,
) -> None:
    handle = open("held.txt", "w", encoding="utf-8")  # noqa: SIM115
    handle.write("x")
    with pytest.raises(PermissionError) as caught:
        os.remove("held.txt")
    assert caught.value.winerror == 32  # type: ignore[attr-defined]
    del handle  # CPython's finalizer closes it (and flushes), as on the real machine
    with open("held.txt", encoding="utf-8") as again:
        assert again.read() == "x"
    os.remove("held.txt")


def test_a_read_only_file_refuses_a_writer(sim: WindowsFilesystem) -> None:
    with open("ro.txt", "w", encoding="utf-8") as setup:
        setup.write("kept")
    os.chmod("ro.txt", 0o444)
    with pytest.raises(PermissionError):
        open("ro.txt", "ab")  # noqa: SIM115
    with open("ro.txt", "rb") as reader:
        assert reader.read() == b"kept"


def test_bad_arguments_are_refused_as_open_refuses_them(sim: WindowsFilesystem) -> None:
    with pytest.raises(ValueError, match="invalid mode: 'rr'"):
        open("f", "rr")  # noqa: SIM115
    with pytest.raises(ValueError, match="must have exactly one of create/read/write/append"):
        open("f", "rw")  # noqa: SIM115
    with pytest.raises(ValueError, match="binary mode doesn't take an encoding argument"):
        open("f", "wb", encoding="utf-8")  # noqa: SIM115
    with pytest.raises(ValueError, match="can't have text and binary mode at once"):
        open("f", "wbt")  # noqa: SIM115
    assert not os.path.exists("f")
    # As CPython: the file is opened (made) first, then refused, and its handle closed.
    with pytest.raises(ValueError, match="can't have unbuffered text I/O"):
        open("f", "w", buffering=0)  # noqa: SIM115
    with pytest.raises(LookupError):
        open("f", "w", encoding="no-such-codec")  # noqa: SIM115
    os.remove("f")  # no handle was left open


def test_fileio_w_plus_creates_and_truncates(sim: WindowsFilesystem) -> None:
    # Regression: the io.FileIO stand-in opened "w+" as "rb+" (no create, no truncate).
    with io.FileIO("made.bin", "w+") as raw:
        assert raw.mode == "rb+"
        raw.write(b"longer content")
    with io.FileIO("made.bin", "w+") as raw:
        raw.write(b"short")
        raw.seek(0)
        assert raw.readall() == b"short"


def test_what_a_test_leaves_buffered_is_written_out_when_the_simulation_ends() -> None:
    with simulate() as simulation:
        leftover = open("left.bin", "wb")  # noqa: SIM115 - left open on purpose
        leftover.write(b"still buffered")
        fake = simulation.fs.get_object("left.bin")
    assert fake.byte_contents == b"still buffered"
    assert leftover.closed
    leftover.close()  # a late close (an atexit handler) does nothing
    del leftover
    gc.collect()


# -- the race model sees opens and closes through the new objects -------------------------


@pytest.mark.ocirace(expect_races=True)
def test_a_race_through_the_new_objects_is_still_reported(model: RaceModel) -> None:
    # One thread writes the target through a buffered file object; an unordered thread
    # replaces it. On Windows the replace fails in some schedule: the model reports it.
    os.makedirs("C:\\races", exist_ok=True)
    target, temp = "C:\\races\\index.json", "C:\\races\\index.json.tmp"
    step = [0]
    errors: list[BaseException] = []
    deadline = time.monotonic() + 30

    def wait_for(n: int) -> None:
        while step[0] != n:  # a plain variable and sleep: no edge the model sees
            if errors or time.monotonic() > deadline:
                raise TimeoutError(f"step {n} never came (now {step[0]})")
            time.sleep(0.001)

    def recording(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # the other thread must stop waiting
                errors.append(exc)

        return run

    def writer() -> None:
        with open(target, "wb") as handle:
            assert type(handle) is REAL_CLASSES["BufferedWriter"]
            handle.write(b"{}")
        step[0] = 1

    def publisher() -> None:
        wait_for(1)
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write("{}")
        with contextlib.suppress(PermissionError):  # the loser fails as on Windows
            os.replace(temp, target)
        step[0] = 2

    threads = [threading.Thread(target=recording(body)) for body in (writer, publisher)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert any(race.key.endswith("index.json") for race in model.races)


def test_a_delete_on_close_temporary_file_says_so(sim: WindowsFilesystem) -> None:
    # aiofiles' test_named_temporary_file: before 3.12 the wrapper's ``delete`` is what was
    # asked (the simulation makes the file O_TEMPORARY instead of unlinking it at close).
    with tempfile.NamedTemporaryFile("wb+") as named:
        name = named.name
        assert getattr(named, "delete", True) is True
    assert not os.path.exists(name)


def test_an_append_mode_object_reads_from_where_it_was_moved(sim: WindowsFilesystem) -> None:
    # The buffered classes move the raw stream relative to where it is before a read;
    # pyfakefs moved an append-mode object relative to its end (aiofiles: 9 tests).
    with open("lines.txt", "wb") as setup:
        setup.write(b"line 1\nline 2\n")
    with open("lines.txt", "ab+") as binary:
        binary.seek(0)
        assert binary.readlines() == [b"line 1\n", b"line 2\n"]
        binary.write(b"line 3\n")
        binary.seek(7)
        assert binary.read() == b"line 2\nline 3\n"
    with open("lines.txt", "a+", encoding="utf-8") as text:
        text.seek(0)
        assert text.read() == "line 1\nline 2\nline 3\n"
