"""The tracked lock types stand in for the real ones everywhere the standard library looks.

Inside a simulated test ``threading.Lock``/``RLock`` are the tracked types, so every lock
the standard library makes there is one: multiprocessing's, logging's, asyncio's,
concurrent.futures'. Each must find every attribute of the real type it expects
(``_recursion_count`` killed ``ProcessPoolExecutor(mp_context=spawn)`` with an
AttributeError in multiprocessing's resource tracker).
"""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import logging
import multiprocessing
import multiprocessing.pool
import threading
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs.boundaries import ProcessStartError
from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.racemodel.sync import TrackedLock, TrackedRLock, install

#: Seconds a test waits before calling a blocked call a deadlock.
PATIENCE = 10.0


@pytest.fixture
def simulated() -> Iterator[WindowsFilesystem]:
    """A simulated test as the plugin runs one: fake filesystem and instrumentation."""
    with simulate() as sim:
        instrumentation = install()
        try:
            yield sim
        finally:
            instrumentation.uninstall()


@pytest.mark.parametrize(
    ("real", "tracked"),
    [(_thread.allocate_lock, TrackedLock), (_thread.RLock, TrackedRLock)],
    ids=["Lock", "RLock"],
)
def test_a_tracked_lock_has_every_attribute_of_the_real_type(real: type, tracked: type) -> None:
    missing = [name for name in dir(real()) if not hasattr(tracked(), name)]
    assert missing == []


def test_tracked_rlock_reports_its_recursion_and_ownership() -> None:
    lock = TrackedRLock()
    assert lock._recursion_count() == 0
    with lock, lock:
        assert lock._recursion_count() == 2
        assert lock._is_owned()
    assert not lock._is_owned()


def test_an_rlock_made_in_a_simulation_passes_trios_check_for_the_c_lock(
    simulated: WindowsFilesystem,
) -> None:
    """trio's entry queue asserts ``lock.__class__.__module__ == "_thread"`` (the C RLock,
    safe against a signal handler); every trio run under --ocirace failed with
    TrioInternalError. Here a thread hands a job to the lock's owner as trio's
    ``run_sync_soon`` does, and the lock still orders the two threads."""
    lock = threading.RLock()
    assert isinstance(lock, TrackedRLock)
    assert lock.__class__.__module__ == "_thread"
    jobs: list[int] = []

    def worker() -> None:
        with lock:  # trio's run_sync_soon: append under the entry queue's lock
            jobs.append(1)

    thread = threading.Thread(target=worker)
    with lock:
        thread.start()
        thread.join(0.2)
        assert thread.is_alive()  # excluded while held
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert jobs == [1]


def test_tracked_lock_old_names_and_fork_reinit() -> None:
    lock = TrackedLock()
    assert lock.acquire_lock()
    assert lock.locked_lock()
    lock.release_lock()
    lock.acquire()
    lock._at_fork_reinit()  # what a child does after fork: a fresh, unlocked lock
    assert not lock.locked()


def test_multiprocessing_queue_works_inside(simulated: WindowsFilesystem) -> None:
    channel: multiprocessing.Queue[int] = multiprocessing.Queue()
    try:
        channel.put(41)
        assert channel.get(timeout=PATIENCE) == 41
    finally:
        channel.close()
        channel.join_thread()


def test_multiprocessing_thread_pool_maps_inside(simulated: WindowsFilesystem) -> None:
    with multiprocessing.pool.ThreadPool(2) as pool:
        result = pool.map_async(lambda n: n * n, range(8))
        assert result.get(timeout=PATIENCE) == [n * n for n in range(8)]


@pytest.mark.parametrize(
    "start",
    [
        lambda: multiprocessing.Pool(1),
        lambda: multiprocessing.Manager(),
        lambda: multiprocessing.get_context("spawn").Process(target=print).start(),
    ],
    ids=["Pool", "Manager", "Process"],
)
def test_a_process_start_is_one_line_error(simulated: WindowsFilesystem, start: object) -> None:
    with pytest.raises(ProcessStartError) as caught:
        start()  # type: ignore[operator]
    assert "\n" not in str(caught.value)


def test_process_pool_with_spawn_stops_at_the_process_start(simulated: WindowsFilesystem) -> None:
    # Stopped with the one-line error, not an AttributeError from the resource tracker.
    spawn = multiprocessing.get_context("spawn")
    with (
        pytest.raises(ProcessStartError) as caught,
        concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as executor,
    ):
        executor.submit(print, "x").result(timeout=PATIENCE)
    assert "\n" not in str(caught.value)


def test_thread_pool_executor_works_inside(simulated: WindowsFilesystem) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        assert list(executor.map(len, ["a", "bb"], timeout=PATIENCE)) == [1, 2]


def test_logging_handlers_lock_and_reinit_inside(simulated: WindowsFilesystem) -> None:
    handler = logging.FileHandler("C:\\work\\log.txt", delay=True)
    logger = logging.getLogger("ocirace-sync-test")
    logger.addHandler(handler)
    try:
        assert isinstance(handler.lock, TrackedRLock)
        logger.warning("inside")
        # What os.register_at_fork runs in a child: every handler's lock and logging's own.
        reinit = getattr(logging, "_after_at_fork_child_reinit_locks", handler._at_fork_reinit)
        reinit()
        logger.warning("after reinit")
    finally:
        logger.removeHandler(handler)
        handler.close()
    with open("C:\\work\\log.txt") as written:
        assert written.read().splitlines() == ["inside", "after reinit"]


def test_asyncio_runs_inside(simulated: WindowsFilesystem) -> None:
    async def main() -> list[int]:
        lock = asyncio.Lock()
        done: list[int] = []

        async def work(n: int) -> None:
            async with lock:
                await asyncio.sleep(0)
                done.append(n)

        await asyncio.gather(*(work(n) for n in range(3)))
        done.append(await asyncio.to_thread(lambda: 99))
        return done

    assert asyncio.run(main()) == [0, 1, 2, 99]


def test_a_condition_over_a_tracked_rlock_waits_and_notifies(simulated: WindowsFilesystem) -> None:
    condition = threading.Condition(TrackedRLock())
    ready: list[bool] = []

    def signal() -> None:
        with condition:
            ready.append(True)
            condition.notify_all()

    with condition:
        thread = threading.Thread(target=signal)
        thread.start()
        assert condition.wait_for(lambda: ready, timeout=PATIENCE)
    thread.join(PATIENCE)


def test_a_resource_tracker_made_with_tracked_locks_starts_and_stops() -> None:
    # Outside a simulated test, with the session-wide lock tracking the plugin installs:
    # multiprocessing's resource tracker (imported late, so its RLock is a tracked one)
    # starts its real process and asks its lock for _recursion_count().
    from multiprocessing import resource_tracker

    from pytest_ocirace.racemodel.sync import track_locks

    tracking = track_locks()
    try:
        tracker = resource_tracker.ResourceTracker()
    finally:
        tracking.uninstall()
    assert isinstance(tracker._lock, TrackedRLock)
    tracker.ensure_running()
    try:
        assert tracker._check_alive()
    finally:
        tracker._stop()
