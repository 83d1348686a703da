"""The run over many files: cache lookup, work across cores, then selection and ``noqa``.

The orchestration only; each stage has its own module:

1. :mod:`.cache` - a per-project cache (``.ocirace_cache/``) keyed by file content, the lint
   settings and the checker's own code answers for unchanged files without reading them (the
   stat signature first, the content hash only when the signature moved, as ruff does);
2. :mod:`.worker` - the rest is read, decoded (:mod:`.decoding`), parsed and linted in a
   process pool (``--jobs``), fixed with ``--fix``/``--diff``;
3. here - suppression (:mod:`.noqa`), rule selection and per-file ignores, applied after the
   cache so that changing them never invalidates it.

Nothing that goes wrong with one file - bytes that are not text, a syntax error, a crash in a
worker - stops the run: it becomes an ``ORC000`` finding for that file (:mod:`.unchecked`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .cache import CACHE_DIR_NAME, ResultCache, finding_from_json, finding_to_json
from .decoding import Source, SourceProblem, decode_source, encode_source, split_lines
from .model import Finding, LintSettings
from .noqa import apply_noqa
from .worker import Outcome, Task, run_tasks

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms of a warm run; annotations are strings anyway
    from typing import Any

__all__ = [
    "CACHE_DIR_NAME",
    "FileResult",
    "RunOptions",
    "RunResult",
    "Source",
    "SourceProblem",
    "apply_noqa",
    "decode_source",
    "encode_source",
    "run",
    "split_lines",
]

# --------------------------------------------------------------------------------------------
# Options and results


class RunOptions:
    """What the command line decided, in the form the engine needs."""

    __slots__ = (
        "cache_dir",
        "diff",
        "fix",
        "jobs",
        "lint",
        "per_file_ignores",
        "project_index",
        "root",
        "selected",
        "unsafe_fixes",
    )

    def __init__(
        self,
        root: Path,
        selected: frozenset[str],
        lint: LintSettings | None = None,
        per_file_ignores: tuple[tuple[Any, frozenset[str]], ...] = (),
        jobs: int = 1,
        cache_dir: Path | None = None,
        fix: bool = False,
        unsafe_fixes: bool = False,
        diff: bool = False,
        project_index: bool = True,
    ) -> None:
        self.root = root
        self.selected = selected
        self.lint = LintSettings() if lint is None else lint
        #: (matcher, codes) pairs; matchers see root-relative posix paths.
        self.per_file_ignores = per_file_ignores
        self.jobs = jobs
        self.cache_dir = cache_dir
        self.fix = fix
        self.unsafe_fixes = unsafe_fixes
        self.diff = diff
        #: False lints every file alone, as if each were checked by itself: what the index
        #: adds to a run is measured against that (``bench/bench_checker.py``).
        self.project_index = project_index


class FileResult:
    """What a run found in one file, after suppression and selection."""

    __slots__ = ("diff", "findings", "fixed", "lines", "path", "warnings")

    def __init__(self, path: Path, findings: list[Finding]) -> None:
        self.path = path
        self.findings = findings
        #: Source lines, present whenever there are findings (output shows the offending line).
        self.lines: list[str] = []
        #: How many fixes ``--fix`` applied to this file.
        self.fixed = 0
        #: Unified diff of the fixes (``--diff``), or "".
        self.diff = ""
        #: One-line notes for stderr (bad noqa comments, fixes that did not apply).
        self.warnings: list[str] = []


class RunResult:
    """Every file with something to report, plus counters for ``--verbose``."""

    __slots__ = ("cached", "files", "linted", "warnings")

    def __init__(
        self, files: list[FileResult], cached: int, linted: int, warnings: list[str]
    ) -> None:
        self.files = files
        #: Files answered from the cache without linting.
        self.cached = cached
        #: Files that reached the rules (passed the pre-filter).
        self.linted = linted
        #: Run-wide notes for stderr (the cache could not be written).
        self.warnings = warnings


# --------------------------------------------------------------------------------------------
# The run


_NOTHING: frozenset[str] = frozenset()


def _ignored_here(path: str | Path, options: RunOptions) -> frozenset[str]:
    if not options.per_file_ignores:
        return _NOTHING
    full = Path(path)
    try:
        rel = full.relative_to(options.root).as_posix()
    except ValueError:
        rel = full.name
    codes: set[str] = set()
    for matcher, ignored in options.per_file_ignores:
        if matcher.matches_rel(rel):
            codes |= ignored
    return frozenset(codes)


def _read_lines(path: str | Path) -> list[str]:
    try:
        with open(path, "rb") as handle:
            return split_lines(decode_source(handle.read()).text)
    except (OSError, SourceProblem):
        return []


def run(paths: Sequence[str | Path], options: RunOptions) -> RunResult:
    """Check ``paths`` (already discovered) and return what to report, file by file.

    The cyclic garbage collector is paused for the run: the project index keeps the parsed
    modules alive (each file is parsed once, its analysis reused by the lint and the caller
    search), and a collector that re-scans those hundreds of thousands of nodes again and
    again doubled the cost of a cold run. What the analysis builds is acyclic (trees and
    dictionaries), so reference counting frees it all the same.
    """
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(paths, options)
    finally:
        if collecting:
            gc.enable()


def _run(paths: Sequence[str | Path], options: RunOptions) -> RunResult:
    from .project_index import build_index

    index = (
        build_index([str(path) for path in paths], options.cache_dir)
        if options.project_index
        else None
    )
    # A file's findings can depend on other files (through the index): its answers are part
    # of the results' key, so a change that matters elsewhere invalidates them.
    fingerprint = "no index" if index is None else index.fingerprint()
    cache = ResultCache(options.cache_dir, options.lint, fingerprint)
    wants_fix = options.fix or options.diff
    raw: dict[str, list[Finding]] = {}
    texts: dict[str, str] = {}
    extras: dict[str, Outcome] = {}
    tasks: list[Task] = []
    cached = 0
    for path in paths:
        key = str(path)
        entry = cache.entries.get(key)
        if entry is not None:
            try:
                stat = os.stat(key)
            except OSError:
                entry = None
            else:
                if entry[0] == stat.st_mtime_ns and entry[1] == stat.st_size:
                    findings = [finding_from_json(item) for item in entry[3]]
                    if not (wants_fix and any(f.fix is not None for f in findings)):
                        raw[key] = findings
                        cached += 1
                        continue
        tasks.append(
            Task(
                key,
                None if entry is None else entry[2],
                options.selected,
                _ignored_here(path, options),
                options.lint,
                options.fix,
                options.unsafe_fixes,
                options.diff,
            )
        )
    linted = 0
    for outcome in run_tasks(tasks, options.jobs, index):
        key = outcome.path
        linted += outcome.linted
        if outcome.findings is None:
            entry = cache.entries[key]
            entry[0], entry[1] = outcome.mtime_ns, outcome.size
            cache.dirty = True
            raw[key] = [finding_from_json(item) for item in entry[3]]
            cached += 1
            continue
        raw[key] = outcome.findings
        if outcome.text is not None:
            texts[key] = outcome.text
        extras[key] = outcome
        if outcome.cacheable and not outcome.diff:
            cache.entries[key] = [
                outcome.mtime_ns,
                outcome.size,
                outcome.digest,
                [finding_to_json(f) for f in outcome.findings],
            ]
            cache.dirty = True
    results: list[FileResult] = []
    for path in paths:
        key = str(path)
        extra = extras.get(key)
        found = raw.get(key)
        if not found and extra is None:
            continue  # the common case on a warm run: nothing to build
        result = FileResult(Path(path), [])
        if extra is not None:
            result.fixed, result.diff = extra.fixed, extra.diff
            result.warnings.extend(extra.warnings)
        ignored = _ignored_here(path, options) if found else _NOTHING
        selected = [f for f in found or () if f.code in options.selected and f.code not in ignored]
        if selected:
            text = texts.get(key)
            lines = split_lines(text) if text is not None else _read_lines(path)
            kept, noqa_warnings = apply_noqa(selected, lines)
            result.warnings.extend(f"{path}:{line}: {message}" for line, message in noqa_warnings)
            result.findings = sorted(kept, key=lambda f: (f.line, f.column, f.code))
            result.lines = lines
        if result.findings or result.warnings or result.fixed or result.diff:
            results.append(result)
    if index is not None:
        index.release()
    warning = cache.save(str(path) for path in paths)
    return RunResult(results, cached, linted, [] if warning is None else [warning])
