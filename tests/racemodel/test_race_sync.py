"""Instrumentation: each primitive gives the edge it should, and uninstall leaves no trace."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_ocirace.racemodel import clocks
from pytest_ocirace.racemodel.clocks import LogicalThread, Tracker
from pytest_ocirace.racemodel.sync import Instrumentation, TrackedLock, install, track_locks

#: Seconds a test waits for another thread before it fails instead of hanging.
PATIENCE = 10.0

PATCHED = [
    (threading, "Lock"),
    (threading, "RLock"),
    (threading.Thread, "start"),
    (threading.Thread, "join"),
    (threading.Event, "set"),
    (threading.Event, "wait"),
    (threading.Condition, "notify"),
    (threading.Condition, "wait"),
    (threading.Condition, "__enter__"),
    (threading.Condition, "__exit__"),
    (threading.Condition, "acquire"),
    (threading.Condition, "release"),
    (threading.Barrier, "wait"),
    (threading.Semaphore, "__init__"),
    (threading.Semaphore, "acquire"),
    (threading.Semaphore, "__enter__"),
    (threading.Semaphore, "release"),
    (threading.BoundedSemaphore, "release"),
    (queue.Queue, "put"),
    (queue.Queue, "get"),
    (queue.Queue, "task_done"),
    (queue.Queue, "join"),
    (futures.ThreadPoolExecutor, "submit"),
    (futures.ThreadPoolExecutor, "shutdown"),
    (futures.Future, "result"),
    (futures.Future, "exception"),
    (futures.Future, "set_result"),
    (futures.Future, "set_exception"),
    (futures.Future, "add_done_callback"),
    (futures.Future, "done"),
    (futures.Future, "running"),
    (futures.Future, "set_running_or_notify_cancel"),
]


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    instrumentation = install()
    try:
        yield instrumentation.tracker
    finally:
        instrumentation.uninstall()


def ordered(a: tuple[LogicalThread, int], b: LogicalThread) -> bool:
    """Whether the event (strand a, epoch) happens before b's present."""
    return b.has_seen(a[0].tid, a[1])


def mark(tracker: Tracker) -> tuple[LogicalThread, int]:
    strand = tracker.current()
    return strand, strand.epoch


def run_pair(first: object, second: object) -> None:
    threads = [threading.Thread(target=first), threading.Thread(target=second)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_uninstall_restores_every_attribute_exactly() -> None:
    before = {(owner, name): vars(owner).get(name, "<absent>") for owner, name in PATCHED}
    instrumentation = Instrumentation(Tracker()).install()
    try:  # a failed check must not leave the patches for every later test
        unpatched = [(o, n) for o, n in PATCHED if vars(o).get(n) is before[o, n]]
        assert unpatched == []
        assert clocks.active() is instrumentation.tracker
    finally:
        instrumentation.uninstall()
    after = {(owner, name): vars(owner).get(name, "<absent>") for owner, name in PATCHED}
    assert after == before
    assert clocks.active() is None
    assert type(threading.Lock()) is not TrackedLock


def test_second_install_is_refused_with_a_clear_message(tracker: Tracker) -> None:
    with pytest.raises(RuntimeError, match="already installed"):
        install()


def test_items_left_in_a_queue_come_out_as_put_after_uninstall() -> None:
    q: queue.PriorityQueue[int] = queue.PriorityQueue()
    with Instrumentation(Tracker()):
        q.put(3)
        q.put(1)
    assert [q.get(), q.get()] == [1, 3]


def test_thread_start_and_join_order_parent_and_child(tracker: Tracker) -> None:
    parent_before = mark(tracker)
    seen: dict[str, object] = {}

    def child() -> None:
        seen["ordered"] = ordered(parent_before, tracker.current())
        seen["mark"] = mark(tracker)

    t = threading.Thread(target=child)
    t.start()
    t.join()
    assert seen["ordered"] is True
    assert ordered(seen["mark"], tracker.current())  # type: ignore[arg-type]


def test_unjoined_sibling_threads_are_concurrent(tracker: Tracker) -> None:
    marks: dict[str, tuple[LogicalThread, int]] = {}
    barrier_free = threading.Event()

    def a() -> None:
        marks["a"] = mark(tracker)
        barrier_free.wait()  # nobody sets before b marks: no edge from a to b

    def b() -> None:
        marks["b"] = mark(tracker)
        barrier_free.set()

    run_pair(a, b)
    assert not ordered(marks["a"], marks["b"][0])


def test_event_set_happens_before_wait(tracker: Tracker) -> None:
    event = threading.Event()
    result: dict[str, bool] = {}
    producer_mark: list[tuple[LogicalThread, int]] = []

    def producer() -> None:
        producer_mark.append(mark(tracker))
        event.set()

    def consumer() -> None:
        event.wait()
        result["ordered"] = ordered(producer_mark[0], tracker.current())

    run_pair(consumer, producer)
    assert result == {"ordered": True}


def test_lock_gives_a_lockset_not_an_order(tracker: Tracker) -> None:
    lock = threading.Lock()
    marks: list[tuple[LogicalThread, int]] = []
    locksets: list[frozenset[object]] = []

    def worker() -> None:
        with lock:
            marks.append(mark(tracker))
            locksets.append(tracker.current().lockset())

    run_pair(worker, worker)
    assert locksets[0] == locksets[1]
    assert locksets[0]
    assert not ordered(marks[0], marks[1][0])
    assert tracker.current().lockset() == frozenset()


def test_rlock_condition_wait_releases_the_lockset(tracker: Tracker) -> None:
    cond = threading.Condition()
    held_while_waiting: list[frozenset[object]] = []
    waiting = threading.Event()

    def waiter() -> None:
        with cond:
            waiting.set()
            cond.wait(timeout=5)

    def notifier() -> None:
        waiting.wait()
        with cond:
            cond.notify_all()

    t = threading.Thread(target=waiter)
    t.start()
    waiting.wait()
    strand = tracker.strand_of(t)
    assert strand is not None
    held_while_waiting.append(strand.lockset())
    notifier()
    t.join()
    assert strand.lockset() == frozenset()


def test_pool_items_are_concurrent_even_on_one_worker_thread(tracker: Tracker) -> None:
    # Two workers, but the second item is tiny: often the first worker runs both. Either
    # way the two items must be concurrent, and both ordered before the shutdown.
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(lambda: (mark(tracker), threading.current_thread()))
        first.result()
        second = pool.submit(lambda: (mark(tracker), threading.current_thread()))
        second.result()
    (a, _), (b, _) = first.result(), second.result()
    assert ordered(a, b[0])  # result() of the first came before the second submit
    assert ordered(a, tracker.current())
    assert ordered(b, tracker.current())
    with ThreadPoolExecutor(max_workers=2) as pool:
        fs = [pool.submit(lambda: (mark(tracker), threading.current_thread())) for _ in range(4)]
    results = [f.result() for f in fs]
    marks = [m for m, _ in results]
    assert not any(ordered(x, y[0]) for x in marks for y in marks if x is not y)
    assert len({t.ident for _, t in results}) <= 2


def test_single_worker_pool_runs_items_in_order(tracker: Tracker) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        a = pool.submit(mark, tracker)
        b = pool.submit(lambda: tracker.current())
        assert ordered(a.result(), b.result())


def test_wait_and_as_completed_order_the_caller(tracker: Tracker) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        fs = [pool.submit(mark, tracker) for _ in range(2)]
        done, _ = futures.wait(fs)
        marks = [f._result for f in done]  # no result(): wait itself must order us
        assert all(ordered(m, tracker.current()) for m in marks)
        more = [pool.submit(mark, tracker) for _ in range(2)]
        for f in futures.as_completed(more):
            assert ordered(f._result, tracker.current())


def test_queue_put_happens_before_the_get_of_that_item(tracker: Tracker) -> None:
    q: queue.Queue[tuple[LogicalThread, int]] = queue.Queue()
    result: list[bool] = []

    def consumer() -> None:
        got = q.get()
        result.append(ordered(got, tracker.current()))

    def producer() -> None:
        q.put(mark(tracker))

    run_pair(consumer, producer)
    assert result == [True]


def test_barrier_orders_every_arrival_before_every_departure(tracker: Tracker) -> None:
    barrier = threading.Barrier(3)
    arrivals: list[tuple[LogicalThread, int]] = []
    departures: list[LogicalThread] = []
    lock = threading.Lock()

    def party() -> None:
        m = mark(tracker)
        with lock:
            arrivals.append(m)
        barrier.wait()
        departures.append(tracker.current())

    threads = [threading.Thread(target=party) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(ordered(a, d) for a in arrivals for d in departures)


def test_semaphore_zero_is_a_signal_and_one_is_a_lock(tracker: Tracker) -> None:
    signal = threading.Semaphore(0)
    mutex = threading.Semaphore(1)
    result: list[bool] = []
    producer_mark: list[tuple[LogicalThread, int]] = []

    def producer() -> None:
        producer_mark.append(mark(tracker))
        signal.release()

    def consumer() -> None:
        signal.acquire()
        result.append(ordered(producer_mark[0], tracker.current()))
        with mutex:
            result.append(bool(tracker.current().lockset()))

    run_pair(consumer, producer)
    assert result == [True, True]


def test_session_lock_tracking_covers_locks_created_before_the_test() -> None:
    real_lock, real_rlock = threading.Lock, threading.RLock
    tracking = track_locks()
    try:
        module_level = threading.Lock()  # as if created when a test module was imported
        with Instrumentation(Tracker()) as instrumentation, module_level:
            assert instrumentation.tracker.current().lockset()
        assert threading.Lock is TrackedLock  # the test's uninstall leaves the session's
    finally:
        tracking.uninstall()
    assert (threading.Lock, threading.RLock) == (real_lock, real_rlock)


def test_filelock_counts_as_a_lock_in_the_lockset(tmp_path: Path) -> None:
    filelock = pytest.importorskip("filelock")
    lock_path = str(tmp_path / "cache.lock")
    with Instrumentation(Tracker()) as instrumentation:
        strand = instrumentation.tracker.current()
        lock = filelock.FileLock(lock_path)
        with lock:
            held = strand.lockset()
            with lock:  # re-entrant in one thread
                pass
            still_held = strand.lockset()
        assert ("filelock", lock_path.replace("/", "\\").lower()) in held
        assert still_held == held
        assert strand.lockset() == frozenset()


def test_filelock_warnings_still_point_at_the_caller(tmp_path: Path) -> None:
    # The lockset is kept around filelock's platform methods, not its public acquire: an
    # extra frame there would move the stacklevel of acquire's own warnings off the caller.
    filelock = pytest.importorskip("filelock")
    lock = filelock.FileLock(str(tmp_path / "warn.lock"))
    with Instrumentation(Tracker()):
        with pytest.warns(DeprecationWarning, match="poll_intervall") as caught:
            lock.acquire(poll_intervall=0.01)
        lock.release()
    assert caught[0].filename == __file__


def test_a_thread_local_filelock_is_in_each_holders_lockset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (filelock's 100 threads sharing one lock object): the holder was keyed by
    # the object alone, so a thread that took the lock between another thread's release
    # and the wrapper's return was not in the lock's lockset, and its operations under
    # the lock were reported as racing.
    filelock = pytest.importorskip("filelock")
    free = threading.Lock()
    in_release, taken = threading.Event(), threading.Event()

    class InMemoryLock(filelock.BaseFileLock):  # type: ignore[misc,name-defined]
        def _acquire(self) -> None:
            if free.acquire(blocking=False):
                self._context.lock_file_fd = 1

        def _release(self) -> None:
            self._context.lock_file_fd = None
            free.release()
            if not in_release.is_set():  # the first release: let the other thread in now
                in_release.set()
                assert taken.wait(PATIENCE), "the other thread never took the lock"

    monkeypatch.setattr(filelock, "InMemoryLock", InMemoryLock, raising=False)
    key = ("filelock", str(tmp_path / "a.lock").replace("/", "\\").lower())
    with Instrumentation(Tracker()) as instrumentation:
        lock = InMemoryLock(str(tmp_path / "a.lock"))  # thread-local by default
        seen: list[frozenset[object]] = []

        def second() -> None:
            assert in_release.wait(PATIENCE)
            with lock:
                seen.append(instrumentation.tracker.current().lockset())
                taken.set()

        other = threading.Thread(target=second)
        other.start()
        with lock:
            pass
        other.join(PATIENCE)
        assert not other.is_alive()
    assert len(seen) == 1
    assert key in seen[0]


def test_an_rlock_is_not_left_held_when_acquire_raises_after_taking_it() -> None:
    # SimulationEnded sent to a leftover thread can arrive right after the real acquire
    # returned; the tracker failing there is the same path, made deterministic.
    failing_keys: set[object] = set()

    class Failing(Tracker):
        def locked(self, key: Any) -> None:
            if key in failing_keys:
                failing_keys.discard(key)  # once: the other thread's acquire is recorded
                raise RuntimeError("stopped inside acquire")
            super().locked(key)

    with Instrumentation(Failing()):
        lock = threading.RLock()
        failing_keys.add(lock.key)  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="stopped inside acquire"):
            lock.acquire()
        taken: list[bool] = []
        other = threading.Thread(target=lambda: taken.append(lock.acquire(timeout=5)))
        other.start()
        other.join(10)
    assert taken == [True], "the lock stayed held by the thread whose acquire raised"


@pytest.fixture
def stale_pool_class() -> Iterator[type]:
    """``concurrent.futures.ThreadPoolExecutor`` left pointing at a dropped module's class.

    What pytester's in-process runs leave behind: the package caches the class it first
    resolved, then ``concurrent.futures.thread`` is dropped from ``sys.modules`` and imported
    again, so the package and the module hand out two classes.
    """
    import importlib
    import sys

    package = sys.modules["concurrent.futures"]
    module = sys.modules["concurrent.futures.thread"]
    cached = vars(package).get("ThreadPoolExecutor", module.ThreadPoolExecutor)
    package.ThreadPoolExecutor = cached  # type: ignore[attr-defined]
    del sys.modules["concurrent.futures.thread"]
    fresh = importlib.import_module("concurrent.futures.thread")
    try:
        assert fresh.ThreadPoolExecutor is not cached
        yield cached
    finally:
        sys.modules["concurrent.futures.thread"] = module
        package.thread = module  # type: ignore[attr-defined]
        package.ThreadPoolExecutor = cached  # type: ignore[attr-defined]


def test_a_pool_class_the_package_kept_after_a_reimport_is_instrumented(
    stale_pool_class: type,
) -> None:
    # Regression: tests/plugins/test_races.py failed when run alone, because the package's
    # cached class (the one the test's `concurrent.futures.ThreadPoolExecutor` named) had no
    # instrumentation: its work items ran as the pool's anonymous worker threads.
    submit_before = vars(stale_pool_class)["submit"]
    instrumentation = install()
    try:
        tracker = instrumentation.tracker
        before = mark(tracker)
        with stale_pool_class(max_workers=2) as pool:
            future = pool.submit(lambda: (mark(tracker), threading.current_thread().name))
            (item, name) = future.result()
        assert ordered(before, item[0])  # the item follows its submitter
        assert ordered(item, tracker.current())  # and result() orders us after it
        assert "(work item" in item[0].name, name
    finally:
        instrumentation.uninstall()
    assert vars(stale_pool_class)["submit"] is submit_before


def test_a_condition_taken_by_acquire_orders_like_with(tracker: Tracker) -> None:
    # A readers-writer lock on a Condition: the reader gives the condition back without a
    # notify, and the writer that takes it next (by acquire(), not `with`) is after it.
    cond = threading.Condition(threading.Lock())
    marks: list[tuple[LogicalThread, int]] = []
    later: list[LogicalThread] = []

    def reader() -> None:
        marks.append(mark(tracker))
        cond.acquire()
        cond.release()

    def writer() -> None:
        cond.acquire()
        try:
            later.append(tracker.current())
        finally:
            cond.release()

    run_pair_in_order(reader, writer)
    assert ordered(marks[0], later[0])


def test_a_condition_made_before_the_instrumentation_orders_too() -> None:
    cond = threading.Condition()  # as a module-level or session fixture's condition
    instrumentation = install()
    try:
        tracker = instrumentation.tracker
        first: list[tuple[LogicalThread, int]] = []
        second: list[LogicalThread] = []

        def one() -> None:
            first.append(mark(tracker))
            with cond:
                pass

        def two() -> None:
            cond.acquire()
            second.append(tracker.current())
            cond.release()

        run_pair_in_order(one, two)
        assert ordered(first[0], second[0])
    finally:
        instrumentation.uninstall()
    assert "acquire" not in vars(threading.Condition)
    assert cond.acquire(timeout=1)  # the instance's own methods again
    cond.release()


def test_asking_a_future_its_state_orders_nobody(tracker: Tracker) -> None:
    # Future.done()/running() take the future's condition; two threads polling one future
    # must not be ordered by having polled it.
    future: futures.Future[int] = futures.Future()
    first: list[tuple[LogicalThread, int]] = []
    second: list[LogicalThread] = []

    def poll_first() -> None:
        first.append(mark(tracker))
        future.done()
        future.running()

    def poll_second() -> None:
        future.done()
        second.append(tracker.current())

    run_pair_in_order(poll_first, poll_second)
    assert not ordered(first[0], second[0])


def run_pair_in_order(first: Any, second: Any) -> None:
    """``first`` in a thread, then ``second`` in another, each joined only at the end."""
    flag: list[bool] = []  # a bare flag: an Event's edge would order the two threads

    def run_first() -> None:
        first()
        flag.append(True)

    a = threading.Thread(target=run_first)
    b = threading.Thread(target=second)
    a.start()
    deadline = time.monotonic() + PATIENCE
    while not flag and time.monotonic() < deadline:
        time.sleep(0.001)
    assert flag, "the first thread never finished"
    b.start()
    for t in (a, b):
        t.join(PATIENCE)
