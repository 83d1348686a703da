"""Real suites plain, under ``--ocirace`` of another checkout, and under this one, interleaved.

On a machine shared with other jobs, one plain run against one ``--ocirace`` run (what
``bench_suites.py`` does) moves with the load by a factor of two. This runs, round by
round, the same command in the same venv three ways: plain, ``--ocirace`` with a baseline
checkout first on ``PYTHONPATH`` (e.g. ``git worktree add --detach /tmp/base main``), and
``--ocirace`` with this checkout (the venv's editable install), and prints the minimum wall
time and CPU time (user + sys of the run and its children) of each, with ratios to plain.

It reuses what ``bench_suites.py`` prepared: run that once first with the same
``--workdir`` (it writes each project's command line and venv there).

    python bench/compare_suites.py --baseline /tmp/base --only safer --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.realworld.runner import byte_compile, prepared_run, recorded_command, recorded_python

VARIANTS = (("plain", "plain", False), ("baseline", "ocirace", True), ("this", "ocirace", False))


def _run(command: list[str], cwd: Path, baseline: Path | None) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONPATH", None)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summary = [line for line in proc.stdout.splitlines() if line.startswith("=") and " in " in line]
    return wall, cpu, summary[-1].strip("= ") if summary else f"exit {proc.returncode}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--only", action="append", required=True, metavar="NAME")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "ocirace-bench")
    args = parser.parse_args(argv)
    workdir = args.workdir.expanduser().resolve()
    baseline = args.baseline.resolve()
    if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
        print(f"compare_suites: {baseline} is not a pytest-ocirace checkout", file=sys.stderr)
        return 2
    for name in args.only:
        prepared = prepared_run(workdir, name, "compare_suites")
        if prepared is None:
            return 2
        runs, source = prepared
        byte_compile(recorded_python(runs), baseline)
        times: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in VARIANTS}
        for _ in range(args.rounds):
            for label, run, with_baseline in VARIANTS:
                command = recorded_command(runs, run, runs / f"tmp-{label}")
                wall, cpu, summary = _run(command, source, baseline if with_baseline else None)
                times[label].append((wall, cpu))
                load = os.getloadavg()[0]
                print(
                    f"{name:14} {label:8} {wall:7.2f} s  cpu {cpu:6.2f} s  load {load:5.1f}  "
                    + summary
                )
        plain_wall = min(w for w, _ in times["plain"])
        plain_cpu = min(c for _, c in times["plain"])
        for label, values in times.items():
            wall = min(w for w, _ in values)
            cpu = min(c for _, c in values)
            print(
                f"{name:14} {label:8} min {wall:7.2f} s ({wall / plain_wall:.2f}x)  "
                f"cpu {cpu:6.2f} s ({cpu / plain_cpu:.2f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
