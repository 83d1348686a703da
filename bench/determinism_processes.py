"""Determinism of the process mode: the same verdict in every run, also on a loaded machine.

Issue 9's proof: the project's own cross-process scenarios (tests/plugins/test_processes.py
and tests/realdisk: each start method, pools, subprocesses, queues, file locks, threads of
the test process and of a child, and the go-containerregistry example with one process per
layer) are run ``--runs`` times, each run one pytest session, while ``--hogs`` busy-loop
processes compete for the CPUs (what turned the test-process thread race into a flake). A
``racy`` scenario must fail and an ``ordered`` one pass in every run; the script prints, per
scenario, how many runs gave the expected verdict, and exits 1 if any did not. Not part of
the test suite: 20 sessions take minutes. The hogs are this script's own children, killed
by pid at the end.

    python bench/determinism_processes.py --runs 20 --hogs 0
    python bench/determinism_processes.py --runs 20 --hogs 3
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.plugins.test_processes import EDGES, HELPERS, LOCKS, RULES, START_METHODS  # noqa: E402
from tests.realdisk.test_edges import EDGES as PROCESS_ENDS  # noqa: E402
from tests.realdisk.test_threads import RACY  # noqa: E402

#: The example's two tests: the port races, the fixed writer does not.
EXAMPLE = {
    "test_oci_layout_processes.py::test_write_image_one_process_per_layer": "FAILED",
    "test_oci_layout_processes.py::test_write_image_fixed_one_process_per_layer": "PASSED",
}

_LINE = re.compile(r"^(PASSED|FAILED|ERROR) (\S+?\.py::\S+)")


def write_scenarios(folder: Path) -> None:
    (folder / "test_scenarios.py").write_text(HELPERS + START_METHODS + EDGES + RULES + LOCKS)
    (folder / "test_thread_scenarios.py").write_text(HELPERS + RACY)
    (folder / "test_process_end_scenarios.py").write_text(HELPERS + PROCESS_ENDS)
    examples = ROOT / "examples"
    for name in ("oci_layout.py", "oci_layout_processes.py", "test_oci_layout_processes.py"):
        shutil.copy(examples / name, folder / name)


def expected(test: str) -> str:
    if test in EXAMPLE:
        return EXAMPLE[test]
    return "FAILED" if test.split("::", 1)[1].startswith("test_racy") else "PASSED"


def one_run(folder: Path) -> tuple[dict[str, str], str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-p", "no:xdist", "-rA", "-q", str(folder)],
        capture_output=True, text=True, cwd=folder, check=False, timeout=900,
    )  # fmt: skip
    found = {}
    for line in result.stdout.splitlines():
        match = _LINE.match(line)
        if match:
            found[match.group(2).split("/")[-1]] = match.group(1)
    if not found:
        raise SystemExit(f"no verdicts in a run:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return found, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--hogs", type=int, default=0, help="busy-loop processes meanwhile")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the hogs die with the script
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    good: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    loads = []
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ocirace-determinism-") as tmp:
            folder = Path(tmp)
            write_scenarios(folder)
            for number in range(1, args.runs + 1):
                verdicts, output = one_run(folder)
                loads.append(os.getloadavg()[0])
                wrong = [t for t, v in verdicts.items() if v != expected(t)]
                if wrong:  # the whole session's output, to see why (not in the table)
                    kept = Path(tempfile.gettempdir()) / f"ocirace-determinism-run{number}.txt"
                    kept.write_text(output)
                    print(f"run {number}: output kept in {kept}", flush=True)
                for test, verdict in verdicts.items():
                    seen[test] += 1
                    good[test] += verdict == expected(test)
                print(
                    f"run {number}/{args.runs}: {len(verdicts)} scenarios, "
                    f"{len(wrong)} unexpected {wrong if wrong else ''} "
                    f"(load {loads[-1]:.1f})",
                    flush=True,
                )
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(
        f"\n{args.runs} runs with {args.hogs} CPU hogs, {time.monotonic() - start:.0f} s, "
        f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}:"
    )
    failing = 0
    for test in sorted(seen):
        mark = "" if good[test] == args.runs == seen[test] else "   <-- not deterministic"
        failing += bool(mark)
        print(f"  {good[test]:2}/{args.runs}  expected {expected(test):6}  {test}{mark}")
    total = sum(good.values())
    print(f"{total}/{sum(seen.values())} verdicts as expected; {failing} scenario(s) wavered")
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
