"""What the process mode costs: per operation, per child start, and on busy workloads.

Claims (issue 9): one write+replace in the process mode costs at most 3x the real disk
(the fake filesystem costs about 14x); a child joining through the ``.pth`` hook starts at
most 30 ms or 1.5x (whichever is larger) slower than a bare interpreter. Also measured: a
thread-heavy and a process-heavy workload with tracking against the same without it. Every
figure is measured next to its baseline in this one run, interleaved round by round; the
script prints medians and ratios (this machine is noisy: compare ratios), and the load
average when it ends.

A child's start is given as wall time and as CPU time (user+system of the child, from
``getrusage``): on a loaded machine the wall time is mostly waiting for a CPU, the CPU time
is what the hook itself costs. The package is byte-compiled first, as ``pip install`` does
(an environment with ``PYTHONDONTWRITEBYTECODE`` would otherwise compile our modules from
source in every child, which an installed package never does).

    python bench/bench_processes.py            # a few minutes
    python bench/bench_processes.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import ocirace_writer

import pytest_ocirace
from pytest_ocirace.realdisk.bootstrap import environment
from pytest_ocirace.realdisk.client import LocalClient
from pytest_ocirace.realdisk.coordinator import Coordinator
from pytest_ocirace.realdisk.interpose import Interposition
from pytest_ocirace.realdisk.judge import Judge

DATA = b"x" * 4096

CHILD_LOOP = """
import os, sys, time
root, count = sys.argv[1], int(sys.argv[2])
data = b"x" * 4096
target = os.path.join(root, "target")
start, cpu = time.perf_counter(), time.process_time()
for i in range(count):
    tmp = os.path.join(root, f"tmp{i}")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)
print((time.perf_counter() - start) / count, (time.process_time() - cpu) / count)
"""

#: CPU seconds per operation of the child cases: the child's loop, plus (process mode) the
#: coordinator's threads in this process. Unlike wall time, not inflated by waiting for a
#: CPU on a loaded machine (every wake-up of the coordinator is such a wait).
CHILD_CPU: dict[str, list[float]] = {}


def write_replace(root: str, count: int) -> float:
    target = os.path.join(root, "target")
    start = time.perf_counter()
    for i in range(count):
        tmp = os.path.join(root, f"tmp{i}")  # one writer: the measured workload
        with open(tmp, "wb") as handle:
            handle.write(DATA)
        os.replace(tmp, target)  # noqa: ORC001, ORC002 - the plain write+replace measured
    return (time.perf_counter() - start) / count


def real_disk(count: int) -> float:
    root = tempfile.mkdtemp(prefix="bench-")
    try:
        return write_replace(root, count)
    finally:
        shutil.rmtree(root)


def process_mode_here(coordinator: Coordinator, count: int) -> float:
    """The test process itself in the process mode (interposed, coordinator in-process)."""
    root = tempfile.mkdtemp(prefix="bench-")
    coordinator.begin(Judge())
    interposition = Interposition(LocalClient(coordinator), [sys.prefix, sys.base_prefix])
    interposition.install()
    try:
        return write_replace(root, count)
    finally:
        interposition.remove()
        shutil.rmtree(root)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(count: int, env: dict[str, str] | None, name: str) -> float:
    """Wall seconds per operation in a child; its CPU per operation goes to ``CHILD_CPU``."""
    root = tempfile.mkdtemp(prefix="bench-")
    try:
        process_before, thread_before = _own_cpu(), time.thread_time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD_LOOP, root, str(count)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # This process's CPU meanwhile, but for this thread's: the coordinator's threads.
        served = (_own_cpu() - process_before) - (time.thread_time() - thread_before)
        wall, cpu = (float(x) for x in out.strip().splitlines()[-1].split())
        CHILD_CPU.setdefault(name, []).append(cpu + max(0.0, served) / count)
        return wall
    finally:
        shutil.rmtree(root)


def fake_filesystem(count: int) -> float:
    from pytest_ocirace.fakefs.filesystem import simulate
    from pytest_ocirace.racemodel.clocks import Tracker
    from pytest_ocirace.racemodel.model import RaceModel
    from pytest_ocirace.winrules.options import SimulationOptions

    with simulate(SimulationOptions()) as simulation:
        simulation.observer = RaceModel(Tracker())
        os.makedirs("C:\\bench", exist_ok=True)
        return write_replace("C:\\bench", count)


def start_time(env: dict[str, str] | None, code: str = "pass") -> tuple[float, float]:
    """A child's start: (wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


THREADS, PER_THREAD = 8, 50


def thread_heavy(root: str) -> float:
    """Eight threads, each publishing onto its own name under one shared lock, then joined."""
    lock = threading.Lock()  # made here: tracked when the instrumentation is on
    data = b"x" * 4096

    def work(index: int) -> None:
        for i in range(PER_THREAD):
            tmp = os.path.join(root, f"t{index}-{i}")  # noqa: ORC002 - one writer per name
            with open(tmp, "wb") as handle:
                handle.write(data)
            with lock:
                os.replace(tmp, os.path.join(root, f"target{index}"))  # noqa: ORC001

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def threads_plain() -> float:
    root = tempfile.mkdtemp(prefix="bench-")
    try:
        return thread_heavy(root)
    finally:
        shutil.rmtree(root)


def threads_tracked(coordinator: Coordinator) -> float:
    root = tempfile.mkdtemp(prefix="bench-")
    coordinator.begin(Judge())
    interposition = Interposition(LocalClient(coordinator), [sys.prefix, sys.base_prefix])
    interposition.install()
    try:
        return thread_heavy(root)
    finally:
        interposition.remove()
        shutil.rmtree(root)


PROCESSES, PER_PROCESS = 4, 50


def process_heavy(env: dict[str, str]) -> float:
    """Four Python children at once, each publishing 50 times onto its own name."""
    root = tempfile.mkdtemp(prefix="bench-")
    try:
        start = time.perf_counter()
        children = []
        for n in range(PROCESSES):
            folder = os.path.join(root, str(n))
            os.mkdir(folder)
            children.append(
                subprocess.Popen(
                    [sys.executable, "-c", CHILD_LOOP, folder, str(PER_PROCESS)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
            )
        for child_process in children:
            if child_process.wait() != 0:
                raise RuntimeError("a benchmark child failed")
        return time.perf_counter() - start
    finally:
        shutil.rmtree(root)


def medians(rounds: int, cases: dict[str, Callable[[], float]]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            samples[name].append(case())
    return {name: statistics.median(values) for name, values in samples.items()}


def start_medians(
    rounds: int, cases: dict[str, tuple[dict[str, str], str]]
) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (env, code) in cases.items():
            samples[name].append(start_time(env, code))
    return {
        name: (statistics.median(w for w, _ in found), statistics.median(c for _, c in found))
        for name, found in samples.items()
    }


def byte_compile() -> None:
    """Our modules as an installed package has them: compiled once (``pip install`` does)."""
    for package in (pytest_ocirace, ocirace_writer):
        folder = os.path.dirname(os.path.abspath(str(package.__file__)))
        compileall.compile_dir(folder, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, count, starts, heavy = (3, 200, 7, 3) if args.quick else (7, 1000, 21, 7)
    byte_compile()
    coordinator = Coordinator()
    exclude = [sys.prefix, sys.base_prefix]
    joined = {**os.environ, **environment(coordinator.path, coordinator.secret_hex, exclude)}
    bare = {k: v for k, v in os.environ.items() if not k.startswith("OCIRACE_")}
    try:
        ops = medians(
            rounds,
            {
                "real disk": lambda: real_disk(count),
                "process mode (test process)": lambda: process_mode_here(coordinator, count),
                "real disk (child)": lambda: child(count, bare, "real disk (child)"),
                "process mode (child)": lambda: child(count, joined, "process mode (child)"),
                "fake filesystem": lambda: fake_filesystem(count),
            },
        )
        coordinator.begin(Judge())
        start = start_medians(
            starts,
            {
                "bare, pass": (bare, "pass"),
                "with hook, pass": (joined, "pass"),
                "bare, import threading": (bare, "import threading"),
                "with hook, import threading": (joined, "import threading"),
            },
        )
        unset = start_medians(starts, {"hook installed, variable unset": (bare, "pass")})
        busy = medians(
            heavy,
            {
                "threads, untracked": threads_plain,
                "threads, tracked": lambda: threads_tracked(coordinator),
                "processes, untracked": lambda: process_heavy(bare),
                "processes, tracked": lambda: process_heavy(joined),
            },
        )
    finally:
        coordinator.close()
    print(f"per write(4 KiB)+replace, median of {rounds} rounds of {count}:")
    for name, base in (
        ("process mode (test process)", "real disk"),
        ("fake filesystem", "real disk"),
        ("process mode (child)", "real disk (child)"),
    ):
        print(
            f"  {name:30} {ops[name] * 1e6:8.1f} us   vs {base} {ops[base] * 1e6:7.1f} us: "
            f"{ops[name] / ops[base]:.2f}x"
        )
    mode_cpu = statistics.median(CHILD_CPU["process mode (child)"])
    real_cpu = statistics.median(CHILD_CPU["real disk (child)"])
    print(
        f"  {'same, CPU (child + coordinator)':30} {mode_cpu * 1e6:8.1f} us   vs real disk (child) "
        f"{real_cpu * 1e6:7.1f} us: {mode_cpu / real_cpu:.2f}x"
    )
    print(f"child start, median of {starts} (wall / CPU of the child):")
    for program in ("pass", "import threading"):
        (bw, bc), (hw, hc) = start[f"bare, {program}"], start[f"with hook, {program}"]
        print(
            f"  python -c {program!r:18} bare {bw * 1e3:6.1f} / {bc * 1e3:5.1f} ms, with hook "
            f"{hw * 1e3:6.1f} / {hc * 1e3:5.1f} ms: wall +{(hw - bw) * 1e3:.1f} ms "
            f"({hw / bw:.2f}x), CPU +{(hc - bc) * 1e3:.1f} ms ({hc / bc:.2f}x)"
        )
    quiet_wall, quiet_cpu = unset["hook installed, variable unset"]
    print(f"  hook installed, variable unset: {quiet_wall * 1e3:.1f} / {quiet_cpu * 1e3:.1f} ms")
    print(f"busy workloads, median of {heavy} rounds:")
    for kind, what in (
        ("threads", f"{THREADS} threads x {PER_THREAD} write+replace, one lock (test process)"),
        ("processes", f"{PROCESSES} children x {PER_PROCESS} write+replace, at once"),
    ):
        plain, tracked = busy[f"{kind}, untracked"], busy[f"{kind}, tracked"]
        print(
            f"  {what}: {tracked * 1e3:.0f} ms tracked vs {plain * 1e3:.0f} ms: "
            f"{tracked / plain:.2f}x"
        )
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
