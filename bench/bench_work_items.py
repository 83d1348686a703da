"""What race tracking costs per work item as a chain of awaited items grows.

Claim (docs/performance.md, "Chains of work items"): the cost of one awaited
``asyncio.to_thread`` item with race tracking does not grow with the number of items the
test ran before it. Every work item is a strand of the race model; until finished strands
handed their clock slot on (``clocks.Tracker.finished``), each added an entry to every
clock that heard of it, so the n-th item cost O(n) and a loop of awaited items was
quadratic: persist-queue 1.1.0's ``test_queue_with_large_chunksize`` (500 puts through
``aiofiles``, about 7 items each) passed its 40 s timeout.

For each chain length the script times the same chain in the simulation with a
do-nothing observer and with the race model, interleaved round by round in this process,
and prints CPU microseconds per item (the process's, all threads: a loaded machine's
wake-up latency of the worker threads is left out) and their ratio (compare the ratios
across lengths, not absolute numbers). A flat ratio means a linear chain.

    python bench/bench_work_items.py            # 250, 1000, 4000 items
    python bench/bench_work_items.py --quick    # 200, 800, 3200 items
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_races import simulation


def publish(index: int) -> None:
    temp = f"out/{index % 8}.tmp"  # one item at a time: the chain is awaited
    with open(temp, "wb") as handle:
        handle.write(b"payload")
    os.replace(temp, f"out/{index % 8}")  # noqa: ORC001, ORC002 - the workload measured


async def chain(items: int) -> None:
    for index in range(items):
        await asyncio.to_thread(publish, index)


def run(tracked: bool, items: int) -> float:
    """CPU seconds of the process for ``items`` awaited items, in a fresh simulation."""
    with simulation(tracked):
        os.makedirs("out", exist_ok=True)
        start = time.process_time()  # every thread's CPU: waits for a wake-up excluded
        asyncio.run(chain(items))
        return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter chains, fewer rounds")
    args = parser.parse_args()
    lengths, rounds = ((200, 800, 3200), 2) if args.quick else ((250, 1000, 4000), 5)
    print("items  null cpu us/item  tracked cpu us/item  ratio")
    for items in lengths:
        timings: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for tracked in (False, True):
                timings[tracked].append(run(tracked, items))
        null = statistics.median(timings[False]) / items * 1e6
        tracked_us = statistics.median(timings[True]) / items * 1e6
        print(f"{items:5d}  {null:16.0f}  {tracked_us:19.0f}  {tracked_us / null:5.2f}x")


if __name__ == "__main__":
    main()
