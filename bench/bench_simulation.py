"""What the simulation costs a test, next to pyfakefs' ``fs`` fixture and ``tmp_path``.

Claims (docs/performance.md, "Simulation"): starting the simulation for a test costs no
more than pyfakefs' ``fs`` fixture, and one filesystem operation costs at most 1.2x the
same operation on pyfakefs in Windows mode. Both sides run in this one process, interleaved
round by round, and the script prints medians and ratios (this machine is noisy: compare
ratios, not absolute numbers).

    python bench/bench_simulation.py            # full run (about a minute)
    python bench/bench_simulation.py --quick    # a few seconds, for development
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

from pyfakefs.fake_filesystem import OSType
from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.simulation.events import Answer, FsOp
from pytest_ocirace.simulation.filesystem import WindowsFilesystem, simulate
from pytest_ocirace.simulation.options import SimulationOptions


class NullObserver:
    def before(self, op: FsOp) -> Answer:
        return Answer.PROCEED

    def after(self, op: FsOp, error: BaseException | None) -> None:
        return None


def setup_tmp_path() -> None:
    folder = tempfile.mkdtemp(prefix="bench-")
    shutil.rmtree(folder)


def setup_fs() -> None:
    patcher = Patcher()
    patcher.setUp()
    patcher.tearDown()


def setup_fs_windows() -> None:
    patcher = Patcher()
    patcher.setUp()
    assert patcher.fs is not None
    patcher.fs.os = OSType.WINDOWS
    patcher.tearDown()


def setup_simulation() -> None:
    # What the winfs fixture does: its own pyfakefs patcher, Windows from the start.
    with simulate(SimulationOptions()):
        pass


def _publish_loop(count: int) -> None:
    for _ in range(count):
        with open("tmp", "wb") as handle:
            handle.write(b"hello world")
        os.replace("tmp", "blob")


def ops_tmp_path(count: int) -> float:
    folder = tempfile.mkdtemp(prefix="bench-")
    previous = os.getcwd()
    os.chdir(folder)
    try:
        start = time.perf_counter()
        _publish_loop(count)
        return time.perf_counter() - start
    finally:
        os.chdir(previous)
        shutil.rmtree(folder)


def _ops_fake(count: int, windows: bool, simulate: bool, observer: bool) -> float:
    patcher = Patcher()
    patcher.setUp()
    assert patcher.fs is not None
    simulation = None
    try:
        if simulate:
            simulation = WindowsFilesystem.attach(patcher.fs, SimulationOptions())
            if observer:
                simulation.observer = NullObserver()
        else:
            if windows:
                patcher.fs.os = OSType.WINDOWS
            patcher.fs.create_dir("/work")
            os.chdir("/work")
        start = time.perf_counter()
        _publish_loop(count)
        return time.perf_counter() - start
    finally:
        if simulation is not None:
            simulation.detach()
        patcher.tearDown()


def _median_ms(function: Callable[[], None], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (development)")
    args = parser.parse_args()
    setup_rounds, op_count, op_rounds = (10, 100, 3) if args.quick else (40, 400, 5)

    print(f"setup + teardown of one test (median of {setup_rounds}, ms)")
    setups = {
        "tmp_path (mkdtemp + rmtree)": setup_tmp_path,
        "pyfakefs fs fixture (host OS)": setup_fs,
        "pyfakefs fs fixture + Windows": setup_fs_windows,
        "ocirace simulation (winfs)": setup_simulation,
    }
    for function in setups.values():  # warm the import and module caches
        function()
    setup_results: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(setup_rounds):
        for name, function in setups.items():
            start = time.perf_counter()
            function()
            setup_results[name].append((time.perf_counter() - start) * 1000)
    medians = {name: statistics.median(values) for name, values in setup_results.items()}
    for name, value in medians.items():
        print(f"  {name:<34} {value:8.2f}")
    ratio = medians["ocirace simulation (winfs)"] / medians["pyfakefs fs fixture (host OS)"]
    print(f"  simulation / fs fixture: {ratio:.2f}x  (target <= 1.0x)")
    windows = medians["ocirace simulation (winfs)"] / medians["pyfakefs fs fixture + Windows"]
    print(f"  simulation / fs fixture switched to Windows: {windows:.2f}x")

    print(f"\none operation: open 'wb', write 11 bytes, close, os.replace (x{op_count}, us/op)")
    workloads: dict[str, Callable[[int], float]] = {
        "tmp_path (real disk)": ops_tmp_path,
        "pyfakefs, Linux mode": lambda n: _ops_fake(n, False, False, False),
        "pyfakefs, Windows mode": lambda n: _ops_fake(n, True, False, False),
        "ocirace simulation": lambda n: _ops_fake(n, True, True, False),
        "ocirace simulation + observer": lambda n: _ops_fake(n, True, True, True),
    }
    op_results: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(op_rounds):
        for name, workload in workloads.items():
            op_results[name].append(workload(op_count) / op_count * 1e6)
    per_op = {name: statistics.median(values) for name, values in op_results.items()}
    for name, value in per_op.items():
        print(f"  {name:<34} {value:9.1f}")
    base = per_op["pyfakefs, Windows mode"]
    print(
        f"  simulation / pyfakefs Windows:            {per_op['ocirace simulation'] / base:.2f}x"
        "  (target <= 1.2x)"
    )
    print(
        "  simulation + observer / pyfakefs Windows: "
        f"{per_op['ocirace simulation + observer'] / base:.2f}x"
    )


if __name__ == "__main__":
    main()
