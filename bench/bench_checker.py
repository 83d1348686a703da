"""Checker speed, side by side with its baselines in one run (numbers for docs/performance.md).

Claims measured:

0. cold, one job, against ``ast.parse`` of the same files in the same run: on candidate-dense
   real code (the files of the labelled corpus, ``bench/checker_corpus``) and on the whole
   standard library (the analysis is ``ast``-only; the target is within 3x of the parse);
   and what the project index adds to that cold run: the engine with the index built on
   demand (what a run uses), with the full index built first (the reference), and with each
   file alone (target: the index under 20 %; ``--index-only`` runs just these; with
   ``--rounds N`` they take turns N times and the minimum, median and maximum of each, and
   the share round by round, are printed; with ``--baseline-ref REF`` another commit's
   checker takes its turns in the same rounds); the engine runs are also timed ending as
   the command does (nothing freed at exit). ``--phases N`` splits one cold run into its
   phases within the process (``checker_phases.py``): the index's own work measured
   directly, not as a difference of two runs;

1. cold: ``ocirace check`` is at least 30x faster than ``fixit lint`` running one rule of
   the same depth (a ``QualifiedNameProvider`` rule finding os.rename/os.replace/shutil.move),
   both on the same fixed subset of the standard library (every Nth file);
2. warm: a re-run answered entirely from the cache (libcst never imported) is within 2x of
   ``ruff check`` re-run with a warm cache, on the whole standard library; with
   ``--baseline-ref REF``, the same warm run against the checker of another commit,
   alternating in one run (and what reading and hashing every file would cost);
3. sweep (``--sweep``): the checker runs over the whole standard library and the installed
   site-packages without crashing; findings are counted per rule.

fixit is not a project dependency: install it in a separate virtualenv
(``python -m venv /tmp/fixit-venv && /tmp/fixit-venv/bin/pip install fixit``) and pass
``--fixit /tmp/fixit-venv/bin/fixit``, or put ``fixit`` on PATH.

Machines here are shared and noisy: compare the printed ratios, not absolute times. Wall
times are medians of several alternating runs; CPU times are user+sys of the child processes.

    .venv/bin/python bench/bench_checker.py                 # cold (subset) + warm
    .venv/bin/python bench/bench_checker.py --every 40      # quicker cold comparison
    .venv/bin/python bench/bench_checker.py --sweep         # + stdlib/site-packages counts
    .venv/bin/python bench/bench_checker.py --warm-only --baseline-ref main  # warm, before/after
    .venv/bin/python bench/bench_checker.py --index-only --rounds 7 --baseline-ref main
    .venv/bin/python bench/bench_checker.py --phases 5        # one cold run, phase by phase
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
OCIRACE = str(BIN / "ocirace")
RUFF = shutil.which("ruff", path=str(BIN)) or shutil.which("ruff")

# One fixit rule as deep as ours: it needs QualifiedNameProvider to resolve aliases.
FIXIT_RULE = """
import libcst as cst
from libcst.metadata import QualifiedNameProvider
from fixit import LintRule

TARGETS = {"os.rename", "os.replace", "os.renames", "shutil.move"}


class PublishCall(LintRule):
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def visit_Call(self, node: cst.Call) -> None:
        for name in self.get_metadata(QualifiedNameProvider, node, set()):
            if name.name in TARGETS:
                self.report(node, f"{name.name} publishes a file")
"""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # Measure what users get: bytecode cached after the first import (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run recompile the checker).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(
    command: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0, 1)
) -> tuple[float, float, int, str]:
    """(wall seconds, child CPU seconds, exit code, output) of one command."""
    wall, usage, code, output = measured(command, cwd, env, ok)
    return wall, usage.ru_utime + usage.ru_stime, code, output


def measured(
    command: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0, 1)
) -> tuple[float, resource.struct_rusage, int, str]:
    """(wall seconds, the process's own resource usage, exit code, output) of one command.

    ``os.wait4`` gives the usage of that one process (its CPU, its peak resident size,
    its page faults); ``RUSAGE_CHILDREN`` would give a maximum over every child so far.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if code not in ok:
        sys.exit(f"{command[0]} failed ({code}): {stderr[-2000:]}")
    return wall, usage, code, stdout + stderr


def copy_stdlib(destination: Path) -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(
        stdlib,
        destination,
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc", "*.so"),
        symlinks=True,
    )
    return sorted(p for p in destination.rglob("*.py") if p.is_file())


def make_subset(files: list[Path], root: Path, every: int, destination: Path) -> int:
    lines = 0
    for path in files[::every]:
        target = destination / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        lines += path.read_bytes().count(b"\n")
    return lines


def cold(args: argparse.Namespace, work: Path, files: list[Path], corpus: Path) -> None:
    subset = work / "subset"
    subset.mkdir()
    lines = make_subset(files, corpus, args.every, subset)
    count = len(list(subset.rglob("*.py")))
    env = environment()
    ours = [OCIRACE, "check", ".", "--no-cache", "--exit-zero", "--format", "concise"]
    wall, cpu, _, out = timed(ours, subset, env)
    found = sum(1 for line in out.splitlines() if ": ORC" in line)
    print(f"\n## Cold run: {count} stdlib files (every {args.every}th), {lines:,} lines")
    print(f"ocirace check --no-cache : {wall:7.2f} s wall  {cpu:7.2f} s CPU ({found} findings)")
    fixit = args.fixit or shutil.which("fixit")
    if fixit is None:
        print("fixit: not found (pass --fixit PATH); no ratio")
        return
    rules = work / "rules"
    rules.mkdir()
    (rules / "ocirace_bench_rule.py").write_text(FIXIT_RULE, encoding="utf-8")
    fixit_env = {**env, "PYTHONPATH": str(rules)}
    command = [fixit, "--rules", "ocirace_bench_rule:PublishCall", "lint", "."]
    # fixit exits with bit 1 for reports and bit 2 for files it could not parse.
    f_wall, f_cpu, _, f_out = timed(command, subset, fixit_env, ok=(0, 1, 2, 3))
    reported = f_out.count("PublishCall")
    print(
        f"fixit lint (1 QNP rule)  : {f_wall:7.2f} s wall  {f_cpu:7.2f} s CPU ({reported} reports)"
    )
    print(f"ratio fixit/ocirace      : {f_wall / wall:7.1f}x wall  {f_cpu / cpu:7.1f}x CPU")
    # The whole library, ours only (fixit needs ~500 s wall for it on this machine).
    wall_all, cpu_all, _, _ = timed(ours, corpus, env)
    print(f"ocirace, whole stdlib ({len(files)} files): {wall_all:.2f} s wall  {cpu_all:.2f} s CPU")


PARSE_ALL = (
    "import ast, sys, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "for name in open(sys.argv[1], encoding='utf-8').read().split('\\n'):\n"
    "    if name:\n"
    "        try:\n"
    "            ast.parse(open(name, 'rb').read())\n"
    "        except (SyntaxError, ValueError):\n"
    "            pass\n"
)

# The cold run through the engine (one job, no cache), with or without the project index:
# what the index adds to a run is the difference (the parse and walk are shared with the lint,
# so building the index alone would count work the lint no longer repeats). With a third
# argument "exit" the run ends as the command does (``process_ends``, then ``os._exit``):
# what the index kept is not freed object by object, which the library call must do.
ENGINE_RUN = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "from ocirace_checker.codes import RULES\n"
    "from ocirace_checker.engine import RunOptions, run\n"
    "names = [n for n in open(sys.argv[1], encoding='utf-8').read().split('\\n') if n]\n"
    "ends = sys.argv[3:] == ['exit']\n"
    "extra = {'process_ends': True} if ends else {}\n"
    "options = RunOptions(Path('.'), frozenset(RULES), jobs=1,\n"
    "                     project_index=sys.argv[2] != 'alone',\n"
    "                     full_index=sys.argv[2] == 'full', **extra)\n"
    "found = sum(len(r.findings) for r in run(names, options).files)\n"
    "print(found, 'findings', flush=True)\n"
    "if ends:\n"
    "    os._exit(0)\n"
)


def versus_parse(
    label: str,
    files: list[Path],
    cwd: Path,
    work: Path,
    rounds: int = 1,
    baseline: Path | None = None,
) -> None:
    """Cold ``ocirace check`` (one job, no cache) against ``ast.parse`` of the same files.

    Both are single processes started the same way, so the ratio includes start-up on both
    sides and is the honest "at the speed of a parse" comparison. With ``rounds`` > 1 the
    five runs take turns round by round and each keeps its minimum: one run of the engine
    alone moved by 0.7 s between identical runs on a quiet machine, which made a single
    round's index share anything from 0 % to 35 %. With ``baseline`` (a directory holding
    another commit's ``ocirace_checker``) its four runs take turns with these in every
    round; it runs as ``python -m ocirace_checker`` (its own entry point).
    """
    env = environment()
    listing = work / f"{label}-files.txt"
    listing.write_text("\n".join(str(f) for f in files), encoding="utf-8")
    arguments = ["--no-cache", "--jobs", "1", "--exit-zero", "-q", "--format", "concise"]
    arguments += map(str, files)
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "ours": ([OCIRACE, "check", *arguments], env),
        "parse": ([sys.executable, "-c", PARSE_ALL, str(listing)], env),
        "index": ([sys.executable, "-c", ENGINE_RUN, str(listing), "index"], env),
        "full": ([sys.executable, "-c", ENGINE_RUN, str(listing), "full"], env),
        "alone": ([sys.executable, "-c", ENGINE_RUN, str(listing), "alone"], env),
    }
    for key in ("index", "alone"):
        commands[key + " exit"] = ([*commands[key][0], "exit"], env)
    if baseline is not None:
        before = {**env, "PYTHONPATH": str(baseline)}
        keys = ["ours", "index", "full", "alone"]
        if _knows_process_ends(baseline):
            keys += ["index exit", "alone exit"]
        for key in keys:
            command = commands[key][0]
            if key == "ours":
                command = [sys.executable, "-m", "ocirace_checker", *arguments]
            commands["before " + key] = (command, before)
    # The third measure, in the same rounds: the index's own code timed inside one run of
    # the command (checker_phases.py), for this checkout and the baseline.
    from checker_phases import CHILD, WRAPPED

    phases_command = [sys.executable, "-c", CHILD, json.dumps(WRAPPED), str(listing)]
    commands["phases"] = (phases_command, env)
    if baseline is not None:
        commands["before phases"] = (phases_command, {**env, "PYTHONPATH": str(baseline)})
    samples: dict[str, list[float]] = {key: [] for key in commands}
    usages: dict[str, list[resource.struct_rusage]] = {key: [] for key in commands}
    output: dict[str, str] = {}
    loads: list[float] = []
    print(f"\nuptime before: {_uptime()}")
    for _ in range(max(rounds, 1)):
        loads.append(os.getloadavg()[0])
        for key, (command, command_env) in commands.items():
            _, usage, _, out = measured(command, cwd, command_env)
            samples[key].append(usage.ru_utime + usage.ru_stime)
            usages[key].append(usage)
            output[key] = out
            if key.endswith("phases"):
                samples[key][-1] = _index_share(out, usage)
    print(f"uptime after: {_uptime()}")
    phase_shares = {key: samples.pop(key) for key in list(samples) if key.endswith("phases")}
    lines = sum(f.read_bytes().count(b"\n") for f in files)
    shown = f", minimum of {rounds} rounds" if rounds > 1 else ""
    print(f"\n## Cold, one job: {label}, {len(files)} files, {lines:,} lines{shown}")
    for prefix in ("", "before ") if baseline is not None else ("",):
        if prefix:
            print(f"# the baseline ({baseline}), same rounds")
        _report(samples, output, prefix)
    if rounds > 1:
        spread(samples, loads)
    three_measures(samples, usages, phase_shares)


def _uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _index_share(out: str, usage: resource.struct_rusage) -> float:
    """The index's share of one phase-accounted run (checker_phases.py), in percent."""
    report = json.loads(out.strip().splitlines()[-1])
    index = sum(s for phase, s in report["phases"].items() if phase.startswith("index:"))
    return 100 * index / (usage.ru_utime + usage.ru_stime)


def _spread(values: list[float], unit: str) -> str:
    middle, low, high = statistics.median(values), min(values), max(values)
    return f"median {middle:5.1f}{unit}, min {low:5.1f}{unit}, max {high:5.1f}{unit}"


def three_measures(
    samples: dict[str, list[float]],
    usages: dict[str, list[resource.struct_rusage]],
    phase_shares: dict[str, list[float]],
) -> None:
    """The index's share of a cold run measured the three ways, with what the runs held.

    1. inside one run of the command: the index's own code, timed (checker_phases.py);
    2. as the difference of two whole runs ending as the command does (index on / off);
    3. the same, the engine called as a library (everything freed before it returns).
    Each difference by minima, by medians and round by round; the peak resident size,
    system time and page faults of each run say what memory the index kept, and what
    freeing it or faulting it in cost.
    """
    print("\n## The index's share of a cold run, three ways (target < 20 %)")
    for prefix in ("", "before "):
        if prefix + "phases" not in phase_shares:
            continue
        print(f"# {'the baseline' if prefix else 'this checkout'}")
        inside = _spread(phase_shares[prefix + "phases"], " %")
        print(f"  {'1. in the process (its own code)':36} : {inside}")
        pairs = [("2. ending as the command", " exit"), ("3. as a library call", "")]
        for label, suffix in pairs:
            with_key, without_key = prefix + "index" + suffix, prefix + "alone" + suffix
            if with_key not in samples:
                continue
            with_index, without = samples[with_key], samples[without_key]
            by_minima = 100 * (min(with_index) - min(without)) / min(with_index)
            middle = statistics.median(with_index)
            by_medians = 100 * (middle - statistics.median(without)) / middle
            rounds = [100 * (i - n) / i for i, n in zip(with_index, without, strict=True)]
            print(
                f"  {label:36} : by minima {by_minima:5.1f} %, by medians {by_medians:5.1f} %;"
                f" by round {_spread(rounds, ' %')}"
            )
        for key in ("index exit", "alone exit", "index", "alone"):
            runs = usages.get(prefix + key)
            if not runs:
                continue
            rss = statistics.median(u.ru_maxrss / 1024 for u in runs)
            system = statistics.median(u.ru_stime for u in runs)
            faults = statistics.median(u.ru_minflt for u in runs)
            print(
                f"     engine {key:11}: peak RSS {rss:4.0f} MB, system {system:.3f} s, "
                f"{faults:,.0f} page faults (medians)"
            )


def _knows_process_ends(baseline: Path) -> bool:
    """Whether the baseline's engine takes ``process_ends`` (older commits do not)."""
    engine = baseline / "ocirace_checker" / "engine.py"
    return "process_ends" in engine.read_text(encoding="utf-8")


def _report(samples: dict[str, list[float]], output: dict[str, str], prefix: str) -> None:
    best = {key: min(values) for key, values in samples.items()}
    o_cpu, p_cpu = best[prefix + "ours"], best["parse"]
    i_cpu, f_cpu, n_cpu = (best[prefix + k] for k in ("index", "full", "alone"))
    out, with_index, with_full, without = (
        output[prefix + k] for k in ("ours", "index", "full", "alone")
    )
    found = sum(1 for line in out.splitlines() if ": ORC" in line)
    print(f"ocirace check --no-cache : {o_cpu:7.2f} s CPU ({found} findings)")
    print(f"ast.parse, same files    : {p_cpu:7.2f} s CPU")
    print(f"ratio ocirace/ast.parse  : {o_cpu / p_cpu:7.2f}x CPU")
    index = max(i_cpu - n_cpu, 0.0)
    full = max(f_cpu - n_cpu, 0.0)
    print(f"engine, index on demand  : {i_cpu:7.2f} s CPU ({with_index.strip()})")
    print(f"engine, full index first : {f_cpu:7.2f} s CPU ({with_full.strip()})")
    print(f"engine, each file alone  : {n_cpu:7.2f} s CPU ({without.strip()})")
    print(f"index share of the run   : {100 * index / i_cpu:6.1f} % (target < 20 %)")
    print(f"  (full index first      : {100 * full / f_cpu:6.1f} %)")
    if prefix + "index exit" in best:
        e_index, e_alone = best[prefix + "index exit"], best[prefix + "alone exit"]
        share = 100 * max(e_index - e_alone, 0.0) / e_index
        print(f"ending as the command    : index {e_index:.2f} s, alone {e_alone:.2f} s CPU")
        print(f"index share, so ended    : {share:6.1f} % (target < 20 %)")


def spread(samples: dict[str, list[float]], loads: list[float]) -> None:
    """Minimum, median and maximum of every run, and the index share round by round.

    The share is a difference of two runs, so one slow round of either moves it by tens of
    points; the runs of one round follow each other within seconds, so the share of each
    round (paired) and its median say more than the share of two minima taken from
    different rounds.
    """
    print(f"  rounds: {len(loads)}, load average (1 min) {min(loads):.2f}-{max(loads):.2f}")
    print("  run            min  median     max  (s CPU)")
    for key, values in samples.items():
        low, middle, high = min(values), statistics.median(values), max(values)
        print(f"  {key:12} {low:7.2f} {middle:7.2f} {high:7.2f}")
    parse = samples["parse"]
    for prefix in ("", "before "):
        if prefix + "ours" not in samples:
            continue
        ours, index, alone = (samples[prefix + k] for k in ("ours", "index", "alone"))
        ratios = [o / p for o, p in zip(ours, parse, strict=True)]
        print(
            f"  {prefix}ocirace/ast.parse by round: median {statistics.median(ratios):.2f}x, "
            f"{min(ratios):.2f}-{max(ratios):.2f}x; "
            f"by medians {statistics.median(ours) / statistics.median(parse):.2f}x"
        )
        pairs = [("", index, alone)]
        if prefix + "index exit" in samples:
            pairs.append((" ending as the command", *_exits(samples, prefix)))
        for how, with_index, without in pairs:
            shares = [100 * (i - n) / i for i, n in zip(with_index, without, strict=True)]
            by_medians = statistics.median(with_index) - statistics.median(without)
            print(
                f"  {prefix}index share{how} by round: median "
                f"{statistics.median(shares):.1f} %, {min(shares):.1f} to {max(shares):.1f} %; "
                f"by medians {100 * by_medians / statistics.median(with_index):.1f} %"
            )


def _exits(samples: dict[str, list[float]], prefix: str) -> tuple[list[float], list[float]]:
    return samples[prefix + "index exit"], samples[prefix + "alone exit"]


def corpus_site_files() -> tuple[Path, list[Path]]:
    """The materialised corpus tree and the files of its labelled sites (none: not there)."""
    here = Path(__file__).resolve().parent / "checker_corpus"
    sys.path.insert(0, str(here))
    from corpus_model import load_corpus

    default = Path.home() / ".cache" / "ocirace-corpus"
    tree = Path(os.environ.get("OCIRACE_CORPUS_DIR", default)) / "tree"
    projects, sites = load_corpus(here / "sites.toml")
    files = sorted({tree / f"{projects[s.project].key}" / s.path for s in sites}, key=str)
    return tree, [f for f in files if f.is_file()]


def dense(work: Path, rounds: int = 1, baseline: Path | None = None) -> None:
    """Candidate-dense real code: the files of the labelled corpus sites (materialised)."""
    tree, files = corpus_site_files()
    if not files:
        print("\ncorpus not materialised (bench/checker_corpus/materialise.py); skipped")
        return
    versus_parse("corpus site files", files, tree, work, rounds, baseline)


def phases(work: Path, rounds: int) -> None:
    """One cold run on the corpus site files, phase by phase (``checker_phases.py``)."""
    tree, files = corpus_site_files()
    if not files:
        print("\ncorpus not materialised (bench/checker_corpus/materialise.py); skipped")
        return
    listing = work / "phases-files.txt"
    listing.write_text("\n".join(str(f) for f in files), encoding="utf-8")
    script = Path(__file__).resolve().parent / "checker_phases.py"
    command = [sys.executable, str(script), str(listing), "--rounds", str(rounds)]
    print()
    sys.stdout.flush()
    subprocess.run(command, cwd=tree, env=environment(), check=True)


def baseline_checker(ref: str, work: Path) -> Path:
    """The checker of git ``ref`` (``git archive``), importable from the returned directory."""
    repo = Path(__file__).resolve().parent.parent
    target = work / "baseline"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", ref, "checker"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    (target / "checker").rename(target / "ocirace_checker")
    return target


def warm_versus_baseline(args: argparse.Namespace, work: Path, corpus: Path) -> None:
    """The warm run of this checkout against the checker of ``--baseline-ref``, alternating.

    Both run as ``python -m ocirace_checker`` (same start-up), each with its own cache.
    """
    env = environment()
    before_env = {**env, "PYTHONPATH": str(baseline_checker(args.baseline_ref, work))}
    module = [sys.executable, "-m", "ocirace_checker", ".", "--exit-zero", "-q"]
    ours = [*module, "--cache-dir", str(work / "cache-now")]
    theirs = [*module, "--cache-dir", str(work / "cache-before")]
    for _ in range(2):  # fill both caches
        timed(ours, corpus, env)
        timed(theirs, corpus, before_env)
    _, _, _, said = timed([*ours, "-v"], corpus, env)
    now_times: list[float] = []
    before_times: list[float] = []
    for _ in range(args.repeat):
        now_times.append(timed(ours, corpus, env)[0])
        before_times.append(timed(theirs, corpus, before_env)[0])
    now, before = statistics.median(now_times), statistics.median(before_times)
    print(f"\n## Warm re-run, this checkout against {args.baseline_ref} (same run, alternating)")
    print(said.strip().splitlines()[-1])
    print(f"this checkout (median of {args.repeat}) : {now * 1000:6.0f} ms")
    print(f"{args.baseline_ref} (median of {args.repeat})     : {before * 1000:6.0f} ms")
    print(f"ratio now/before             : {now / before:6.2f}x")
    # What a cache keyed by content alone would add: reading and hashing every file.
    import hashlib

    start = time.perf_counter()
    for path in sorted(corpus.rglob("*.py")):
        hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
    hashing = time.perf_counter() - start
    print(f"reading + hashing every file : {hashing * 1000:6.0f} ms (not paid: see cache.py)")


def warm(args: argparse.Namespace, work: Path, corpus: Path, files: list[Path]) -> None:
    env = environment()
    cache = work / "ocirace-cache"
    ours = [OCIRACE, "check", ".", "--cache-dir", str(cache), "--exit-zero", "-q"]
    for _ in range(3):  # fill the caches; again if the checker's code changed meanwhile
        _, _, _, verbose = timed([*ours, "-v"], corpus, env)
        checked = next(line for line in verbose.splitlines() if line.startswith("checked "))
        if " 0 parsed" in checked:
            break
    print(f"\n## Warm re-run: whole stdlib, {len(files)} files")
    print(f"ocirace warm says: {checked}")
    probe = (
        "import sys, runpy; sys.argv = ['ocirace'] + sys.argv[1:]; "
        "from ocirace_checker.cli import main; main(); "
        "sys.stderr.write('libcst imported: %s\\n' % ('libcst' in sys.modules))"
    )
    _, _, _, probed = timed([sys.executable, "-I", "-c", probe, *ours[1:]], corpus, env)
    print(probed.strip().splitlines()[-1])
    if RUFF is None:
        print("ruff: not found; no ratio")
        return
    ruff_cache = work / "ruff-cache"
    theirs = [
        RUFF,
        "check",
        ".",
        "--select",
        "S108",
        "--cache-dir",
        str(ruff_cache),
        "--exit-zero",
        "-q",
    ]
    timed(theirs, corpus, env)
    ours_times: list[float] = []
    ruff_times: list[float] = []
    for _ in range(args.repeat):
        ours_times.append(timed(ours, corpus, env)[0])
        ruff_times.append(timed(theirs, corpus, env)[0])
    python_times = [
        timed([sys.executable, "-c", "pass"], corpus, env)[0] for _ in range(args.repeat)
    ]
    ours_median = statistics.median(ours_times)
    ruff_median = statistics.median(ruff_times)
    print(f"ocirace warm (median of {args.repeat}) : {ours_median * 1000:6.0f} ms")
    print(f"ruff warm (median of {args.repeat})    : {ruff_median * 1000:6.0f} ms")
    print(f"python -c pass (median)     : {statistics.median(python_times) * 1000:6.0f} ms")
    print(f"ratio ocirace/ruff          : {ours_median / ruff_median:6.2f}x")


def sweep(work: Path, corpus: Path) -> None:
    """Whole stdlib and installed site-packages: no crash, findings per rule."""
    env = environment()
    config = work / "sweep.toml"
    config.write_text("[tool.ocirace]\nexclude = []\n", encoding="utf-8")
    site = Path(sysconfig.get_paths()["purelib"])
    for label, target in (("stdlib", corpus), ("site-packages", site)):
        command = [
            OCIRACE,
            "check",
            str(target),
            "--no-cache",
            "--config",
            str(config),
            "--format",
            "json",
            "--exit-zero",
            "--no-respect-gitignore",
        ]
        wall, cpu, code, output = timed(command, work, env)
        if "Traceback" in output:
            sys.exit(f"{label}: the checker crashed:\n{output[-3000:]}")
        records = json.loads(output[: output.rindex("]") + 1])
        counts: dict[str, int] = {}
        for record in records:
            counts[record["code"]] = counts.get(record["code"], 0) + 1
        files = sum(1 for _ in target.rglob("*.py"))
        print(f"\n## Sweep: {label} ({target}, {files} files): {wall:.1f} s wall, {cpu:.1f} s CPU")
        for code in sorted(counts):
            print(f"{code}: {counts[code]}")
        print(f"total: {len(records)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixit", help="path of the fixit executable (separate virtualenv)")
    parser.add_argument("--every", type=int, default=10, help="cold subset: every Nth file")
    parser.add_argument("--repeat", type=int, default=15, help="warm runs to take the median of")
    parser.add_argument("--sweep", action="store_true", help="also sweep stdlib + site-packages")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument(
        "--skip-stdlib",
        action="store_true",
        help="with --index-only: the corpus site files only, not the whole stdlib",
    )
    parser.add_argument(
        "--index-only",
        action="store_true",
        help="only the cold runs against ast.parse and the project index's share of them",
    )
    parser.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="also time the checker of this git ref (e.g. main): the warm run, and with "
        "--index-only the cold runs, in the same rounds",
    )
    parser.add_argument("--warm-only", action="store_true", help="only the warm comparisons")
    parser.add_argument(
        "--phases",
        type=int,
        metavar="ROUNDS",
        help="only a cold run on the corpus site files, phase by phase (median of ROUNDS "
        "processes; bench/checker_phases.py)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="cold runs on the corpus site files: rounds taken in turn, minimum of each",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-checker-") as tmp:
        work = Path(tmp)
        corpus = work / "stdlib"
        files = copy_stdlib(corpus)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, corpus {len(files)} files")
        if args.phases:
            phases(work, args.phases)
            return
        if args.index_only:
            baseline = None
            if args.baseline_ref:
                baseline = baseline_checker(args.baseline_ref, work)
            dense(work, args.rounds, baseline)
            if not args.skip_stdlib:
                versus_parse("whole stdlib", files, corpus, work, 1, baseline)
            return
        if args.warm_only:
            if args.baseline_ref:
                warm_versus_baseline(args, work, corpus)
            warm(args, work, corpus, files)
            return
        if not args.skip_cold:
            dense(work, args.rounds)
            versus_parse("whole stdlib", files, corpus, work)
            cold(args, work, files, corpus)
        if args.baseline_ref:
            warm_versus_baseline(args, work, corpus)
        warm(args, work, corpus, files)
        if args.sweep:
            sweep(work, corpus)


if __name__ == "__main__":
    main()
