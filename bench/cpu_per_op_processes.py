"""CPU per write+replace in a joined child, this checkout against another commit, alternated.

Each round runs, in a fresh interpreter each, the baseline commit's package (``git archive``
of ``--baseline-ref`` on ``PYTHONPATH``) and this checkout's: a coordinator in that
interpreter, one joined child doing ``--count`` write(4 KiB)+``os.replace`` on tmpfs
(``/dev/shm``, so that the disk's noise is out), and the same child unjoined. Printed per
side: the child's CPU per operation (``process_time``), the coordinator threads' CPU per
operation (this interpreter's CPU but its main thread's), the child's wall time, and the
unjoined child's wall time; medians over the rounds, with the load average.

    .venv/bin/python bench/cpu_per_op_processes.py --baseline-ref main --rounds 7

``--instructions`` counts instructions instead (valgrind's callgrind, which must be
installed): for each side, the child's and the coordinator's process each run under
callgrind once with 100 and once with 400 operations, and the difference over 300 is the
cost of one write+replace in instructions. It does not depend on the machine's load (a
shared machine's CPU times swing by a third from one run to the next); it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

CHILD = """
import os, sys, time
root, count = sys.argv[1], int(sys.argv[2])
data = b"x" * 4096
target = os.path.join(root, "target")
cpu, wall = time.process_time(), time.perf_counter()
for i in range(count):
    tmp = os.path.join(root, f"tmp{i}")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)
print((time.process_time() - cpu) / count, (time.perf_counter() - wall) / count)
"""


def one_side(count: int, folder: str) -> None:
    """In the interpreter of one side: print child CPU, coordinator CPU, walls (seconds)."""
    from pytest_ocirace.realdisk.bootstrap import environment
    from pytest_ocirace.realdisk.coordinator import Coordinator

    coordinator = Coordinator()
    exclude = [sys.prefix, sys.base_prefix]
    joined = {**os.environ, **environment(coordinator.path, coordinator.secret_hex, exclude)}
    bare = {k: v for k, v in os.environ.items() if not k.startswith("OCIRACE_")}

    def run(env: dict[str, str]) -> tuple[float, float, float]:
        root = tempfile.mkdtemp(dir=folder)
        usage, thread = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, root, str(count)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        after = resource.getrusage(resource.RUSAGE_SELF)
        process = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        served = process - (time.thread_time() - thread)
        shutil.rmtree(root)
        cpu, wall = (float(x) for x in out.split())
        return cpu, max(0.0, served) / count, wall

    try:
        cpu, served, wall = run(joined)
        _, _, bare_wall = run(bare)
    finally:
        coordinator.close()
    print(cpu, served, wall, bare_wall)


#: The coordinator's side for ``--instructions``: a coordinator and one joined child whose
#: command line (after the child's program and its arguments) may start with valgrind.
HARNESS = """
import os, sys, subprocess, tempfile
from pytest_ocirace.realdisk.bootstrap import environment
from pytest_ocirace.realdisk.coordinator import Coordinator
coordinator = Coordinator()
exclude = [sys.prefix, sys.base_prefix]
env = {**os.environ, **environment(coordinator.path, coordinator.secret_hex, exclude)}
folder, count, wrapper = sys.argv[1], sys.argv[2], sys.argv[3:]
command = [*wrapper, sys.executable, "-c", CHILD, tempfile.mkdtemp(dir=folder), count]
out = subprocess.run(command, env=env, capture_output=True, text=True)
sys.stderr.write(out.stderr)
coordinator.close()
"""

_CALLGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def _instructions(side: str, count: int, folder: str, where: str) -> int:
    """Instructions of the child's or the coordinator's process for ``count`` operations."""
    harness = f"CHILD = {CHILD!r}\n{HARNESS}"
    wrapper = _CALLGRIND if where == "child" else []
    command = [sys.executable, "-c", harness, folder, str(count), *wrapper]
    if where == "coordinator":
        command = _CALLGRIND + command
    env = {**os.environ, "PYTHONPATH": side}
    # Not run from this checkout: ``python -c`` puts the working directory first on
    # ``sys.path``, and from the checkout's root the coordinator would be this checkout's
    # package whatever ``PYTHONPATH`` says (the baseline's coordinator was not measured).
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=folder)
    if "could not join" in out.stderr or "Traceback" in out.stderr:
        raise SystemExit(f"the child did not join or failed:\n{out.stderr[-2000:]}")
    found = re.findall(r"Collected : (\d+)", out.stderr)
    if not found:
        raise SystemExit(f"no instruction count from valgrind:\n{out.stderr[-2000:]}")
    return int(found[-1])


def instructions(sides: dict[str, str], folder: str) -> None:
    print("instructions per write(4 KiB)+replace in a joined child (callgrind, 400 - 100 ops):")
    for name, path in sides.items():
        per_op = {}
        for where in ("child", "coordinator"):
            low = _instructions(path, 100, folder, where)
            high = _instructions(path, 400, folder, where)
            per_op[where] = (high - low) / 300
        total = per_op["child"] + per_op["coordinator"]
        print(
            f"  {name:24} child {per_op['child'] / 1e3:6.1f} k + coordinator "
            f"{per_op['coordinator'] / 1e3:6.1f} k = {total / 1e3:6.1f} k instructions"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--folder", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--instructions", action="store_true", help="count (valgrind)")
    parser.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        one_side(args.count, args.folder)
        return
    baseline = tempfile.mkdtemp(prefix="ocirace-baseline-")
    try:
        archive = subprocess.run(
            ["git", "-C", str(HERE), "archive", args.baseline_ref, "pytest_ocirace"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", baseline], input=archive, check=True)
        for root in (baseline, str(HERE)):  # byte-compiled, as pip install does
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", f"{root}/pytest_ocirace"], check=True
            )
        sides = {f"{args.baseline_ref} (baseline)": baseline, "this checkout": str(HERE)}
        if args.instructions:
            instructions(sides, args.folder or tempfile.gettempdir())
            return
        results: dict[str, list[list[float]]] = {name: [] for name in sides}
        loads = []
        for _ in range(args.rounds):
            for name, path in sides.items():
                env = {**os.environ, "PYTHONPATH": path}
                command = [sys.executable, __file__, "--side", "--count", str(args.count)]
                if args.folder:
                    command += ["--folder", args.folder]
                out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                results[name].append([float(x) for x in out.stdout.split()])
                loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(baseline, ignore_errors=True)
    print(f"per write(4 KiB)+replace in a joined child, medians of {args.rounds} rounds:")
    for name, rows in results.items():
        cpu, served, wall, bare = (statistics.median(column) for column in zip(*rows, strict=True))
        print(
            f"  {name:24} child CPU {cpu * 1e6:6.0f} us + coordinator {served * 1e6:6.0f} us "
            f"= {(cpu + served) * 1e6:6.0f} us; wall {wall * 1e6:6.0f} us "
            f"(unjoined {bare * 1e6:5.0f} us)"
        )
    print(f"load average (1 min) during the rounds: {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    main()
