"""What one uncontended filelock acquisition costs: real disk, pyfakefs alone, the simulation.

Claim (docs/performance.md, "Lock acquisitions at pyfakefs' floor (w/locks)"): one
acquisition and release of filelock 3.16.1's lock in a simulated test (``--ocirace``, the
race model on) costs about as much CPU as in pyfakefs alone (the ``fs`` fixture, its
default Linux mode), for every class filelock has:

- ``windows``: ``WindowsFileLock`` (filelock imported as on Windows,
  ``--ocirace-windows-import-modules=filelock``): ``os.open(O_RDWR|O_CREAT|O_TRUNC)``,
  ``msvcrt.locking(LK_NBLCK)``; released by ``LK_UNLCK``, ``os.close`` and a delete;
- ``unix``: ``UnixFileLock`` (filelock imported as on Linux): ``os.open``, ``os.fchmod``,
  ``fcntl.flock``; released by ``LOCK_UN`` and ``os.close``;
- ``soft``: ``SoftFileLock``: an ``O_CREAT|O_EXCL`` create, ``os.close`` and a delete.

Each measurement is a pytest run of a generated test in a child process: one thread, N
acquisitions, CPU time (``time.process_time``) around the loop only. The real disk and
pyfakefs alone have no Windows lock (``windows`` is compared with their ``unix``).
``--base DIR`` adds the simulation of another checkout (``git archive main | tar -x -C
DIR``), given to the child by ``PYTHONPATH``, run interleaved with this one round by round,
so the ratio of the two is measured under the same load. ``--profile`` prints a cProfile
of this checkout's simulated runs instead.

    python bench/bench_lock_acquisition.py --base /tmp/locks-base
    python bench/bench_lock_acquisition.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TEST_FILE = textwrap.dedent(
    """
    import cProfile
    import json
    import os
    import pstats
    import sys
    import time

    import filelock
    import pytest

    N = int(os.environ["LOCK_BENCH_N"])
    PROFILE = os.environ.get("LOCK_BENCH_PROFILE") == "1"
    LABEL = os.environ["LOCK_BENCH_LABEL"]


    def _classes():
        return {
            "windows": filelock.WindowsFileLock,
            "unix": filelock.UnixFileLock,
            "soft": filelock.SoftFileLock,
        }


    def _measure(kind, folder):
        lock = _classes()[kind](str(folder / "a.lock"))
        with lock:  # warm: imports, first creates
            pass
        profiler = cProfile.Profile() if PROFILE else None
        if profiler is not None:
            profiler.enable()
        cpu = time.process_time()
        for _ in range(N):
            with lock:
                pass
        cpu = time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.__stdout__)
            sys.__stdout__.write(f"=== profile {LABEL} {kind}\\n")
            lines = int(os.environ.get("LOCK_BENCH_LINES", "40"))
            stats.sort_stats("tottime").print_stats(lines)
            stats.sort_stats("cumulative").print_stats(lines)
            if os.environ.get("LOCK_BENCH_CALLERS"):
                stats.print_callers(os.environ["LOCK_BENCH_CALLERS"])
        record = {"label": LABEL, "kind": kind, "ms": cpu / N * 1000}
        sys.__stdout__.write("\\nLOCKBENCH " + json.dumps(record) + "\\n")
        sys.__stdout__.flush()


    @pytest.mark.parametrize("kind", os.environ["LOCK_BENCH_KINDS"].split(","))
    def test_plain(kind, tmp_path):
        _measure(kind, tmp_path)


    @pytest.mark.parametrize("kind", os.environ["LOCK_BENCH_KINDS"].split(","))
    def test_fs(kind, tmp_path, fs):
        fs.create_dir(str(tmp_path))
        _measure(kind, tmp_path)
    """
)

#: (label, test selected, kinds, pytest options) of one child run.
RUNS: list[tuple[str, str, str, list[str]]] = [
    ("real disk", "test_plain", "unix,soft", []),
    ("pyfakefs fs", "test_fs", "unix,soft", []),
    (
        "simulation",
        "test_plain",
        "windows,soft",
        [
            "--ocirace",
            "--ocirace-windows-import-modules=filelock",
            "--ocirace-windows-platform-modules=test_lockbench",
        ],
    ),
    ("simulation", "test_plain", "unix", ["--ocirace"]),
]


def child(
    folder: Path,
    run: tuple[str, str, str, list[str]],
    n: int,
    pythonpath: str | None,
    profile: bool,
) -> list[dict[str, object]]:
    label, test, kinds, options = run
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        LOCK_BENCH_N=str(n),
        LOCK_BENCH_KINDS=kinds,
        LOCK_BENCH_LABEL=label,
        LOCK_BENCH_PROFILE="1" if profile else "0",
    )
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        f"test_lockbench.py::{test}",
        *options,
    ]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if profile:
        sys.stdout.write(done.stdout)
    records = [
        json.loads(line.split(" ", 1)[1])
        for line in done.stdout.splitlines()
        if line.startswith("LOCKBENCH ")
    ]
    if done.returncode != 0 or not records:
        raise SystemExit(f"bench_lock_acquisition: {label} {kinds} failed:\n{done.stdout[-3000:]}")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for development")
    parser.add_argument("--base", help="another checkout's folder, given by PYTHONPATH")
    parser.add_argument("--profile", action="store_true", help="cProfile this checkout's runs")
    parser.add_argument("-n", type=int, help="acquisitions per run")
    args = parser.parse_args()
    n = args.n or (300 if args.quick else 2000)
    rounds = 1 if args.quick or args.profile else 3
    with tempfile.TemporaryDirectory(prefix="lockbench-") as name:
        folder = Path(name)
        (folder / "test_lockbench.py").write_text(TEST_FILE)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO)], check=False)
        if args.profile:
            for run in RUNS[2:]:
                child(folder, run, n, None, True)
            return
        checkouts: list[tuple[str, str | None]] = [("branch", str(REPO))]
        if args.base:
            checkouts.insert(0, ("base", str(Path(args.base).resolve())))
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):
            for run in RUNS:
                for name_, path in checkouts:
                    if not run[0].startswith("simulation") and name_ == "base":
                        continue
                    for record in child(folder, run, n, path, False):
                        label = str(record["label"])
                        if label == "simulation":
                            label = f"simulation ({name_})"
                        key = (label, str(record["kind"]))
                        results.setdefault(key, []).append(float(str(record["ms"])))
    print(
        f"load average {os.getloadavg()[0]:.1f}; {n} acquisitions per run, one thread;"
        f" ms CPU per acquisition, median of {rounds}"
    )
    labels = list(dict.fromkeys(label for label, _ in results))
    kinds = ["windows", "unix", "soft"]
    print(f"{'':24}" + "".join(f"{kind:>10}" for kind in kinds))
    for label in labels:
        cells = []
        for kind in kinds:
            values = results.get((label, kind))
            cells.append(f"{statistics.median(values):10.3f}" if values else f"{'-':>10}")
        print(f"{label:24}" + "".join(cells))
    fs = {k: statistics.median(v) for (label, k), v in results.items() if label == "pyfakefs fs"}
    for label in labels:
        if not label.startswith("simulation"):
            continue
        ratios = []
        for kind in kinds:
            values = results.get((label, kind))
            floor = fs.get("unix" if kind == "windows" else kind)
            if values and floor:
                ratios.append(f"{kind} {statistics.median(values) / floor:.2f}x")
        print(f"{label} / pyfakefs fs: " + ", ".join(ratios))
    if args.base:
        for kind in kinds:
            base = results.get(("simulation (base)", kind))
            branch = results.get(("simulation (branch)", kind))
            if base and branch:
                ratio = statistics.median(branch) / statistics.median(base)
                print(f"branch / base, {kind}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
