"""Score `ocirace check`, a naive call-matcher and ruff's PTH104/PTH105 on the labelled corpus.

    python bench/checker_corpus/materialise.py          # once: download and lay out the tree
    python bench/checker_corpus/score.py [--tree DIR] [--only PROJECT] [--json]

A finding on the publish call of an UNGUARDED site is a true positive; on a GUARDED or
NOT_APPLICABLE site a false positive; an UNGUARDED site without one is a miss.  Findings at
no labelled site are printed as "unlabelled", to be labelled later.  The checker is the one of
the checkout this script lives in (the `ocirace` entry point of its pyproject.toml, so it
works before and after a rename), run cold (``--no-cache``).  Every file of the tree is
named on the command line, so that no tool's default excludes (``build``, ``_build``...)
silently drop a site.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_model import (
    CorpusError,
    Finding,
    Project,
    Score,
    Site,
    check_fingerprint,
    load_corpus,
    naive_findings,
    score,
    site_span,
)
from materialise import DEFAULT_ROOT, SITES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def _relative(tree: Path, raw: str, cwd: Path) -> str:
    path = Path(raw)
    if not path.is_absolute():
        path = cwd / path
    try:
        return path.resolve().relative_to(tree.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _files(tree: Path, keys: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for key in keys:
        root = tree / key
        files += sorted(p for p in root.rglob("*") if p.suffix in (".py", ".pyi") and p.is_file())
    return files


def _ocirace_command(override: str | None) -> list[str]:
    """How to run `ocirace`: the override, else this checkout's own entry point.

    The entry point is read from the checkout's pyproject.toml (`[project.scripts] ocirace`),
    so the scorer follows a rename of the checker's import package.
    """
    if override:
        return shlex.split(override)
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    target = scripts.get("project", {}).get("scripts", {}).get("ocirace", "")
    module, _, func = target.partition(":")
    if not module or not func:
        raise CorpusError(f"{REPO / 'pyproject.toml'}: no [project.scripts] ocirace entry point")
    code = f"import sys; from {module} import {func} as main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code]


def run_ocirace(
    tree: Path, files: Sequence[Path], override: str | None = None
) -> tuple[list[Finding], float]:
    """`ocirace check --format json`; tolerates extra fields (`related`, `why`...)."""
    command = [*_ocirace_command(override), "check", "--format", "json", "--no-cache"]
    command += ["--exit-zero", *[str(f.relative_to(tree)) for f in files]]
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=tree, capture_output=True, text=True, env=env, check=False
        )
    except OSError as exc:
        raise CorpusError(f"cannot run {command[0]!r}: {exc.strerror}") from None
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CorpusError(f"ocirace check exited {done.returncode}: {last[:200]}")
    try:
        report: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise CorpusError(f"ocirace check printed no JSON list ({exc})") from None
    findings = [
        Finding(
            _relative(tree, item["path"], tree),
            int(item["line"]),
            item.get("code", ""),
            item.get("message", ""),
        )
        for item in report
        if item.get("code") != "ORC000"
    ]
    return findings, seconds


def run_ruff(tree: Path, files: Sequence[Path]) -> tuple[list[Finding], float]:
    """ruff's pathlib rules PTH104 (os.rename) and PTH105 (os.replace): the closest it has."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        raise CorpusError("ruff is not installed; pip install -e '.[dev]'")
    command = [ruff, "check", "--select", "PTH104,PTH105", "--output-format", "json"]
    command += [
        "--no-cache",
        "--isolated",
        "--exit-zero",
        *[str(f.relative_to(tree)) for f in files],
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise CorpusError(f"ruff exited {done.returncode}: {done.stderr.strip()[:200]}")
    report = json.loads(done.stdout or "[]")
    findings = [
        Finding(_relative(tree, item["filename"], tree), int(item["location"]["row"]), item["code"])
        for item in report
    ]
    return findings, seconds


def run_naive(tree: Path, files: Sequence[Path]) -> tuple[list[Finding], float]:
    start = time.perf_counter()
    findings: list[Finding] = []
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        findings += naive_findings(file.relative_to(tree).as_posix(), text)
    return findings, time.perf_counter() - start


def _check_tree(
    tree: Path, projects: dict[str, Project], sites: Sequence[Site]
) -> dict[tuple[str, int], tuple[int, int]]:
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    problems: list[str] = []
    for site in sites:
        file = tree / site.tree_path(projects)
        if not file.is_file():
            problems.append(f"{site.tree_path(projects)} is missing")
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        problem = check_fingerprint(site, text)
        if problem:
            problems.append(problem)
        spans[(site.tree_path(projects), site.line)] = site_span(text, site.line)
    if problems:
        raise CorpusError(
            f"{len(problems)} site(s) do not match the tree (first: {problems[0]}); "
            "run bench/checker_corpus/materialise.py"
        )
    return spans


def _site_line(site: Site, projects: dict[str, Project]) -> str:
    return f"{site.tree_path(projects)}:{site.line} [{','.join(site.causes)}] {site.reason}"


def report_text(
    scores: Sequence[Score], sites: Sequence[Site], projects: dict[str, Project]
) -> str:
    labels = Counter(site.label for site in sites)
    out = [
        f"{len(sites)} sites in {len({s.project for s in sites})} projects: "
        + ", ".join(f"{labels[k]} {k}" for k in ("UNGUARDED", "GUARDED", "NOT_APPLICABLE")),
        "",
        f"{'tool':<22} {'TP':>4} {'FP':>4} {'FN':>4} {'recall':>7} {'precision':>9} "
        f"{'unlabelled':>10} {'seconds':>8}",
    ]
    for s in scores:
        secs = f"{s.seconds:.2f}" if s.seconds is not None else "-"
        out.append(
            f"{s.tool:<22} {len(s.tp):>4} {len(s.fp):>4} {len(s.fn):>4} {s.recall:>7.2f} "
            f"{s.precision:>9.2f} {len(s.unlabelled):>10} {secs:>8}"
        )
    for s in scores:
        out += ["", f"== {s.tool}: misses ({len(s.fn)})"]
        out += [f"  FN {_site_line(site, projects)}" for site in s.fn]
        out.append(f"== {s.tool}: false positives ({len(s.fp)})")
        out += [
            f"  FP {_site_line(site, projects)} <- {f.code} {f.message[:60]}" for site, f in s.fp
        ]
        by_cause = Counter(c for site in s.fn for c in site.causes)
        fp_cause = Counter(c for site, _ in s.fp for c in site.causes)
        out.append(f"== {s.tool}: misses by cause: {dict(by_cause.most_common())}")
        out.append(f"== {s.tool}: false positives by cause: {dict(fp_cause.most_common())}")
        out.append(f"== {s.tool}: unlabelled findings ({len(s.unlabelled)})")
        out += [f"  ?? {f.path}:{f.line} {f.code} {f.message[:70]}" for f in s.unlabelled]
    return "\n".join(out)


def report_json(
    scores: Sequence[Score], sites: Sequence[Site], projects: dict[str, Project]
) -> str:
    def site(s: Site) -> dict[str, Any]:
        return {
            "path": s.tree_path(projects),
            "line": s.line,
            "label": s.label,
            "causes": list(s.causes),
            "reason": s.reason,
        }

    return json.dumps(
        {
            "sites": len(sites),
            "labels": dict(Counter(s.label for s in sites)),
            "causes": dict(Counter(c for s in sites for c in s.causes)),
            "tools": [
                {
                    "tool": s.tool,
                    "tp": len(s.tp),
                    "fp": len(s.fp),
                    "fn": len(s.fn),
                    "recall": round(s.recall, 3),
                    "precision": round(s.precision, 3),
                    "seconds": None if s.seconds is None else round(s.seconds, 3),
                    "misses": [site(x) for x in s.fn],
                    "false_positives": [dict(site(x), code=f.code) for x, f in s.fp],
                    "unlabelled": [
                        {"path": f.path, "line": f.line, "code": f.code} for f in s.unlabelled
                    ],
                }
                for s in scores
            ],
        },
        indent=2,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=Path, default=SITES)
    parser.add_argument("--tree", type=Path, default=DEFAULT_ROOT / "tree")
    parser.add_argument("--only", action="append", default=[], metavar="PROJECT")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--tool",
        action="append",
        default=[],
        choices=["ocirace", "naive", "ruff"],
        help="score only this tool (repeatable; default: all three, side by side)",
    )
    parser.add_argument(
        "--ocirace",
        metavar="COMMAND",
        help="run this ocirace instead of the checkout's own (e.g. another venv's bin/ocirace)",
    )
    args = parser.parse_args(argv)
    try:
        projects, sites = load_corpus(args.sites)
        unknown = [n for n in args.only if n not in projects]
        if unknown:
            raise CorpusError(f"--only: unknown project(s) {unknown}; see the names in sites.toml")
        if args.only:
            projects = {n: p for n, p in projects.items() if n in args.only}
            sites = [s for s in sites if s.project in args.only]
        if not args.tree.is_dir():
            raise CorpusError(f"{args.tree}: no tree; run bench/checker_corpus/materialise.py")
        spans = _check_tree(args.tree, projects, sites)
        files = _files(args.tree, [p.key for p in projects.values()])
        scores = []
        runners = {
            "ocirace": lambda tree, fs: run_ocirace(tree, fs, args.ocirace),
            "naive": run_naive,
            "ruff PTH104/PTH105": run_ruff,
        }
        wanted = {"ruff": "ruff PTH104/PTH105"}
        chosen = {wanted.get(tool, tool) for tool in args.tool}
        for name, runner in runners.items():
            if chosen and name not in chosen:
                continue
            findings, seconds = runner(args.tree, files)
            result = score(name, sites, projects, findings, spans)
            result.seconds = seconds
            scores.append(result)
    except CorpusError as exc:
        print(f"score: error: {exc}", file=sys.stderr)
        return 2
    print(
        report_json(scores, sites, projects) if args.json else report_text(scores, sites, projects)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
