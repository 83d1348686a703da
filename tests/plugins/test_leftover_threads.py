"""A thread a simulated test leaves running must not keep the session alive at exit."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_threads_a_test_left_running_never_touch_a_later_test(pytester: pytest.Pytester) -> None:
    # filelock 3.16.1 under the simulation: test_threaded_shared_lock_obj timed out and its
    # 100 polling threads went on. Once the simulation was gone they ran on the real `os`:
    # a late close of a fake descriptor number closed pytest's own capture file (every
    # later test errored with `[Errno 9] Bad file descriptor`), files named `C:\\tmp\\...`
    # appeared in the real working directory, and in the next simulated test their
    # operations failed there (`FileNotFoundError` escaped a thread: that test errored).
    pytester.makepyfile(
        """
import os
import threading
import time

UNTIL = time.monotonic() + 30

def churn(path):
    while time.monotonic() < UNTIL:
        fd = os.open(path, os.O_CREAT | os.O_RDWR)
        time.sleep(0.001)
        os.close(fd)

def test_times_out_with_threads_running(tmp_path):
    for i in range(8):
        threading.Thread(target=churn, args=(str(tmp_path / f"f{i}"),)).start()
    time.sleep(0.2)
    assert False, "timed out"

def test_passes_with_threads_running(tmp_path):
    # pyfakefs pauses to log the report of a passed call too.
    for i in range(8):
        threading.Thread(target=churn, args=(str(tmp_path / f"g{i}"),)).start()
    time.sleep(0.2)

def test_real_descriptors_after():
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        r, w = os.pipe()
        os.write(w, b"x")
        assert os.read(r, 1) == b"x"
        os.close(r)
        os.close(w)
        print("captured by pytest's fd capture")

def test_nothing_reached_the_real_tree():
    assert threading.active_count() == 1
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines(
        [
            "*ocirace threads*",
            "16 thread(s) outlived their simulated test and were stopped when its simulation "
            "ended (SimulationEnded), in: test_*.py::test_times_out_with_threads_running, "
            "test_*.py::test_passes_with_threads_running",
        ]
    )
    assert "Bad file descriptor" not in result.stdout.str()
    assert not [p.name for p in pytester.path.iterdir() if p.name.startswith("C:")]


def test_threads_blocked_in_c_are_left_and_released_at_exit(pytester: pytest.Pytester) -> None:
    # As zict and filelock under the simulation: a thread dies of a Windows error and its
    # partner waits forever. A thread blocked in C cannot take the exception that stops
    # the others; the interpreter joins non-daemon threads at exit, so the run printed its
    # summary and hung.
    pytester.makepyfile(
        """
import os
import threading
import time

import pytest

def poll():
    while not os.path.exists("never-written"):
        time.sleep(0.05)

def test_partner_died():
    threading.Thread(target=poll, name="poller").start()
    held = threading.Lock()
    held.acquire()
    threading.Thread(target=held.acquire, name="blocked").start()
    with pytest.raises(OSError):
        os.replace("missing", "target")
    assert False, "the partner died"

@pytest.mark.ocirace(enabled=False)
def test_not_simulated():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*ocirace threads*",
            "1 thread(s) outlived their simulated test and were stopped when its simulation "
            "ended (SimulationEnded), in: test_*.py::test_partner_died",
            "1 thread(s) started by simulated tests were still running at the end of the "
            "session; pytest-ocirace does not wait for them at exit:",
            "  'blocked' started by test_*.py::test_partner_died*",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_session_ends_although_a_pool_worker_waits(pytester: pytest.Pytester) -> None:
    # zict's test_stress_same_key_threadsafe: a ThreadPoolExecutor worker was left behind
    # by a test that timed out. concurrent.futures joins its workers in its own exit hook,
    # before the interpreter's join: the session hung after its summary. (A spinning
    # worker is stopped with its test now; one blocked in C is not.)
    pytester.makepyfile(
        """
import threading
from concurrent.futures import ThreadPoolExecutor

NEVER = threading.Event()

def test_worker_left_waiting():
    ThreadPoolExecutor(1).submit(NEVER.wait)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*'ThreadPoolExecutor-*' started by test_*::test_worker_left_waiting*"]
    )
    assert result.ret == pytest.ExitCode.OK


def test_threads_that_finish_are_not_mentioned(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import threading

def test_joined():
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=1)
    assert "ocirace threads" not in result.stdout.str()


def test_release_takes_running_threads_out_of_the_exit_join() -> None:
    import threading

    from pytest_ocirace.plugins.leftover_threads import LeftoverThreads

    leftovers = LeftoverThreads()
    before = leftovers.snapshot()
    go = threading.Event()
    worker = threading.Thread(target=go.wait, name="waiter")
    worker.start()
    try:
        leftovers.record(before, "test_x.py::test_y")
        assert leftovers.summary_lines()[1].startswith("  'waiter' started by test_x.py::test_y")
        leftovers.release()
        locks = getattr(threading, "_shutdown_locks", None)
        if locks is not None:  # CPython 3.10-3.12; 3.13+ is covered by the subprocess test
            assert worker.daemon
            assert getattr(worker, "_tstate_lock", None) not in locks
        assert leftovers.summary_lines() == []
    finally:
        go.set()
        worker.join()


def test_stop_ends_threads_running_python_and_leaves_waiting_ones_unharmed() -> None:
    import threading
    import time

    from pytest_ocirace.plugins.leftover_threads import LeftoverThreads, SimulationEnded

    leftovers = LeftoverThreads()
    before = leftovers.snapshot()
    done = threading.Event()
    go = threading.Event()
    woke: list[str] = []

    def poll() -> None:
        while not done.is_set():
            time.sleep(0.01)

    def swallow() -> None:  # a retry loop that catches everything but BaseException
        while not done.is_set():
            try:
                time.sleep(0.01)
            except Exception:
                continue

    def wait() -> None:
        go.wait()
        woke.append("woke")  # the withdrawn exception must not fire here

    threads = [
        threading.Thread(target=poll, name="poll"),
        threading.Thread(target=swallow, name="swallow"),
        threading.Thread(target=wait, name="wait"),
    ]
    for thread in threads:
        thread.start()
    try:
        stopped = leftovers.stop(before, "test_x.py::test_y")
        assert sorted(left.thread.name for left in stopped) == ["poll", "swallow"]
        assert threads[2].is_alive()
        assert issubclass(SimulationEnded, BaseException)
        assert not issubclass(SimulationEnded, Exception)
        assert leftovers.summary_lines() == [
            "2 thread(s) outlived their simulated test and were stopped when its simulation "
            "ended (SimulationEnded), in: test_x.py::test_y"
        ]
    finally:
        done.set()
        go.set()
        for thread in threads:
            thread.join(10)
    assert woke == ["woke"]


def test_a_failed_tests_parked_thread_dies_quietly_when_it_wakes_later(
    pytester: pytest.Pytester,
) -> None:
    # portalocker's fork test (stopped by ProcessStartError) left a thread parked in
    # gate.wait(timeout=10) inside a lock; woken during a later test, it died there and
    # pytest's "unhandled exception in thread" warning (an error under -W error) failed
    # that test.
    pytester.makepyfile(
        """
import threading
import time

GATE = threading.Event()
AFTER_WAKE = []

def parked():
    GATE.wait(timeout=1.5)
    AFTER_WAKE.append("ran on")

def test_fails_with_a_parked_thread():
    threading.Thread(target=parked, name="parked", daemon=True).start()
    assert False, "stopped by a limit"

def test_later_while_it_wakes():
    time.sleep(3)
    assert AFTER_WAKE == []
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--ocirace", "-W", "error", timeout=120
    )
    result.assert_outcomes(failed=1, passed=1)
    assert "Unhandled" not in result.stdout.str()
    assert "not charged to it" not in result.stdout.str()


def test_a_failed_tests_idle_pool_workers_still_shut_down() -> None:
    # persist-queue 1.1.0: an asyncio test failed with the loop's default executor idle;
    # each worker kept a pending SimulationEnded, the first one woken by the shutdown's
    # None died before passing it on, and shutdown(wait=True) hung the session.
    import concurrent.futures
    import threading

    from pytest_ocirace.plugins.leftover_threads import LeftoverThreads

    leftovers = LeftoverThreads()
    before = leftovers.snapshot()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=3)
    gate = threading.Barrier(4, timeout=10)
    futures = [pool.submit(gate.wait) for _ in range(3)]
    gate.wait()  # three workers exist, and each goes back to wait for work
    concurrent.futures.wait(futures, timeout=10)
    try:
        leftovers.stop(before, "test_x.py::test_failed", failed=True)
    finally:
        done = threading.Event()
        closer = threading.Thread(
            target=lambda: (pool.shutdown(wait=True), done.set()), daemon=True
        )
        closer.start()
        closer.join(10)
    assert done.is_set(), "the pool's shutdown hung: a worker died with its wake-up None"
    assert not [t for t in threading.enumerate() if t not in before and t is not closer]


def test_a_worker_an_interrupted_join_marked_stopped_is_stopped_all_the_same(
    pytester: pytest.Pytester,
) -> None:
    # zict 3.0.0's test_stress_same_key_threadsafe: pytest-timeout's signal arrived while
    # the test's `with ThreadPoolExecutor()` waited in shutdown() for a spinning reader.
    # Before CPython 3.13 an interrupted join() marks the thread stopped although it runs
    # on (gh-90882): is_alive() said False, the reader was never stopped, and it slowed
    # every later test of the session (one timed out).
    pytester.makepyfile(
        """
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

SPINS = []

def spin():
    while True:
        SPINS.append(1)
        time.sleep(0.001)

def _timed_out(signum, frame):
    pytest.fail("Timeout")  # what pytest-timeout's signal method does

def test_times_out_while_the_pool_shuts_down():
    signal.signal(signal.SIGALRM, _timed_out)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(spin)

def test_later():
    before = len(SPINS)
    time.sleep(0.3)
    assert len(SPINS) == before, "the spinning worker still runs"
    assert threading.active_count() == 1
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*1 thread(s) outlived their simulated test and were stopped*"])


def test_idle_pool_workers_are_left_at_once_without_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An asyncio test's default executor (aiofiles, persist-queue): its workers wait for
    # their next item when the test ends. They were sent SimulationEnded, waited for
    # STOP_SETTLE seconds and had it withdrawn, after every test: aiofiles' suite took 47 s
    # under the simulation against 5 s plain. Nothing of the test is left to feed them.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from pytest_ocirace.plugins import leftover_threads
    from pytest_ocirace.plugins.leftover_threads import LeftoverThreads

    raised: list[object] = []
    real_raise_in = leftover_threads._raise_in

    def recording(threads: object, exc: type[BaseException] | None) -> None:
        if exc is not None:
            raised.append(exc)
        real_raise_in(threads, exc)  # type: ignore[arg-type]

    monkeypatch.setattr(leftover_threads, "_raise_in", recording)
    leftovers = LeftoverThreads()
    before = leftovers.snapshot()
    pool = ThreadPoolExecutor(2)
    try:
        list(pool.map(lambda n: n, range(4)))
        workers = [t for t in threading.enumerate() if t not in before]
        assert workers
        deadline = 100
        while not all(leftover_threads._idle_pool_worker(t) for t in workers) and deadline:
            threading.Event().wait(0.01)
            deadline -= 1
        assert leftovers.stop(before, "test_x.py::test_async") == []
        assert raised == []
        assert pool.submit(lambda: "still works").result(10) == "still works"
    finally:
        pool.shutdown(wait=True)
