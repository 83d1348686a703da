"""File locks on fake files exclude as on Windows, block without stopping the simulation,
and count as locksets for the race model. Real threads, the real ``fcntl`` and ``filelock``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import inspect
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from fcntl import flock as imported_flock
from typing import Any

import filelock
import portalocker
import pytest

from pytest_ocirace.fakefs import filelocks, storms
from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.fakefs.locking import LOCK
from pytest_ocirace.racemodel.model import RaceModel
from pytest_ocirace.racemodel.sync import install
from pytest_ocirace.winrules.options import SimulationOptions
from tests.fakefs.blocking_threads import PATIENCE, finish, in_thread
from tests.racemodel.gc_reentry import collecting_everywhere, finishes

#: How long a test waits for a thread that should finish: a regression fails, never hangs.


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


@pytest.fixture
def model(sim: WindowsFilesystem) -> Iterator[RaceModel]:
    instrumentation = install()
    race_model = RaceModel(instrumentation.tracker, inject=False)
    sim.observer = race_model
    try:
        yield race_model
    finally:
        sim.observer = None
        instrumentation.uninstall()


def _native_lock(path: str, **kwargs: Any) -> filelock.BaseFileLock:
    """filelock's fcntl lock (``UnixFileLock``), whichever filelock is installed.

    filelock 4 first probes the directory by unlinking a file it holds open, a POSIX-only
    trick Windows refuses (WinError 32); ``fallback_to_soft=False`` skips the probe.
    """
    if "fallback_to_soft" in inspect.signature(filelock.UnixFileLock.__init__).parameters:
        kwargs["fallback_to_soft"] = False
    return filelock.UnixFileLock(path, **kwargs)


# -- fcntl.flock --------------------------------------------------------------------------


def test_flock_excludes_a_second_handle_of_the_same_thread(sim: WindowsFilesystem) -> None:
    with open("a.lock", "w") as first, open("a.lock", "w") as second:
        fcntl.flock(first, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError) as caught:
            fcntl.flock(second.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert caught.value.errno == errno.EAGAIN
        fcntl.flock(first, fcntl.LOCK_UN)
        fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_flock_imported_before_the_simulation_locks_too(sim: WindowsFilesystem) -> None:
    # pyfakefs binds ``from fcntl import flock`` names when its patcher starts, before the
    # simulation is set up: they must reach the simulation's locks all the same.
    with open("i.lock", "w") as first, open("i.lock", "w") as second:
        imported_flock(first, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError):
            imported_flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_flock_shared_locks_coexist_and_keep_exclusive_out(sim: WindowsFilesystem) -> None:
    with open("s.lock", "w") as a, open("s.lock", "w") as b, open("s.lock", "w") as c:
        fcntl.flock(a, fcntl.LOCK_SH)
        fcntl.flock(b, fcntl.LOCK_SH | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(c, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # A holder converts its own lock (POSIX flock); the other shared one is in the way.
        with pytest.raises(BlockingIOError):
            fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(b, fcntl.LOCK_UN)
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_flock_on_different_files_do_not_interfere(sim: WindowsFilesystem) -> None:
    with open("one", "w") as a, open("two", "w") as b:
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_flock_refuses_an_operation_without_a_mode(sim: WindowsFilesystem) -> None:
    with open("m.lock", "w") as handle, pytest.raises(OSError, match="Invalid") as caught:
        fcntl.flock(handle, fcntl.LOCK_NB)
    assert caught.value.errno == errno.EINVAL


def test_a_blocked_flock_waits_without_stopping_other_file_work(sim: WindowsFilesystem) -> None:
    holder = open("b.lock", "w")  # noqa: SIM115 - closed below, which releases the lock
    fcntl.flock(holder, fcntl.LOCK_EX)
    waiter = open("b.lock", "w")  # noqa: SIM115

    def wait_for_lock() -> float:
        fcntl.flock(waiter, fcntl.LOCK_EX)
        return time.monotonic()

    thread, outcome = in_thread(wait_for_lock)
    time.sleep(0.2)
    assert outcome == []  # still waiting
    # The simulation's global lock is free: this thread's file operations go on.
    with open("other.txt", "w") as other:
        other.write("meanwhile")
    assert os.listdir(".") != []
    released = time.monotonic()
    holder.close()  # closing the handle releases its lock
    finish(thread)
    assert outcome[0] >= released
    waiter.close()


def test_a_dup_shares_the_lock_until_the_last_descriptor_closes(sim: WindowsFilesystem) -> None:
    fd = os.open("d.lock", os.O_RDWR | os.O_CREAT)
    copy = os.dup(fd)
    fcntl.flock(fd, fcntl.LOCK_EX)
    other = os.open("d.lock", os.O_RDWR)
    os.close(copy)
    with pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(other)


def test_fcntl_on_a_real_pipe_reaches_the_os(sim: WindowsFilesystem) -> None:
    read_end, write_end = os.pipe()
    try:
        flags = fcntl.fcntl(read_end, fcntl.F_GETFL)
        fcntl.fcntl(read_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        with pytest.raises(BlockingIOError):
            os.read(read_end, 1)  # would hang if F_SETFL had been a no-op
        fcntl.flock(read_end, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the real flock accepts a pipe
    finally:
        os.close(read_end)
        os.close(write_end)


# -- fcntl.lockf ----------------------------------------------------------------------------


def test_lockf_ranges_exclude_only_where_they_overlap(sim: WindowsFilesystem) -> None:
    with open("r.lock", "w") as a, open("r.lock", "w") as b:
        fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 10)
        with pytest.raises(BlockingIOError) as caught:
            fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 9)
        assert caught.value.errno == errno.EAGAIN
        fcntl.lockf(a, fcntl.LOCK_UN, 5, 5)  # a keeps [0, 5)
        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 5)
        with pytest.raises(BlockingIOError):
            fcntl.lockf(b, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 4)
        # len 0: from start to any end of the file
        with pytest.raises(BlockingIOError):
            fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 15)
        fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 20)


def test_lockf_excludes_two_handles_of_one_process_as_windows_does(
    sim: WindowsFilesystem,
) -> None:
    # POSIX lockf locks belong to the process: the second lock would succeed there.
    with open("p.lock", "w") as a, open("p.lock", "w") as b:
        fcntl.lockf(a, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError):
            fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_lockf_whence_counts_from_the_position_and_the_end(sim: WindowsFilesystem) -> None:
    with open("w.lock", "w+") as a, open("w.lock", "w+") as b:
        a.write("0123456789")
        a.flush()
        fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, -1, os.SEEK_END)  # byte 9
        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 9, 0)
        b.seek(9)
        with pytest.raises(BlockingIOError):
            fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0, os.SEEK_CUR)


# -- msvcrt.locking --------------------------------------------------------------------------


@pytest.fixture
def msvcrt() -> Iterator[Any]:
    if "msvcrt" in sys.modules:  # pragma: no cover - a Windows host has the real one
        pytest.skip("the host's msvcrt is the real one")
    options = SimulationOptions(windows_platform_modules=(__name__,))
    with simulate(options):
        import msvcrt as module

        yield module
    assert "msvcrt" not in sys.modules


def test_msvcrt_exists_only_when_windows_branches_are_asked_for(sim: WindowsFilesystem) -> None:
    if "msvcrt" in sys.modules:  # pragma: no cover - Windows host
        pytest.skip("the host's msvcrt is the real one")
    with pytest.raises(ImportError):
        import msvcrt  # noqa: F401


def test_msvcrt_locking_fails_at_once_with_errno_13(msvcrt: Any) -> None:
    a = os.open("m.lock", os.O_RDWR | os.O_CREAT)
    b = os.open("m.lock", os.O_RDWR)
    msvcrt.locking(a, msvcrt.LK_NBLCK, 1)
    with pytest.raises(PermissionError) as caught:
        msvcrt.locking(b, msvcrt.LK_NBLCK, 1)
    assert caught.value.errno == errno.EACCES
    assert str(caught.value) == "[Errno 13] Permission denied"
    # Windows locks do not stack, even on the locking handle itself.
    with pytest.raises(PermissionError):
        msvcrt.locking(a, msvcrt.LK_NBLCK, 1)
    # Unlocking needs the exact range that was locked.
    with pytest.raises(PermissionError):
        msvcrt.locking(a, msvcrt.LK_UNLCK, 2)
    msvcrt.locking(a, msvcrt.LK_UNLCK, 1)
    msvcrt.locking(b, msvcrt.LK_NBLCK, 1)
    os.close(a)
    os.close(b)


def test_msvcrt_lk_lock_waits_then_gives_up_with_edeadlock(
    msvcrt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filelocks, "MSVCRT_PATIENCE", 0.3)
    a = os.open("k.lock", os.O_RDWR | os.O_CREAT)
    b = os.open("k.lock", os.O_RDWR)
    msvcrt.locking(a, msvcrt.LK_LOCK, 1)
    started = time.monotonic()
    with pytest.raises(OSError, match="Resource deadlock avoided") as caught:
        msvcrt.locking(b, msvcrt.LK_LOCK, 1)
    assert caught.value.errno == 36
    assert time.monotonic() - started >= 0.3
    thread, outcome = in_thread(lambda: msvcrt.locking(b, msvcrt.LK_LOCK, 1))
    time.sleep(0.05)
    os.close(a)
    finish(thread)
    assert outcome == [None]
    os.close(b)


def test_msvcrt_locking_counts_from_each_handles_position(msvcrt: Any) -> None:
    a = os.open("p3.lock", os.O_RDWR | os.O_CREAT)
    b = os.open("p3.lock", os.O_RDWR)
    os.write(a, b"0123456789")
    os.lseek(a, 3, os.SEEK_SET)
    msvcrt.locking(a, msvcrt.LK_NBLCK, 1)  # byte 3
    assert os.lseek(a, 0, os.SEEK_CUR) == 3  # locking moves nothing
    os.lseek(b, 3, os.SEEK_SET)
    with pytest.raises(PermissionError):
        msvcrt.locking(b, msvcrt.LK_NBLCK, 1)
    os.lseek(b, 4, os.SEEK_SET)
    msvcrt.locking(b, msvcrt.LK_NBLCK, 1)  # byte 4 is free
    os.lseek(a, 0, os.SEEK_SET)
    with pytest.raises(PermissionError):  # the unlock must name the locked range
        msvcrt.locking(a, msvcrt.LK_UNLCK, 1)
    os.lseek(a, 3, os.SEEK_SET)
    msvcrt.locking(a, msvcrt.LK_UNLCK, 1)
    os.close(a)
    os.close(b)


def _positions_both_ways(handle: Any) -> tuple[int, int]:
    """``handle_position``'s answer, then pyfakefs' own ``tell()`` of the same handle."""
    with LOCK:
        quick = filelocks.handle_position(handle)
    try:
        slow = int(handle.tell())
    except (OSError, ValueError):
        slow = 0
    return quick, slow


def test_handle_position_answers_what_tell_answers(sim: WindowsFilesystem) -> None:
    fd = os.open("pos.bin", os.O_RDWR | os.O_CREAT)
    wrapper = sim.fs.get_open_file(fd)
    assert _positions_both_ways(wrapper) == (0, 0)
    os.write(fd, b"abcdef")
    assert _positions_both_ways(wrapper) == (6, 6)
    os.lseek(fd, 2, os.SEEK_SET)
    assert _positions_both_ways(wrapper) == (2, 2)
    with open("pos.bin", "r+b") as other:  # another handle writes past this one's offset
        other.seek(0, os.SEEK_END)
        other.write(b"ghij")
        other.flush()
        assert _positions_both_ways(wrapper) == (2, 2)
        assert _positions_both_ways(other) == (10, 10)
    os.close(fd)
    with open("pos.bin", "wb") as buffered:  # a write not flushed yet
        buffered.write(b"xyz")
        assert _positions_both_ways(buffered) == (3, 3)
    with open("pos.bin", "rb") as reading:  # a read moves the offset
        reading.read(2)
        assert _positions_both_ways(reading) == (2, 2)
    with open("pos.bin", "ab") as appending:  # append mode: tell()'s own answer
        appending.write(b"12")
        assert _positions_both_ways(appending) == (5, 5)
    with open("pos.bin", "r+") as text:  # text mode: tell()'s own answer
        text.read(2)
        quick, slow = _positions_both_ways(text)
        assert quick == slow
    closed = open("pos.bin", "rb")  # noqa: SIM115
    closed.close()
    assert filelocks.handle_position(closed) == 0


def test_handle_position_of_an_append_handle_answers_what_tell_answers(
    sim: WindowsFilesystem,
) -> None:
    # The raw append-mode handle under open(..., "a") (a lock file's), read without
    # pyfakefs' flush: its read position, through other handles' appends and seeks.
    with open("app.bin", "wb") as start:
        start.write(b"0123")
    fd = os.open("app.bin", os.O_RDWR | os.O_APPEND)
    wrapper = sim.fs.get_open_file(fd)
    assert _positions_both_ways(wrapper) == (4, 4)
    os.write(fd, b"45")
    assert _positions_both_ways(wrapper) == _positions_both_ways(wrapper)
    with open("app.bin", "ab") as other:  # another handle appends
        other.write(b"678")
        other.flush()
        raw = sim.fs.get_open_file(other.fileno())
        quick, slow = _positions_both_ways(raw)
        assert quick == slow
        assert _positions_both_ways(wrapper)[0] == _positions_both_ways(wrapper)[1]
    os.lseek(fd, 1, os.SEEK_SET)
    assert _positions_both_ways(wrapper) == (1, 1)
    os.lseek(fd, -2, os.SEEK_END)  # a relative seek pending: tell()'s own answer
    quick, slow = _positions_both_ways(wrapper)
    assert quick == slow == 7
    os.close(fd)
    with open("app.bin", "a") as text:
        raw = sim.fs.get_open_file(text.fileno())
        assert _positions_both_ways(raw) == (9, 9)
        text.write("x")
        text.flush()
        assert _positions_both_ways(raw) == (10, 10)


# -- filelock ---------------------------------------------------------------------------------


def test_filelock_times_out_while_another_lock_object_holds_the_file(
    sim: WindowsFilesystem,
) -> None:
    first, second = _native_lock("f.lock"), _native_lock("f.lock")
    with first:
        started = time.monotonic()
        with pytest.raises(filelock.Timeout):
            second.acquire(timeout=0.2)
        assert time.monotonic() - started >= 0.2
        thread, outcome = in_thread(lambda: second.acquire(timeout=0.1))
        finish(thread)
        assert isinstance(outcome[0], filelock.Timeout)
    with second.acquire(timeout=0):
        assert second.is_locked


def test_filelock_serialises_real_threads(sim: WindowsFilesystem) -> None:
    inside: list[int] = []
    overlaps: list[int] = []

    def worker(index: int) -> None:
        for _ in range(20):
            with _native_lock("t.lock"):
                inside.append(index)
                if len(inside) > 1:
                    overlaps.append(index)
                time.sleep(0)
                inside.remove(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        finish(thread)
    assert overlaps == []


# -- portalocker -------------------------------------------------------------------------------


def test_portalocker_excludes_and_times_out(sim: WindowsFilesystem) -> None:
    with open("q.lock", "w") as first, open("q.lock", "w") as second:
        portalocker.lock(first, portalocker.LOCK_EX)
        with pytest.raises(portalocker.exceptions.AlreadyLocked):
            portalocker.lock(second, portalocker.LOCK_EX | portalocker.LOCK_NB)
        portalocker.unlock(first)
        portalocker.lock(second, portalocker.LOCK_EX | portalocker.LOCK_NB)
    with portalocker.Lock("r.lock", timeout=1):
        thread, outcome = in_thread(
            lambda: portalocker.Lock("r.lock", timeout=0.2, fail_when_locked=False).acquire()
        )
        finish(thread)
        assert isinstance(outcome[0], portalocker.exceptions.LockException)


# -- the race model ---------------------------------------------------------------------------


def _append_under(lock: Callable[[], Any] | None, index: int) -> None:
    for round_ in range(3):
        if lock is None:
            with open("shared.txt", "a") as out:
                out.write(f"{index}.{round_}\n")
            continue
        with lock(), open("shared.txt", "a") as out:
            out.write(f"{index}.{round_}\n")


def _run_writers(lock: Callable[[], Any] | None) -> None:
    threads = [threading.Thread(target=_append_under, args=(lock, i)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        finish(thread)


def test_writers_serialised_by_filelock_are_not_races(model: RaceModel) -> None:
    _run_writers(lambda: _native_lock("shared.lock"))
    assert model.races == []
    assert model.total == 0


class _Flock:
    """A raw ``fcntl.flock`` critical section on its own handle, as hand-written code does."""

    def __init__(self, name: str = "raw.lock") -> None:
        self.name = name

    def __enter__(self) -> None:
        self.handle = open(self.name, "w")  # closed in __exit__
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def test_writers_serialised_by_raw_flock_are_not_races(model: RaceModel) -> None:
    _run_writers(_Flock)
    assert model.total == 0


def test_unserialised_writers_are_still_races(model: RaceModel) -> None:
    _run_writers(None)
    assert {race.rule for race in model.races} == {"shared-writers"}


def test_a_lock_on_another_file_does_not_protect(model: RaceModel) -> None:
    # Raw flock, not filelock: filelock's own internals may order threads in some runs.
    counter = iter(range(100))
    _run_writers(lambda: _Flock(f"private{next(counter)}.lock"))
    assert {race.rule for race in model.races} == {"shared-writers"}
    assert all(race.key.endswith("shared.txt") for race in model.races)


def test_shared_writer_reports_on_a_lock_file_are_withdrawn_when_it_is_locked(
    model: RaceModel,
) -> None:
    # Both threads open the lock file before either locks it: a shared-writers pair that
    # the lock itself serialises, withdrawn once the name is known as a lock file.
    barrier = threading.Barrier(2)

    def holder() -> None:
        with open("late.lock", "w") as handle:
            barrier.wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
            fcntl.flock(handle, fcntl.LOCK_UN)

    threads = [threading.Thread(target=holder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        finish(thread)
    assert model.total == 0
    assert model.groups == {}


def test_plain_pyfakefs_keeps_its_own_fcntl(fs: Any) -> None:
    # Without a simulation, pyfakefs' fake fcntl is what it was: a no-op.
    with open("/plain.lock", "w") as first, open("/plain.lock", "w") as second:
        fcntl.flock(first, fcntl.LOCK_EX)
        fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_existence_checks_of_a_lock_file_are_not_check_then_act(model: RaceModel) -> None:
    # Sleeps, not events: the check must stay unordered with the creation.
    seen: list[bool] = []

    def creator() -> None:
        with open("c.lock", "w") as handle:
            time.sleep(0.6)
            fcntl.flock(handle, fcntl.LOCK_EX)  # now a lock file: the check is withdrawn
            fcntl.flock(handle, fcntl.LOCK_UN)

    def checker() -> None:
        time.sleep(0.3)
        seen.append(os.path.exists("c.lock"))

    threads = [threading.Thread(target=creator), threading.Thread(target=checker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        finish(thread)
    assert seen == [False]  # judged check-then-act when it ran (answered "absent")...
    assert model.total == 0  # ...and withdrawn once the name turned out to be a lock file


def test_a_del_releasing_a_file_lock_while_the_table_is_busy_does_not_hang() -> None:
    # filelock's BaseFileLock.__del__ releases its lock whenever the collector runs it,
    # also during an allocation the lock table makes under its own mutex, on that thread.
    table = filelocks.LockTable()
    file = object()
    owners = [object() for _ in range(2_000)]
    for index, owner in enumerate(owners):
        assert table.acquire(
            owner, file, "C:\\a.lock", index, index + 1, exclusive=True, blocking=False
        )
    held = list(owners)

    def release_one() -> None:
        if held:
            table.release_owner(held.pop())

    def lock_more() -> None:
        with collecting_everywhere(release_one):
            for index in range(500):
                start = len(owners) + index
                assert table.acquire(
                    object(), file, "C:\\a.lock", start, start + 1, exclusive=True, blocking=False
                )

    assert finishes(lock_more), "the lock table deadlocked on a __del__ run under its mutex"
    assert sum(table.holds(owner) for owner in owners) == len(held)


def _failed_polls(table: filelocks.LockTable, file: object, threads: int) -> None:
    """``threads`` other threads, alive together, each fail one non-blocking attempt."""
    together = threading.Barrier(threads)

    def poll() -> bool:
        got = table.acquire(object(), file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)
        together.wait(PATIENCE)  # alive until all have polled: distinct threads
        return got

    started = [in_thread(poll) for _ in range(threads)]
    for thread, outcome in started:
        finish(thread)
        assert outcome == [False]


def test_a_non_blocking_attempt_fails_at_once_when_few_threads_poll() -> None:
    table = filelocks.LockTable()
    file, holder = object(), object()
    assert table.acquire(holder, file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)
    _failed_polls(table, file, storms.STORM_THREADS - 1)
    threading.Timer(0.3, table.release_owner, (holder,)).start()
    assert not table.acquire(object(), file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)


def test_a_non_blocking_attempt_in_a_polling_storm_waits_briefly_for_the_release(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # filelock's 100 threads x 100 acquisitions: each failed poll is a few fake file
    # operations under the global lock, and the pollers starved the holder's release
    # (the test ran past its 180 s timeout). In a storm an attempt waits for a release.
    # Five seconds of patience: the 0.1 s timer's release comes well within it however
    # loaded the machine (the default 0.2 s for four pollers failed once under load).
    monkeypatch.setattr(storms, "STORM_PATIENCE_EACH", 5.0 / storms.STORM_THREADS)
    table = filelocks.LockTable()
    file, holder = object(), object()
    assert table.acquire(holder, file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)
    _failed_polls(table, file, storms.STORM_THREADS)
    threading.Timer(0.1, table.release_owner, (holder,)).start()
    assert table.acquire(object(), file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)


def test_a_non_blocking_attempt_in_a_storm_still_fails_when_nobody_releases() -> None:
    table = filelocks.LockTable()
    file, holder = object(), object()
    assert table.acquire(holder, file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)
    _failed_polls(table, file, storms.STORM_THREADS)
    assert not table.acquire(object(), file, "C:\\a.lock", 0, 1, exclusive=True, blocking=False)
    assert table.holds(holder)


def test_a_storm_poller_waits_before_reopening_not_with_the_lock_file_open(
    sim: WindowsFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    # filelock's WindowsFileLock with 100 threads: pollers parked in the storm with the
    # lock file open refused every holder's delete of it ([WinError 32], where on Windows
    # a poller holds it open for an instant), made each release race with all of them,
    # and made every lock call sync all their handles. A poller that reopens the file for
    # each attempt now waits before the open, holding nothing.
    locking = filelocks.active_msvcrt_locking()
    assert locking is not None
    name = "app.lock"
    # A second of patience: the holder's release below comes well within it, however loaded.
    monkeypatch.setattr(storms, "STORM_PATIENCE_EACH", 1.0 / storms.STORM_THREADS)

    def open_and_lock() -> int | None:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        try:
            locking(fd, filelocks.LK_NBLCK, 1)
        except PermissionError:
            os.close(fd)
            return None
        return fd

    holder = open_and_lock()
    assert holder is not None
    pollers = storms.STORM_THREADS + 1
    polled, reopening = threading.Barrier(pollers + 1), threading.Event()

    def poll(again: bool) -> int | None:
        assert open_and_lock() is None  # held: a failed attempt (the last ones stormed)
        polled.wait(PATIENCE)
        if not again:
            return None
        reopening.set()
        return open_and_lock()  # waits for the holder's release, then gets the lock

    started = [in_thread(lambda again=n == 0: poll(again)) for n in range(pollers)]
    polled.wait(PATIENCE)
    assert reopening.wait(PATIENCE)
    time.sleep(0.05)  # the poller is at its open now: parked before it, holding nothing
    assert len(sim.handles) == 1  # the holder's handle alone
    locking(holder, filelocks.LK_UNLCK, 1)
    os.close(holder)
    with contextlib.suppress(PermissionError):  # the woken poller may have it open already
        os.remove(name)
    for thread, _outcome in started:
        finish(thread)
    reopened = started[0][1]
    assert isinstance(reopened[0], int), reopened
    os.close(reopened[0])
