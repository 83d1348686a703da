"""What race tracking costs on a thread-heavy workload, next to the simulation without it.

Claim (docs/performance.md, "Race tracking"): with the race model observing every operation
and threading/queue/futures instrumented, a thread-heavy workload runs at most 1.3x as long
as the same workload in the simulation with a do-nothing observer. Both sides run in this
one process, interleaved round by round; the script prints medians and the ratio (this
machine is noisy: compare ratios, not absolute numbers).

The workload never races (every writer has its own targets), so it measures bookkeeping,
not injected failures: worker threads and pool items publish files (open, write, close,
``os.replace``), take a shared lock, pass items through a queue and wait on futures.

    python bench/bench_races.py            # full run
    python bench/bench_races.py --quick    # a few seconds, for development
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs.filesystem import WindowsFilesystem
from pytest_ocirace.racemodel.events import Answer, FsOp
from pytest_ocirace.racemodel.model import RaceModel
from pytest_ocirace.racemodel.sync import install
from pytest_ocirace.winrules.options import SimulationOptions


class NullObserver:
    def before(self, op: FsOp) -> Answer:
        return Answer.PROCEED

    def after(self, op: FsOp, error: BaseException | None) -> None:
        return None


def workload(threads: int, iterations: int) -> None:
    """Threads and pool items publishing their own files, with a lock, a queue, futures."""
    os.makedirs("out", exist_ok=True)
    lock = threading.Lock()
    handoff: queue.Queue[str] = queue.Queue()
    done: list[int] = []

    def publish(name: str) -> None:
        temp = f"out/{name}.tmp"  # a workload, one writer per name
        with open(temp, "wb") as handle:
            handle.write(b"payload")
        os.replace(temp, f"out/{name}")  # noqa: ORC001, ORC002 - the workload measured

    def worker(index: int) -> None:
        for i in range(iterations):
            name = f"t{index}-{i % 4}"
            publish(name)
            with lock:
                done.append(i)
            handoff.put(name)

    pool_threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool_threads:
        t.start()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(publish, f"p{n}") for n in range(threads * iterations)]
        for f in futures:
            f.result()
    for t in pool_threads:
        t.join()
    while not handoff.empty():
        os.path.exists(f"out/{handoff.get()}")


@contextlib.contextmanager
def simulation(tracked: bool) -> Iterator[RaceModel | None]:
    """A fresh simulation, observed by the race model (``tracked``) or a null observer.

    Yields the model (None for the null observer); fails the bench if it saw a race,
    since the workloads measured never race.
    """
    with Patcher() as patcher:
        assert patcher.fs is not None
        sim = WindowsFilesystem.attach(patcher.fs, SimulationOptions())
        instrumentation = install() if tracked else None
        model = RaceModel(instrumentation.tracker) if instrumentation is not None else None
        try:
            sim.observer = model if model is not None else NullObserver()
            yield model
            if model is not None and model.races:
                raise SystemExit("bench: the workload raced; it must not")
        finally:
            sim.observer = None
            if instrumentation is not None:
                instrumentation.uninstall()
            sim.detach()


def run(tracked: bool, threads: int, iterations: int) -> float:
    with simulation(tracked):
        start = time.perf_counter()
        workload(threads, iterations)
        return time.perf_counter() - start


def model_only(count: int) -> tuple[float, float]:
    """Microseconds per observed operation: the race model alone vs a null observer."""
    from pytest_ocirace.racemodel.clocks import Tracker
    from pytest_ocirace.racemodel.events import OpKind

    ops = [
        FsOp(
            OpKind.OPEN, f"c:\\t{i % 50}", "t", handle=i, access=frozenset({"write"}), creates=True
        )
        for i in range(count)
    ]
    closes = [FsOp(OpKind.CLOSE, op.path, op.display, handle=op.handle) for op in ops]

    def drive(observer: object) -> float:
        before, after = observer.before, observer.after  # type: ignore[attr-defined]
        start = time.perf_counter()
        for op, close in zip(ops, closes, strict=True):
            before(op)
            after(op, None)
            before(close)
            after(close, None)
        return (time.perf_counter() - start) / (2 * count) * 1e6

    return drive(RaceModel(Tracker())), drive(NullObserver())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for development")
    args = parser.parse_args()
    rounds, threads, iterations = (3, 4, 5) if args.quick else (7, 8, 10)
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for tracked in (False, True):
            timings[tracked].append(run(tracked, threads, iterations))
    plain = statistics.median(timings[False])
    tracked = statistics.median(timings[True])
    print(
        f"workload: {threads} threads x {iterations} publishes + {threads * iterations} pool items"
    )
    print(f"  simulation, null observer : {plain * 1000:8.1f} ms (median of {rounds})")
    print(f"  simulation + race tracking: {tracked * 1000:8.1f} ms (median of {rounds})")
    print(f"  ratio                     : {tracked / plain:8.2f}x  (claim: <= 1.3x)")
    model, null = model_only(2000 if args.quick else 20000)
    print(f"race model alone: {model:.1f} us per operation (null observer {null:.2f} us)")


if __name__ == "__main__":
    main()
