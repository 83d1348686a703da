"""Racy and safe programs over the driver, each with the verdict the model must give.

Every scenario runs real threads (pools, bare threads, asyncio.to_thread...) and publishes
with the temp-then-replace pattern. ``RACY`` scenarios have a schedule in which Windows
fails; ``SAFE`` ones have none. ``HANDLED`` ones race but the code copes (retry, accept an
identical target), so the test passes while the race is still recorded.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed, wait

from pytest_ocirace.racemodel.model import exclusive, happens_after, happens_before

from .race_driver import Driver

T = "blobs/sha256/abc"
DATA = b"layer"


def _threads(*targets: Callable[[], object]) -> None:
    threads = [threading.Thread(target=t, name=f"writer-{i}") for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _raise_worker_errors(errors: list[BaseException]) -> None:
    if errors:
        raise errors[0]


def _collecting(fn: Callable[[], object], errors: list[BaseException]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except OSError as exc:
            errors.append(exc)

    return run


# -- racy ---------------------------------------------------------------------------------


def pool_duplicate_layers(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(d.publish, T, DATA) for _ in range(2)]
    for f in futures:
        f.result()


def pool_map(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda data: d.publish(T, data), [b"a", b"b"]))


def bare_threads(d: Driver) -> None:
    errors: list[BaseException] = []
    _threads(*[_collecting(lambda: d.publish(T, DATA), errors) for _ in range(2)])
    _raise_worker_errors(errors)


def to_thread(d: Driver) -> None:
    async def main() -> None:
        await asyncio.gather(
            asyncio.to_thread(d.publish, T, DATA), asyncio.to_thread(d.publish, T, DATA)
        )

    asyncio.run(main())


def to_thread_chain_then_pair(d: Driver) -> None:
    # The chain's items hand their clock slots on (clocks.Tracker.finished); the pair at
    # the end is still two strands nothing orders.
    async def main() -> None:
        for _ in range(20):
            await asyncio.to_thread(d.publish, T, DATA)
        await asyncio.gather(
            asyncio.to_thread(d.publish, T, DATA), asyncio.to_thread(d.publish, T, DATA)
        )

    asyncio.run(main())


def to_thread_chain_beside_a_thread(d: Driver) -> None:
    # A thread publishing while the main thread awaits a chain of items: every item,
    # including those in a recycled slot, is unordered with it.
    errors: list[BaseException] = []
    thread = threading.Thread(target=_collecting(lambda: d.publish(T, DATA), errors))

    async def main() -> None:
        thread.start()
        for _ in range(40):
            await asyncio.to_thread(d.publish, T, DATA)

    try:
        asyncio.run(main())
    finally:
        thread.join()
    _raise_worker_errors(errors)


def barrier_then_publish(d: Driver) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        d.publish(T, DATA)

    _threads(*[_collecting(worker, errors) for _ in range(2)])
    _raise_worker_errors(errors)


def unrelated_lock(d: Driver) -> None:
    # Each writer takes a shared lock (like logging's) but not around the replace.
    log_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        with log_lock:
            pass
        d.publish(T, DATA)

    _threads(*[_collecting(worker, errors) for _ in range(2)])
    _raise_worker_errors(errors)


def reader_vs_writer(d: Driver) -> None:
    d.write_file(T, b"old")
    errors: list[BaseException] = []
    _threads(
        _collecting(lambda: d.publish(T, DATA), errors), _collecting(lambda: d.read_file(T), errors)
    )
    _raise_worker_errors(errors)


def publish_after_leaving_a_condition(d: Driver) -> None:
    # The condition orders what each thread did under it, not the publishes that follow:
    # those are unordered whichever thread took the condition first.
    cond = threading.Condition()
    entered: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        with cond:
            entered.append(1)
        d.publish(T, DATA)

    _threads(_collecting(worker, errors), _collecting(worker, errors))
    _raise_worker_errors(errors)


def shared_temp_name(d: Driver) -> None:
    errors: list[BaseException] = []
    _threads(*[_collecting(lambda: d.publish(T, DATA, tmp="blobs/tmp"), errors) for _ in range(2)])
    _raise_worker_errors(errors)


def check_then_rename(d: Driver) -> None:
    names = iter(["tmp1", "tmp2"])  # not get_ident(): idents of finished threads are reused

    def worker() -> None:
        tmp = next(names)
        d.write_file(tmp, DATA)
        if not d.exists(T):
            d.rename(tmp, T)

    errors: list[BaseException] = []
    _threads(*[_collecting(worker, errors) for _ in range(2)])
    _raise_worker_errors(errors)


def future_not_awaited(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        future = pool.submit(d.publish, T, DATA)
        try:
            d.publish(T, DATA)  # no result() before this: unordered with the work item
        finally:
            future.result()


# -- handled ------------------------------------------------------------------------------


def _publish_with_retry(d: Driver) -> None:
    for attempt in range(5):
        try:
            d.publish(T, DATA)
            return
        except PermissionError as exc:
            if getattr(exc, "winerror", None) not in (5, 32) or attempt == 4:
                raise
            time.sleep(0.001)


def retries(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        for f in [pool.submit(_publish_with_retry, d) for _ in range(2)]:
            f.result()


def _publish_accepting_identical(d: Driver) -> None:
    try:
        d.publish(T, DATA)
    except PermissionError:
        if not (d.exists(T) and d.read_file(T) == DATA):
            raise


def existing_identical_is_fine(d: Driver) -> None:
    errors: list[BaseException] = []
    _threads(*[_collecting(lambda: _publish_accepting_identical(d), errors) for _ in range(2)])
    _raise_worker_errors(errors)


# -- safe ---------------------------------------------------------------------------------


def pool_one_worker(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        for f in [pool.submit(d.publish, T, DATA) for _ in range(3)]:
            f.result()


def threads_one_by_one(d: Driver) -> None:
    for _ in range(2):
        t = threading.Thread(target=d.publish, args=(T, DATA))
        t.start()
        t.join()


def to_thread_sequential(d: Driver) -> None:
    async def main() -> None:
        await asyncio.to_thread(d.publish, T, DATA)
        await asyncio.to_thread(d.publish, T, DATA)

    asyncio.run(main())


def to_thread_long_chain(d: Driver) -> None:
    async def main() -> None:
        for _ in range(50):
            await asyncio.to_thread(d.publish, T, DATA)

    asyncio.run(main())


def common_lock(d: Driver) -> None:
    lock = threading.Lock()

    def worker() -> None:
        with lock:
            d.publish(T, DATA)

    _threads(worker, worker)


def common_rlock_and_semaphore(d: Driver) -> None:
    rlock = threading.RLock()
    sem = threading.BoundedSemaphore(1)

    def with_rlock() -> None:
        with rlock, rlock:
            d.publish(T, DATA)

    def with_sem() -> None:
        with sem:
            d.publish("other", DATA)

    _threads(with_rlock, with_rlock, with_sem, with_sem)


def event_handoff(d: Driver) -> None:
    ready = threading.Event()

    def producer() -> None:
        d.publish(T, DATA)
        ready.set()

    def consumer() -> None:
        ready.wait()
        d.read_file(T)
        d.publish(T, DATA)

    _threads(consumer, producer)


class _ReadersWriterMutex:
    """Many readers or one writer, on a Condition's state (dogpile.cache's ReadWriteMutex).

    A reader holds no lock while it reads, and nobody is notified unless a writer waits:
    only the condition's lock, taken with ``acquire()`` and given back with ``release()``,
    orders a reader before a writer that comes after it.
    """

    def __init__(self) -> None:
        self.readers = 0
        self.writer: threading.Thread | None = None
        self.condition = threading.Condition(threading.Lock())

    def acquire_read(self) -> None:
        self.condition.acquire()
        try:
            while self.writer is not None:
                self.condition.wait()
            self.readers += 1
        finally:
            self.condition.release()

    def release_read(self) -> None:
        self.condition.acquire()
        try:
            self.readers -= 1
            if self.readers == 0 and self.writer is not None:
                self.condition.notify_all()
        finally:
            self.condition.release()

    def acquire_write(self) -> None:
        with self.condition:
            while self.writer is not None:
                self.condition.wait()
            self.writer = threading.current_thread()
            while self.readers > 0:
                self.condition.wait()

    def release_write(self) -> None:
        with self.condition:
            self.writer = None
            self.condition.notify_all()


def readers_writer_mutex_on_a_condition(d: Driver) -> None:
    d.write_file(T, b"old")
    mutex = _ReadersWriterMutex()

    def reader() -> None:
        mutex.acquire_read()
        try:
            d.read_file(T)
        finally:
            mutex.release_read()

    def writer() -> None:
        mutex.acquire_write()
        try:
            d.publish(T, DATA)
        finally:
            mutex.release_write()

    _threads(reader, writer, reader, writer)


def condition_handoff(d: Driver) -> None:
    cond = threading.Condition()
    done = []

    def producer() -> None:
        d.publish(T, DATA)
        with cond:
            done.append(True)
            cond.notify_all()

    def consumer() -> None:
        with cond:
            cond.wait_for(lambda: done)
        d.publish(T, DATA)

    _threads(consumer, producer)


def queue_handoff(d: Driver) -> None:
    q: queue.Queue[str] = queue.Queue()

    def producer() -> None:
        d.publish(T, DATA)
        q.put(T)

    def consumer() -> None:
        d.read_file(q.get())

    _threads(consumer, producer)


def barrier_phases(d: Driver) -> None:
    barrier = threading.Barrier(2)

    def first() -> None:
        d.publish(T, DATA)
        barrier.wait()

    def second() -> None:
        barrier.wait()
        d.read_file(T)

    _threads(second, first)


def futures_then_main(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(d.publish, f"{T}{i}", DATA) for i in range(2)]
        for f in as_completed(futures):
            f.result()
        futures = [pool.submit(d.publish, T, DATA)]
        wait(futures)
    d.publish(T, DATA)
    d.publish(f"{T}0", DATA)


def timer_after_publish(d: Driver) -> None:
    d.publish(T, DATA)
    timer = threading.Timer(0.001, d.publish, args=(T, DATA))
    timer.start()
    timer.join()
    d.read_file(T)


def declared_ordering(d: Driver) -> None:
    flag: list[bool] = []

    def producer() -> None:
        d.publish(T, DATA)
        happens_before("blob-ready")
        flag.append(True)

    def consumer() -> None:
        while not flag:  # a polled flag: ordering the model cannot see
            time.sleep(0.0005)
        happens_after("blob-ready")
        d.publish(T, DATA)

    _threads(consumer, producer)


def declared_exclusive(d: Driver) -> None:
    def worker() -> None:
        with exclusive("cache-dir"):
            d.publish(T, DATA)

    _threads(worker, worker)


def different_targets(d: Driver) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(d.publish, f"{T}{i}", DATA) for i in range(4)]:
            f.result()


RACY = [
    pool_duplicate_layers,
    pool_map,
    bare_threads,
    to_thread,
    to_thread_chain_then_pair,
    to_thread_chain_beside_a_thread,
    barrier_then_publish,
    unrelated_lock,
    reader_vs_writer,
    publish_after_leaving_a_condition,
    shared_temp_name,
    check_then_rename,
    future_not_awaited,
]
HANDLED = [retries, existing_identical_is_fine]
SAFE = [
    pool_one_worker,
    threads_one_by_one,
    to_thread_sequential,
    to_thread_long_chain,
    common_lock,
    common_rlock_and_semaphore,
    event_handoff,
    condition_handoff,
    readers_writer_mutex_on_a_condition,
    queue_handoff,
    barrier_phases,
    futures_then_main,
    timer_after_publish,
    declared_ordering,
    declared_exclusive,
    different_targets,
]
