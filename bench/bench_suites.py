"""Real PyPI projects' own test suites, plain against ``--ocirace``.

Claim (issue 8, docs/compatibility.md, docs/performance.md): every test that passes plain
passes under ``--ocirace`` unless real Windows would fail it too, and a suite takes at most
2x its plain wall time. For each project pinned in ``bench/realworld/projects.toml`` this
downloads the sdist, makes (or reuses) a venv with the project, its test dependencies and
this checkout (editable), and runs the project's suite twice with the same options, plain
and with ``--ocirace``, one project at a time. It prints per project the counts of both
runs, the wall times and their ratio, and every test that passed plain and fails under
``--ocirace``, classified by ``bench/realworld/classification.toml`` (unclassified ones are
listed as such: nothing is capped).

    python bench/bench_suites.py                   # all projects (about 10-30 minutes)
    python bench/bench_suites.py --only diskcache  # one (repeatable)
    python bench/bench_suites.py --markdown out.md # also write the report as Markdown

Work files (sdists, venvs, each run's log head and JUnit XML) live in ``--workdir``
(default ``~/.cache/ocirace-bench``), outside the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.realworld.core import (
    HarnessError,
    ProjectReport,
    cause_counts,
    load_projects,
    load_rules,
    new_failures,
    newly_skipped,
    passing_both,
    render_project,
    render_table,
)
from bench.realworld.runner import (
    REPO,
    byte_compile,
    load_run,
    prepare_source,
    prepare_venv,
    run_suite,
)

LABELS = ("plain", "ocirace")


def _commit() -> str:
    import subprocess

    proc = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "ocirace-bench")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per run before it counts as hung"
    )
    parser.add_argument("--rebuild", action="store_true", help="recreate the venvs")
    parser.add_argument(
        "--ocirace-args",
        default="",
        help="extra options for the --ocirace run only (e.g. '--ocirace-report r.json')",
    )
    parser.add_argument(
        "--from-runs",
        action="store_true",
        help="run nothing: re-read the last recorded runs in --workdir and re-classify them",
    )
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="also write per-test results here")
    parser.add_argument("--tail", type=int, default=15, help="lines of a bad run's tail shown")
    args = parser.parse_args(argv)

    try:
        projects = load_projects()
        rules = load_rules()
    except HarnessError as exc:
        print(f"bench_suites: {exc}", file=sys.stderr)
        return 2
    names = {p.name for p in projects}
    for name in [*args.only, *args.skip]:
        if name not in names:
            print(
                f"bench_suites: unknown project {name!r}; known: {', '.join(sorted(names))}",
                file=sys.stderr,
            )
            return 2
    if args.only:
        projects = [p for p in projects if p.name in args.only]
    projects = [p for p in projects if p.name not in args.skip]

    workdir = args.workdir.expanduser().resolve()
    print(f"pytest-ocirace {_commit()}, workdir {workdir}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    reports: list[ProjectReport] = []
    setup_failed: list[str] = []
    for project in projects:
        results = {}
        if args.from_runs:
            try:
                results = {label: load_run(project, workdir, label) for label in LABELS}
            except HarnessError as exc:
                print(f"{project.name}: {exc}")
                setup_failed.append(project.name)
                continue
        else:
            print(f"\n... {project.requirement}: preparing", flush=True)
            try:
                source = prepare_source(project, workdir)
                python = prepare_venv(project, source, workdir, rebuild=args.rebuild)
                byte_compile(python, REPO)
            except HarnessError as exc:
                print(f"{project.name}: setup failed: {exc}")
                setup_failed.append(project.name)
                continue
            for label, extra in zip(
                LABELS,
                ((), ("--ocirace", *project.ocirace_args, *args.ocirace_args.split())),
                strict=True,
            ):
                print(f"... {project.name}: {label} run", flush=True)
                # A fresh source tree for each run: a suite that writes beside its tests
                # must not see the other run's files.
                source = prepare_source(project, workdir)
                results[label] = run_suite(
                    project, python, source, workdir, label, tuple(extra), args.timeout
                )
        plain, oci = results["plain"], results["ocirace"]
        rep = ProjectReport(
            project,
            plain,
            oci,
            new_failures(project.name, plain, oci, rules),
            newly_skipped(plain, oci),
        )
        reports.append(rep)
        print(render_project(rep))
        for label, run in results.items():
            if (
                run.junit_missing
                or run.hung
                or (label == "plain" and (run.counts()["failed"] or run.counts()["error"]))
            ):
                tail = "\n".join(run.tail.splitlines()[-args.tail :])
                print(f"--- tail of the {label} run ({workdir}/runs/{project.name}/{label}.log):")
                print(tail)
        sys.stdout.flush()

    print("\n# Summary\n")
    print(render_table(reports))
    print("\nnewly failing by cause:")
    for key, count in cause_counts(reports).items():
        print(f"  {count:5}  {key}")
    if setup_failed:
        print(f"\nsetup failed (not run): {', '.join(setup_failed)}")
    if args.markdown:
        body = [render_table(reports), ""]
        body += ["```", *(render_project(r) for r in reports), "```"]
        args.markdown.write_text("\n".join(body) + "\n")
    if args.json:
        data = {
            r.project.name: {
                label: {
                    "wall": run.wall,
                    "hung": run.hung,
                    "returncode": run.returncode,
                    "output_bytes": run.output_bytes,
                    "counts": run.counts(),
                }
                for label, run in (("plain", r.plain), ("ocirace", r.ocirace))
            }
            | {
                "passing_both": dict(
                    zip(
                        ("tests", "plain_seconds", "ocirace_seconds"),
                        passing_both(r.plain, r.ocirace),
                        strict=True,
                    )
                ),
                "new_failures": [
                    {
                        "test": f.test_id,
                        "outcome": f.outcome,
                        "message": f.message,
                        "category": f.rule.category if f.rule else None,
                        "kind": f.rule.kind if f.rule else None,
                    }
                    for f in r.failures
                ],
            }
            for r in reports
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    spurious = sum(
        1 for r in reports for f in r.failures if f.rule is None or f.rule.kind != "windows"
    )
    return 1 if spurious or setup_failed else 0


if __name__ == "__main__":
    sys.exit(main())
