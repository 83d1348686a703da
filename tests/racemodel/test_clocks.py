"""The tracker stays usable when the garbage collector re-enters it from its own thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pytest_ocirace.racemodel import clocks
from pytest_ocirace.racemodel.sync import TrackedLock

from .gc_reentry import collecting_everywhere, finishes


@pytest.fixture
def tracker() -> Iterator[clocks.Tracker]:
    tracker = clocks.Tracker()
    clocks.activate(tracker)
    try:
        yield tracker
    finally:
        clocks.deactivate()


@pytest.fixture
def held_by_main(tracker: clocks.Tracker) -> list[TrackedLock]:
    """Many tracked locks the main thread holds (a ``__del__`` elsewhere may release one)."""
    locks = [TrackedLock() for _ in range(10_000)]
    for lock in locks:
        lock.acquire()
    return locks  # never released: after a regression, a release would hang the teardown


def release_one(locks: list[TrackedLock]) -> None:
    if locks:
        locks.pop().release()


def test_a_del_releasing_a_tracked_lock_inside_current_does_not_hang(
    tracker: clocks.Tracker, held_by_main: list[TrackedLock]
) -> None:
    # filelock 3.16.1's test_default_timeout hung so: current() allocated a strand under its
    # mutex, the collector ran BaseFileLock.__del__, whose release reported to the tracker.
    main = tracker.current()
    seen: list[clocks.LogicalThread] = []

    def first_reports() -> None:
        # Each new thread's first report registers it (allocating under the mutex).
        with collecting_everywhere(lambda: release_one(held_by_main)):
            for _ in range(50):
                thread = threading.Thread(target=lambda: seen.append(tracker.current()))
                thread.start()
                thread.join()

    assert finishes(first_reports), "the tracker deadlocked on a __del__ run under its mutex"
    assert len(main.locks) == len(held_by_main)
    assert len({s.tid for s in seen}) == 50
    assert main not in seen


def test_a_del_taking_a_lock_inside_current_leaves_one_strand_per_thread(
    tracker: clocks.Tracker,
) -> None:
    lock = TrackedLock()
    seen: list[clocks.LogicalThread] = []

    def take_and_release() -> None:
        lock.acquire()
        lock.release()

    def first_report() -> None:
        with collecting_everywhere(take_and_release):
            seen.append(tracker.current())
        seen.append(tracker.current())

    assert finishes(first_report), "the tracker deadlocked on a __del__ run under its mutex"
    first, later = seen
    # Whichever call registered the thread, the locks the __del__ took and released were
    # recorded on the strand the thread goes on running as.
    assert first is later
    assert [s for s in tracker.strands if s.name == first.name] == [first]
    assert first.lockset() == frozenset()


def test_a_del_releasing_a_tracked_lock_inside_spawn_does_not_hang(
    tracker: clocks.Tracker, held_by_main: list[TrackedLock]
) -> None:
    main = tracker.current()

    def spawn_some() -> None:
        with collecting_everywhere(lambda: release_one(held_by_main)):
            for index in range(500):
                tracker.spawn(f"child {index}", "thread")

    assert finishes(spawn_some), "the tracker deadlocked on a __del__ run under its mutex"
    assert len(main.locks) == len(held_by_main)


def test_one_strand_per_thread_when_threads_register_at_once(
    tracker: clocks.Tracker,
) -> None:
    strands: list[clocks.LogicalThread] = []
    start = threading.Barrier(4)

    def register() -> None:
        start.wait()
        strands.append(tracker.current())
        assert tracker.current() is strands[-1]

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({s.tid for s in strands}) == 4
    assert sorted(s.tid for s in tracker.strands) == sorted(s.tid for s in strands)


def test_a_finished_work_item_hands_its_slot_to_a_strand_that_saw_all_of_it() -> None:
    from pytest_ocirace.racemodel.clocks import Tracker

    tracker = Tracker()
    main = tracker.current()
    first = tracker.spawn("item 1", "work-item")
    first.tick()
    final = first.snapshot()
    tracker.finished(first)
    unseen = tracker.spawn("item 2", "work-item")  # main has not joined item 1 yet
    assert unseen.tid != first.tid
    tracker.acquire_clock(final)
    second = tracker.spawn("item 3", "work-item")
    assert second.tid == first.tid  # the slot, continued
    assert second.serial != first.serial  # the identity the race model keys by
    assert second.epoch > first.epoch
    assert second.has_seen(first.tid, first.epoch)
    assert not unseen.has_seen(first.tid, first.epoch)
    assert len(main.clock) <= 3


def test_threads_and_strands_that_waited_on_an_event_keep_their_slot() -> None:
    import threading

    from pytest_ocirace.racemodel.clocks import Tracker

    tracker = Tracker()
    thread = tracker.spawn("a thread", "thread")
    tracker.finished(thread)
    waiter = tracker.spawn("item", "work-item")
    event = threading.Event()
    tracker.event_set(event, turns_on=True)
    with tracker.running(waiter):
        tracker.event_waited(event)  # its clock may be weakened later: not recycled
    tracker.finished(waiter)
    tracker.acquire_clock(waiter.snapshot())
    tracker.acquire_clock(thread.snapshot())
    later = tracker.spawn("later", "work-item")
    assert later.tid not in (thread.tid, waiter.tid)


def test_clocks_stay_small_over_a_long_chain_of_awaited_items() -> None:
    # persist-queue's 500 puts through aiofiles: one slot per item made every join
    # linear in the number of items so far (quadratic, past a 40 s timeout).
    import asyncio

    from pytest_ocirace.racemodel.sync import install

    instrumentation = install()
    try:
        tracker = instrumentation.tracker

        async def main() -> int:
            for _ in range(300):
                await asyncio.to_thread(len, "x")
            return len(tracker.current().clock)

        assert asyncio.run(main()) < 20
    finally:
        instrumentation.uninstall()
