"""Real descriptors pass through the simulation; fake ones never collide with them."""

from __future__ import annotations

import multiprocessing.pool
import os
import queue
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_ocirace.fakefs import descriptors
from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from tests.fakefs.blocking_threads import PATIENCE, in_thread


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def test_a_pipe_works_with_read_write_close(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    assert os.write(write_end, b"through") == 7
    os.close(write_end)
    assert os.read(read_end, 100) == b"through"
    assert os.read(read_end, 100) == b""
    os.close(read_end)
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.close(read_end)


def test_a_pipe_works_with_fdopen_and_open(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(b"line\n")
    with open(read_end, "rb") as reader:
        assert reader.read() == b"line\n"


def test_pipe_descriptors_are_real_for_a_thread_on_the_other_end(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(os.read(read_end, 10)))
    reader.start()
    os.write(write_end, b"ping")
    reader.join()
    assert received == [b"ping"]
    assert os.fstat(read_end).st_size >= 0
    os.close(read_end)
    os.close(write_end)


def test_a_socket_descriptor_passes_through(sim: WindowsFilesystem) -> None:
    left, right = socket.socketpair()
    with left, right:
        os.write(left.fileno(), b"z")
        assert os.read(right.fileno(), 1) == b"z"


def test_dup_and_dup2_onto_the_standard_streams(sim: WindowsFilesystem) -> None:
    # What pytest's FDCapture does when it suspends and resumes capturing.
    saved = os.dup(2)
    try:
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.write(2, b"to the pipe")
        os.close(write_end)
        os.dup2(saved, 2)
        assert os.read(read_end, 100) == b"to the pipe"
        os.close(read_end)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def test_fstat_and_lseek_of_real_descriptors(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    try:
        assert os.fstat(write_end).st_mode
        assert os.stat(read_end).st_mode == os.fstat(read_end).st_mode
        with pytest.raises(OSError, match="Illegal seek"):  # the real ESPIPE
            os.lseek(read_end, 0, os.SEEK_SET)
        assert os.isatty(read_end) is False
    finally:
        os.close(read_end)
        os.close(write_end)


def test_lseek_of_a_fake_descriptor_returns_the_new_offset(sim: WindowsFilesystem) -> None:
    # pyfakefs' own os.lseek returns None; code asks a position with lseek(fd, 0, SEEK_CUR).
    fd = os.open("seek.bin", os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"0123456789")
        assert os.lseek(fd, 0, os.SEEK_CUR) == 10
        assert os.lseek(fd, 3, os.SEEK_SET) == 3
        assert os.lseek(fd, 2, os.SEEK_CUR) == 5
        assert os.lseek(fd, -1, os.SEEK_END) == 9
        assert os.read(fd, 5) == b"9"
    finally:
        os.close(fd)


def test_fake_descriptors_never_take_a_real_number(sim: WindowsFilesystem) -> None:
    fake = os.open("file", os.O_CREAT | os.O_WRONLY)
    read_end, write_end = os.pipe()
    try:
        assert fake not in (read_end, write_end)
        os.write(fake, b"fake")
        os.write(write_end, b"real")
        assert os.read(read_end, 4) == b"real"
    finally:
        os.close(fake)
        os.close(read_end)
        os.close(write_end)
    with open("file", "rb") as handle:
        assert handle.read() == b"fake"
        assert handle.fileno() not in (0, 1, 2)


def test_fake_descriptor_numbers_are_given_back() -> None:
    with simulate() as simulation:
        first = os.open("a", os.O_CREAT | os.O_WRONLY)
        os.close(first)
        assert len(simulation.descriptors) == 0
        leaked = os.open("b", os.O_CREAT | os.O_WRONLY)
        assert len(simulation.descriptors) == 1
    assert len(simulation.descriptors) == 0
    # A number left open stays reserved (the null device): code that kept it and closes it
    # late (filelock's __del__) closes the placeholder, never a real descriptor made since.
    read_end, write_end = os.pipe()
    try:
        assert leaked not in (read_end, write_end)
        os.close(leaked)
        os.write(write_end, b"x")
        assert os.read(read_end, 1) == b"x"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_leftover_numbers_are_bounded_and_only_their_placeholders_are_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(descriptors, "LEFTOVER_LIMIT", 1)
    monkeypatch.setattr(descriptors, "_LEFTOVERS", [])
    with simulate():
        first = os.open("one", os.O_CREAT | os.O_WRONLY)
    os.close(first)  # a late close; the kernel may hand the number to this pipe
    read_end, write_end = os.pipe()
    try:
        with simulate():
            os.open("two", os.O_CREAT | os.O_WRONLY)
        # The limit closed the oldest leftover only if it was still its placeholder.
        os.write(write_end, b"y")
        assert os.read(read_end, 1) == b"y"
        assert len(descriptors._LEFTOVERS) == 1
    finally:
        os.close(read_end)
        os.close(write_end)


def test_fake_file_writes_stay_in_the_simulation(sim: WindowsFilesystem) -> None:
    number = os.open("kept", os.O_CREAT | os.O_WRONLY)
    os.write(number, b"xy")
    assert os.fstat(number).st_size == 2
    os.close(number)
    with open("kept", "rb") as handle:
        assert handle.read() == b"xy"


def test_pipe_descriptors_are_the_real_ones(sim: WindowsFilesystem) -> None:
    # A child process, select() and C code see only real descriptors.
    read_end, write_end = os.pipe()
    os.write(write_end, b"!")
    readable, _, _ = select.select([read_end], [], [], 1.0)
    assert readable == [read_end]
    os.close(write_end)
    os.close(read_end)


def test_a_pipe_made_inside_outlives_the_simulation() -> None:
    with simulate():
        read_end, write_end = os.pipe()
        os.write(write_end, b"kept")
    assert os.read(read_end, 4) == b"kept"
    os.close(read_end)
    os.close(write_end)


def test_fchmod_of_a_fake_file_sets_the_read_only_attribute(sim: WindowsFilesystem) -> None:
    # Windows' CPython has os.fchmod since 3.13; POSIX code (filelock's UnixFileLock)
    # calls it on its lock file, so the simulation has it whatever the host's version.
    number = os.open("attr", os.O_CREAT | os.O_RDWR)
    os.fchmod(number, 0o444)
    os.close(number)
    with pytest.raises(PermissionError):
        open("attr", "w")  # noqa: SIM115 - raises
    number = os.open("attr", os.O_RDONLY)
    os.fchmod(number, 0o666)
    os.close(number)
    with open("attr", "w") as handle:
        handle.write("writable again")


# -- nothing blocking runs under the simulation's global lock ---------------------------------
#
# Each test blocks one thread in a call that waits for something real (a pipe, a socket, a
# queue, a sleep in user code) and meanwhile asks another thread for fake-file work. Had
# the blocked call held the global lock, that work would wait forever: it must finish in
# ``PATIENCE`` seconds instead, so a regression fails here rather than hanging the suite.


def _fake_file_work(name: str) -> None:
    with open(f"{name}.tmp", "w") as handle:
        handle.write(name)
    os.replace(f"{name}.tmp", name)
    assert os.path.exists(name)


def _finishes(target: Callable[[], object]) -> list[object]:
    """Run ``target`` in a daemon thread; fail if it has not finished in ``PATIENCE``."""
    thread, outcome = in_thread(target, daemon=True)
    thread.join(PATIENCE)
    assert not thread.is_alive(), "blocked: the global lock is held across a blocking call"
    assert not any(isinstance(item, BaseException) for item in outcome), outcome
    return outcome


def _blocked_while_fake_work(block: Callable[[], object], unblock: Callable[[], None]) -> object:
    """``block()`` waits in a thread; fake-file work must go on; then ``unblock()``."""
    outcome: list[object] = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        outcome.append(block())

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    started.wait(PATIENCE)
    time.sleep(0.05)  # let it block
    try:
        _finishes(lambda: _fake_file_work("meanwhile"))
    finally:
        unblock()
    thread.join(PATIENCE)
    assert not thread.is_alive()
    return outcome[0]


def test_a_reader_blocked_on_a_pipe_does_not_stop_fake_file_work(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    try:
        got = _blocked_while_fake_work(
            lambda: os.read(read_end, 5), lambda: os.write(write_end, b"wake!") and None
        )
        assert got == b"wake!"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_file_object_reading_a_pipe_does_not_stop_fake_file_work(
    sim: WindowsFilesystem,
) -> None:
    read_end, write_end = os.pipe()
    with open(read_end, "rb", buffering=0) as reader, open(write_end, "wb", buffering=0) as w:
        got = _blocked_while_fake_work(lambda: reader.read(3), lambda: w.write(b"abc") and None)
    assert got == b"abc"


def test_select_and_selectors_on_a_pipe_do_not_stop_fake_file_work(
    sim: WindowsFilesystem,
) -> None:
    read_end, write_end = os.pipe()
    try:
        ready = _blocked_while_fake_work(
            lambda: select.select([read_end], [], [], PATIENCE)[0],
            lambda: os.write(write_end, b"1") and None,
        )
        assert ready == [read_end]
        os.read(read_end, 1)
        with selectors.DefaultSelector() as selector:
            selector.register(read_end, selectors.EVENT_READ)
            events = _blocked_while_fake_work(
                lambda: selector.select(PATIENCE), lambda: os.write(write_end, b"2") and None
            )
        assert [key.fd for key, _mask in events] == [read_end]  # type: ignore[attr-defined]
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_socketpair_recv_does_not_stop_fake_file_work(sim: WindowsFilesystem) -> None:
    left, right = socket.socketpair()
    with left, right:
        got = _blocked_while_fake_work(lambda: right.recv(4), lambda: left.sendall(b"ping"))
    assert got == b"ping"


def test_a_queue_get_with_timeout_does_not_stop_fake_file_work(sim: WindowsFilesystem) -> None:
    channel: queue.Queue[str] = queue.Queue()
    got = _blocked_while_fake_work(
        lambda: channel.get(timeout=PATIENCE), lambda: channel.put("item")
    )
    assert got == "item"


def test_a_thread_pool_doing_fake_file_work_finishes(sim: WindowsFilesystem) -> None:
    def task(index: int) -> str:
        _fake_file_work(f"pool{index}")
        return str(index)

    def run_pool() -> list[str]:
        with multiprocessing.pool.ThreadPool(3) as pool:
            return pool.map_async(task, range(6)).get(PATIENCE)

    assert _finishes(run_pool) == [["0", "1", "2", "3", "4", "5"]]


def test_an_opener_that_sleeps_does_not_stop_fake_file_work(sim: WindowsFilesystem) -> None:
    # open(..., opener=f) calls user code from inside the fake open().
    release = threading.Event()

    def slow_opener(path: str, flags: int) -> int:
        release.wait(3 * PATIENCE)  # outlasts the fake-file work's patience
        return os.open(path, flags)

    def open_slowly() -> str:
        with open("slow.txt", "w", opener=slow_opener) as handle:
            handle.write("slow")
        return "opened"

    assert _blocked_while_fake_work(open_slowly, release.set) == "opened"
    with open("slow.txt") as handle:
        assert handle.read() == "slow"


def test_a_real_flock_on_one_fake_number_does_not_lock_another() -> None:
    # Regression (portalocker 4.4.2's suite hung): code holding the real fcntl.flock
    # (FlockLocker binds it at import) locked the placeholder behind a fake descriptor. All
    # placeholders were the null device, one inode, so a fake file left open and locked by
    # one test made the next exclusive lock on any other fake number wait for ever.
    fcntl = pytest.importorskip("fcntl")
    real_flock = fcntl.flock  # bound before the simulation, as at import
    if not hasattr(os, "memfd_create"):
        pytest.skip("no anonymous memory files here: placeholders are the null device")
    with simulate():
        first = os.open("one.lock", os.O_CREAT | os.O_RDWR)
        second = os.open("two.lock", os.O_CREAT | os.O_RDWR)
        real_flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
        real_flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raised BlockingIOError before
        os.close(second)
    # ``first`` stays open and locked past the simulation, as a leaked lock file does.
    with simulate():
        third = os.open("three.lock", os.O_CREAT | os.O_RDWR)
        real_flock(third, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(third)
