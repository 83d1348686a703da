"""What the process mode costs: per operation, and per child start (docs/performance.md).

Claims (issue 9): one write+replace in the process mode costs at most 3x the real disk
(the fake filesystem costs about 14x); a child joining through the ``.pth`` hook starts at
most 30 ms or 1.5x (whichever is larger) slower than a bare interpreter. Every figure is
measured next to its baseline in this one run, interleaved round by round; the script
prints medians and ratios (this machine is noisy: compare ratios).

    python bench/bench_processes.py            # about a minute
    python bench/bench_processes.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

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
start = time.perf_counter()
for i in range(count):
    tmp = os.path.join(root, f"tmp{i}")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)
print((time.perf_counter() - start) / count)
"""


def write_replace(root: str, count: int) -> float:
    target = os.path.join(root, "target")
    start = time.perf_counter()
    for i in range(count):
        tmp = os.path.join(root, f"tmp{i}")  # noqa: ORC002 - one writer: the measured workload
        with open(tmp, "wb") as handle:
            handle.write(DATA)
        os.replace(tmp, target)  # noqa: ORC001 - the plain write+replace being measured
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


def child(count: int, env: dict[str, str] | None) -> float:
    root = tempfile.mkdtemp(prefix="bench-")
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD_LOOP, root, str(count)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return float(out.strip().splitlines()[-1])
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


def start_time(env: dict[str, str] | None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def medians(rounds: int, cases: dict[str, Callable[[], float]]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            samples[name].append(case())
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, count, starts = (3, 200, 5) if args.quick else (7, 1000, 21)
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
                "real disk (child)": lambda: child(count, bare),
                "process mode (child)": lambda: child(count, joined),
                "fake filesystem": lambda: fake_filesystem(count),
            },
        )
        coordinator.begin(Judge())
        start = medians(
            starts,
            {"bare interpreter": lambda: start_time(bare), "with hook": lambda: start_time(joined)},
        )
        unset = medians(starts, {"hook installed, variable unset": lambda: start_time(bare)})
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
    print(f"child start (python -c pass), median of {starts}:")
    extra = (start["with hook"] - start["bare interpreter"]) * 1e3
    print(
        f"  bare {start['bare interpreter'] * 1e3:.1f} ms, with hook "
        f"{start['with hook'] * 1e3:.1f} ms: +{extra:.1f} ms, "
        f"{start['with hook'] / start['bare interpreter']:.2f}x"
    )
    quiet = unset["hook installed, variable unset"] * 1e3
    print(f"  hook installed, variable unset: {quiet:.1f} ms")


if __name__ == "__main__":
    main()
