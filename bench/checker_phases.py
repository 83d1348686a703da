"""Where one cold ``ocirace check`` spends its CPU, phase by phase, measured in its own process.

    python bench/checker_phases.py FILE_LIST [--rounds N]

Runs the command's own code path (``cli.main`` with ``--no-cache --jobs 1``, ending as the
command does) over the files named in FILE_LIST (one path a line), with the entry points
of each phase wrapped in ``time.process_time`` accounting. The accounting is exclusive: a
phase called from inside another counts for itself only, so the phases add up to the run.
Each round is a fresh process; the medians over rounds are printed.

The project index's own work (the caller search over the texts, reading a module's
exports, the files it reads and hashes, its text tests) is summed as "index", so its share
of the run is a measurement within one process, not a difference of two noisy runs. What
it cannot see: memory the index keeps alive costs page faults and cache misses in every
other phase (the engine runs of ``bench_checker.py --index-only`` include them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

#: (module, attribute path, phase); the index's own phases start with "index:".
WRAPPED = (
    ("ast", "parse", "parse (ast.parse)"),
    ("ocirace_checker.names", "NameIndex._build", "names: the one walk"),
    ("ocirace_checker.analysis", "ModuleAnalysis._derive", "analysis: publish calls, digests"),
    ("ocirace_checker.lint", "_lint", "rules"),
    ("ocirace_checker.decoding", "decode_source", "read and decode"),
    ("ocirace_checker.prefilter", "might_match", "text pre-filter"),
    ("ocirace_checker.worker", "_examine", "engine: per file"),
    ("ocirace_checker.engine", "_run", "engine: the run"),
    ("ocirace_checker.cli", "main", "command line, output"),
    ("ocirace_checker.demand", "DemandIndex.callers_of", "index: caller search"),
    ("ocirace_checker.demand", "DemandIndex._text", "index: files read"),
    ("ocirace_checker.demand", "DemandIndex._entry", "index: facts"),
    ("ocirace_checker.demand", "DemandIndex.before_lint", "index: exports before a lint"),
    ("ocirace_checker.demand", "DemandIndex.analysis_of", "index: callers analysed"),
    ("ocirace_checker.demand", "DemandIndex.deps_of", "index: what results rest on"),
    ("ocirace_checker.demand", "DemandIndex.summary_of_module", "index: module lookups"),
    # The worker hashes every file it reads too: only the index's own hashing is its work.
    ("ocirace_checker.demand", "content_digest", "index: content digests (within the index)"),
    ("ocirace_checker.project_index", "may_export", "index: export test"),
    ("ocirace_checker.project_index", "_from_analysis", "index: summaries"),
)

CHILD = r"""
import importlib, json, os, sys, time
start = time.process_time()
accounts, counts, stack, names = {}, {}, [], []
pt = time.process_time

def wrap(owner, attribute, phase):
    original = getattr(owner, attribute)
    # A phase "(within the index)" is its own only when an index phase called it; called
    # from anywhere else its time stays with the caller's phase.
    within = phase.endswith("(within the index)")

    def accounted(*args, **kwargs):
        if within and not (names and names[-1].startswith("index:")):
            return original(*args, **kwargs)
        begin = pt()
        stack.append(0.0)
        names.append(phase)
        try:
            return original(*args, **kwargs)
        finally:
            spent = pt() - begin
            inner = stack.pop()
            names.pop()
            accounts[phase] = accounts.get(phase, 0.0) + spent - inner
            counts[phase] = counts.get(phase, 0) + 1
            if stack:
                stack[-1] += spent

    setattr(owner, attribute, accounted)

import ocirace_checker.cli as cli  # the imports of a run, before anything is wrapped
import ocirace_checker.analysis, ocirace_checker.demand, ocirace_checker.rules
imported = pt()
for module, path, phase in json.loads(sys.argv[1]):
    owner = importlib.import_module(module)
    *outer, attribute = path.split(".")
    try:
        for name in outer:
            owner = getattr(owner, name)
        wrap(owner, attribute, phase)
    except AttributeError:
        pass  # an older checker (a baseline) without this entry point
names = [n for n in open(sys.argv[2], encoding="utf-8").read().split("\n") if n]
arguments = ["check", "--no-cache", "--jobs", "1", "--exit-zero", "-q", "--format", "concise"]
cli.main([*arguments, *names], process_ends=True)
sys.stdout.flush()
accounts["start-up: imports"] = imported - start
total = pt()
sys.stderr.write(json.dumps({"phases": accounts, "counts": counts, "total": total}) + "\n")
sys.stderr.flush()
os._exit(0)
"""


def one_round(listing: str) -> tuple[dict[str, float], float, float]:
    """(exclusive seconds by phase, in-process total, child CPU seconds) of one process."""
    before = os.times()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(WRAPPED), listing],
        capture_output=True,
        text=True,
        check=True,
    )
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["phases"], report["total"], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("listing", help="a file naming the files to check, one a line")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    phases: dict[str, list[float]] = {}
    totals: list[float] = []
    cpus: list[float] = []
    shares: list[float] = []
    for _ in range(args.rounds):
        accounts, total, cpu = one_round(args.listing)
        for phase, seconds in accounts.items():
            phases.setdefault(phase, []).append(seconds)
        totals.append(total)
        cpus.append(cpu)
        shares.append(sum(s for p, s in accounts.items() if p.startswith("index:")) / cpu)
    print(f"## One cold run, phase by phase: median of {args.rounds} processes (s CPU)")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    for phase in sorted(phases, key=lambda p: -statistics.median(phases[p])):
        print(f"{statistics.median(phases[phase]):7.3f}  {phase}")
    median_cpu = statistics.median(cpus)
    print(f"{statistics.median(totals):7.3f}  in the process (sum of the phases and the rest)")
    print(f"{median_cpu:7.3f}  the process, with interpreter start-up and exit (child CPU)")
    index = sum(statistics.median(v) for p, v in phases.items() if p.startswith("index:"))
    print(
        f"index's own work: {index:.3f} s, {100 * index / median_cpu:.1f} % of the run "
        f"(by round: {min(shares) * 100:.1f}-{max(shares) * 100:.1f} %)"
    )


if __name__ == "__main__":
    main()
