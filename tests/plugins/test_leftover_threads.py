"""A thread a simulated test leaves running must not keep the session alive at exit."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_session_ends_although_a_test_left_threads_running(pytester: pytest.Pytester) -> None:
    # As zict and filelock under the simulation: a thread dies of a Windows error and its
    # partner waits forever. The interpreter joins non-daemon threads at exit, so the run
    # printed its summary and hung.
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
            "2 thread(s) started by simulated tests were still running at the end of the "
            "session; pytest-ocirace does not wait for them at exit:",
            "  'poller' started by test_*.py::test_partner_died, at test_*.py:* in poll",
            "  'blocked' started by test_*.py::test_partner_died*",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_session_ends_although_a_pool_worker_spins(pytester: pytest.Pytester) -> None:
    # zict's test_stress_same_key_threadsafe: a ThreadPoolExecutor worker spins after the
    # test timed out. concurrent.futures joins its workers in its own exit hook, before
    # the interpreter's join: the session hung after its summary.
    pytester.makepyfile(
        """
import os
import time
from concurrent.futures import ThreadPoolExecutor

def spin():
    while not os.path.exists("never-written"):
        time.sleep(0.05)

def test_worker_left_spinning():
    ThreadPoolExecutor(1).submit(spin)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ocirace", timeout=120)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*'ThreadPoolExecutor-*' started by test_*::test_worker_*"])
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
