"""CPU of each piece of a real suite's simulated tests: plain, a baseline checkout, this one.

Where ``bench/suite_phases.py`` says which phase costs, this says which piece: pyfakefs'
patcher steps, the simulation's start and end, the race model's set-up, every fixture's
set-up by name and the garbage collector, in ms per test (inclusive: a piece that calls
another counts it too). A plugin (``bench/phases/ocirace_bench_pieces.py``) measures inside
the run. It reuses what ``bench_suites.py`` prepared: run that once first with the same
``--workdir``.

    python bench/suite_pieces.py --only minimalkv --baseline /tmp/base --rounds 2
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", required=True, metavar="NAME")
    parser.add_argument("--baseline", type=Path, help="another checkout (optional)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--least", type=float, default=0.02, help="hide pieces under this ms")
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "ocirace-bench")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain run")
    args = parser.parse_args(argv)
    workdir = args.workdir.expanduser().resolve()
    variants: list[tuple[str, str, list[Path]]] = []
    if not args.no_plain:
        variants.append(("plain", "plain", [HERE / "phases"]))
    if args.baseline is not None:
        baseline = args.baseline.resolve()
        if not (baseline / "pytest_ocirace" / "__init__.py").is_file():
            print(f"suite_pieces: {baseline} is not a pytest-ocirace checkout", file=sys.stderr)
            return 2
        variants.append(("baseline", "ocirace", [baseline, HERE / "phases"]))
    variants.append(("this", "ocirace", [HERE / "phases"]))
    for name in args.only:
        prepared = prepared_run(workdir, name, "suite_pieces")
        if prepared is None:
            return 2
        runs, source = prepared
        if args.baseline is not None:
            byte_compile(recorded_python(runs), args.baseline.resolve())
        best: dict[str, dict[str, dict[str, float]]] = {}
        for _ in range(args.rounds):
            for label, run, pythonpath in variants:
                command = recorded_command(runs, run, runs / f"tmp-{label}")
                command += ["-p", "ocirace_bench_pieces"]
                result = measured_run(
                    command, source, pythonpath, "OCIRACE_BENCH_PIECES", "suite_pieces"
                )
                spent = result["total"]["process"]
                if label not in best or spent < best[label]["total"]["process"]:
                    best[label] = result
        load = os.getloadavg()[0]
        labels = list(best)
        tests = {label: max(1, int(best[label]["calls"].get("protocol", 1))) for label in labels}
        print(f"{name}: ms CPU per test, the least of {args.rounds} round(s), load {load:.1f}")
        print("  tests: " + ", ".join(f"{label} {tests[label]}" for label in labels))
        spent = (f"{label} {best[label]['total']['process']:.2f}" for label in labels)
        print("  process s: " + ", ".join(spent))
        keys = sorted({k for label in labels for k in best[label]["total"] if k != "process"})
        rows = []
        for key in keys:
            cells = [best[label]["total"].get(key, 0.0) * 1000 / tests[label] for label in labels]
            if max(cells) < args.least:
                continue
            calls = [best[label]["calls"].get(key, 0) / tests[label] for label in labels]
            rows.append((max(cells), key, cells, calls))
        rows.sort(reverse=True)
        print(f"  {'piece':60} " + " ".join(f"{label:>9}" for label in labels) + "   calls/test")
        for _, key, cells, calls in rows:
            print(
                f"  {key[:60]:60} "
                + " ".join(f"{c:9.3f}" for c in cells)
                + "   "
                + " ".join(f"{c:.1f}" for c in calls)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
