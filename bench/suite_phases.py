"""CPU per phase of a real suite: plain, ``--ocirace`` of a baseline checkout, and this one.

Where a suite's ``--ocirace`` time goes (docs/performance.md, "Failing tests and small
suites"): setup, call, teardown, the making of reports, and the cyclic garbage collector,
each summed over the suite in CPU seconds, for the tests that failed and the others; and
the whole process. Wall times on a shared machine move by 2x; CPU per phase moves less.
A plugin (``bench/phases/ocirace_bench_phases.py``) measures inside the run; it
implements no report hook, so the plugin's report pauses stay as they are.

It reuses what ``bench_suites.py`` prepared: run that once first with the same
``--workdir``.

    python bench/suite_phases.py --only minimalkv --baseline /tmp/base --rounds 2
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.realworld.runner import (
    byte_compile,
    measured_run,
    prepared_run,
    recorded_command,
    recorded_python,
)

HERE = Path(__file__).resolve().parent
COLUMNS = ("setup", "call", "teardown", "report", "collector", "protocol")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", required=True, metavar="NAME")
    parser.add_argument("--baseline", type=Path, help="another checkout (optional)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "ocirace-bench")
    args = parser.parse_args(argv)
    workdir = args.workdir.expanduser().resolve()
    variants: list[tuple[str, str, list[Path]]] = [("plain", "plain", [HERE / "phases"])]
    if args.baseline is not None:
        baseline = args.baseline.resolve()
        if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
            print(f"suite_phases: {baseline} is not a pytest-ocirace checkout", file=sys.stderr)
            return 2
        variants.append(("baseline", "ocirace", [baseline, HERE / "phases"]))
    variants.append(("this", "ocirace", [HERE / "phases"]))
    for name in args.only:
        prepared = prepared_run(workdir, name, "suite_phases")
        if prepared is None:
            return 2
        runs, source = prepared
        if args.baseline is not None:
            byte_compile(recorded_python(runs), args.baseline.resolve())
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            for label, run, pythonpath in variants:
                command = recorded_command(runs, run, runs / f"tmp-{label}")
                command += ["-p", "ocirace_bench_phases"]
                result = measured_run(
                    command, source, pythonpath, "OCIRACE_BENCH_PHASES", "suite_phases"
                )
                if label not in best or result["process"] < best[label]["process"]:
                    best[label] = result
        load = os.getloadavg()[0]
        print(f"{name}: CPU s, the least of {args.rounds} round(s) by process CPU, load {load:.1f}")
        print(f"  {'':9} {'tests':>13} " + " ".join(f"{c:>9}" for c in COLUMNS) + "   process")
        for label, result in best.items():
            for kind in ("other", "failing"):
                tests = int(result.get(f"{kind} tests", 0))
                if not tests:
                    continue
                cells = " ".join(f"{result.get(f'{kind} {c}', 0.0):9.2f}" for c in COLUMNS)
                tail = f"   {result['process']:7.2f}" if kind == "other" else ""
                print(f"  {label:9} {tests:6} {kind:>6} {cells}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
