"""Polling storms: a failed exclusive create waits for the name's removal, bounded, outside
the global lock, and still fails with Windows' own error."""

from __future__ import annotations

import errno
import os
import threading
import time
import types
from collections.abc import Iterator

import pytest

from pytest_ocirace.fakefs import storms
from pytest_ocirace.fakefs.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.fakefs.locking import LOCK
from tests.fakefs.blocking_threads import PATIENCE, finish, in_thread

#: How long a test waits for a thread that should finish: a regression fails, never hangs.
EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
LOCK_FILE = "app.lock"


@pytest.fixture
def sim() -> Iterator[WindowsFilesystem]:
    with simulate() as simulation:
        yield simulation


def _failed_creates(threads: int, name: str = LOCK_FILE) -> list[BaseException]:
    """``threads`` other threads, alive together, each fail one exclusive create of ``name``."""
    together = threading.Barrier(threads)

    def poll() -> None:
        try:
            os.open(name, EXCLUSIVE)
        finally:
            together.wait(PATIENCE)  # alive until all have polled: distinct threads

    started = [in_thread(poll) for _ in range(threads)]
    for thread, _outcome in started:
        finish(thread)
    return [outcome[0] for _thread, outcome in started]


def _remove_later(delay: float, name: str = LOCK_FILE) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), os.remove(name)))
    thread.start()
    return thread


def test_an_exclusive_create_fails_at_once_when_few_threads_poll(sim: WindowsFilesystem) -> None:
    os.close(os.open(LOCK_FILE, EXCLUSIVE))
    failures = _failed_creates(storms.STORM_THREADS - 1)
    assert all(isinstance(f, FileExistsError) for f in failures), failures
    remover = _remove_later(0.3)
    with pytest.raises(FileExistsError):  # one or two threads: Windows' answer, at once
        os.open(LOCK_FILE, EXCLUSIVE)
    finish(remover)


def test_an_exclusive_create_in_a_polling_storm_gets_the_name_its_holder_frees(
    sim: WindowsFilesystem,
) -> None:
    # filelock's SoftFileLock with 100 threads: each poll (a stat, a mkdir, an O_EXCL
    # open) costs fake file operations under the global lock, and the pollers starved the
    # holder's release (the tests ran past their 180 s timeout). In a storm a failed
    # create waits for the name's removal, and makes the name its own once it is free.
    os.close(os.open(LOCK_FILE, EXCLUSIVE))
    _failed_creates(storms.STORM_THREADS)
    remover = _remove_later(0.05)
    fd = os.open(LOCK_FILE, EXCLUSIVE)
    os.close(fd)
    finish(remover)
    assert os.path.exists(LOCK_FILE)


def test_an_exclusive_create_in_a_storm_still_fails_when_nobody_frees_the_name(
    sim: WindowsFilesystem,
) -> None:
    os.close(os.open(LOCK_FILE, EXCLUSIVE))
    _failed_creates(storms.STORM_THREADS)
    started = time.monotonic()
    with pytest.raises(FileExistsError) as caught:
        os.open(LOCK_FILE, EXCLUSIVE)
    assert caught.value.errno == errno.EEXIST
    patience = storms.STORM_PATIENCE_EACH * storms.STORM_THREADS
    assert time.monotonic() - started >= patience * 0.9  # it waited (bounded) first


def test_an_exclusive_create_woken_by_a_removal_meets_the_names_state_then(
    sim: WindowsFilesystem,
) -> None:
    # The removal wakes the waiter, but the name lingers delete-pending until its last
    # handle closes: the create is made again and fails as one outside a storm would.
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_TEMPORARY)  # type: ignore[attr-defined]
    os.remove(LOCK_FILE)
    assert sim.is_delete_pending(LOCK_FILE)
    with pytest.raises(OSError, match=LOCK_FILE) as alone:
        os.open(LOCK_FILE, EXCLUSIVE)  # the decision table's answer, no storm yet
    os.close(fd)
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_TEMPORARY)  # type: ignore[attr-defined]
    _failed_creates(storms.STORM_THREADS)
    remover = _remove_later(0.05)
    with pytest.raises(OSError, match=LOCK_FILE) as stormed:
        os.open(LOCK_FILE, EXCLUSIVE)
    finish(remover)
    assert sim.is_delete_pending(LOCK_FILE)
    assert (type(stormed.value), stormed.value.errno) == (type(alone.value), alone.value.errno)
    os.close(fd)
    os.close(os.open(LOCK_FILE, EXCLUSIVE))  # gone with its last handle: free again


def test_a_waiting_create_holds_no_global_lock(sim: WindowsFilesystem) -> None:
    os.close(os.open(LOCK_FILE, EXCLUSIVE))
    _failed_creates(storms.STORM_THREADS)
    other_work: list[BaseException | None] = []

    def meanwhile() -> None:
        # Other file work goes on while the create waits (under the global lock it could
        # not), and the holder's release reaches the waiter.
        try:
            time.sleep(0.02)
            assert LOCK.acquire(timeout=PATIENCE)
            LOCK.release()
            with open("other.txt", "w") as other:
                other.write("x")
            os.remove(LOCK_FILE)
            other_work.append(None)
        except BaseException as exc:  # handed to the test
            other_work.append(exc)

    worker = threading.Thread(target=meanwhile)
    worker.start()
    os.close(os.open(LOCK_FILE, EXCLUSIVE))  # thread idents are reused: poll from this one
    finish(worker)
    assert other_work == [None]


def test_a_removal_wakes_one_parked_create_of_that_name_only() -> None:
    waits = storms.NameWaits()
    deadline = time.monotonic() + PATIENCE
    first, second = waits.park("c:\\a.lock", deadline), waits.park("c:\\a.lock", deadline)
    other = waits.park("c:\\b.lock", deadline)
    waits.freed("c:\\a.lock")
    assert first.wait()
    assert waits.waiting
    waits.freed("c:\\b.lock")
    assert other.wait()
    waits.freed("c:\\a.lock")
    assert second.wait()
    assert not waits.waiting


def test_a_parked_create_gives_up_at_its_deadline() -> None:
    waits = storms.NameWaits()
    ticket = waits.park("c:\\a.lock", time.monotonic() + 0.05)
    assert not ticket.wait()
    assert not waits.waiting  # withdrawn: a later removal wakes nobody stale


class _Failers:
    """Threads that each record one failed attempt, alive (distinct idents) until ``end``."""

    def __init__(self, pollers: storms.Pollers) -> None:
        self.pollers = pollers
        self.release = threading.Event()
        self.started: list[tuple[threading.Thread, list[object]]] = []

    def fail(self, key: str, threads: int) -> None:
        recorded = threading.Semaphore(0)

        def fail() -> None:
            self.pollers.patience(key)
            recorded.release()
            self.release.wait(PATIENCE)

        self.started.extend(in_thread(fail) for _ in range(threads))
        for _ in range(threads):
            assert recorded.acquire(timeout=PATIENCE), "a poller did not record"

    def end(self) -> None:
        self.release.set()
        for thread, outcome in self.started:
            finish(thread)
            assert outcome == [None]


def test_pollers_count_the_other_threads_that_failed_within_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]  # the storms module's clock, moved by the test alone
    monkeypatch.setattr(storms, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    failers = _Failers(storms.Pollers())
    pollers = failers.pollers
    try:
        failers.fail("a", storms.STORM_THREADS - 1)
        assert pollers.patience("a") == 0.0  # three others: no storm yet
        failers.fail("a", 2)
        each = storms.STORM_PATIENCE_EACH * (storms.STORM_THREADS + 1)
        assert pollers.patience("a") == pytest.approx(each)
        assert pollers.patience("a", record=False) == pytest.approx(each)
        assert pollers.patience("b", record=False) == 0.0  # another name: nobody polled it
        now[0] += storms.STORM_WINDOW + 0.1  # every failure is now older than the window
        assert pollers.patience("a", record=False) == 0.0  # ours too: not a poller any more
        failers.fail("a", 2)
        assert pollers.patience("a") == 0.0  # the two new ones only
    finally:
        failers.end()
