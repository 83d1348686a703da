"""The run over many files: cache lookup, work across cores, then selection and ``noqa``.

The orchestration only; each stage has its own module:

1. :mod:`.cache` - a per-project cache (``.ocirace_cache/``) keyed by file content, the lint
   settings and the checker's own code answers for unchanged files without reading them (the
   stat signature first - with the change time, which nothing sets back - and the content
   hash only when the signature moved), as long as every answer of the project index a
   result rested on still holds (:mod:`.demand`; the index learns on demand and keeps what it
   learnt by content in :mod:`.index_cache`);
2. :mod:`.worker` - the rest is read, decoded (:mod:`.decoding`), parsed and linted in a
   process pool (``--jobs``), fixed with ``--fix``/``--diff``;
3. here - suppression (:mod:`.noqa`), rule selection and per-file ignores, applied after the
   cache so that changing them never invalidates it.

Nothing that goes wrong with one file - bytes that are not text, a syntax error, a crash in a
worker - stops the run: it becomes an ``ORC000`` finding for that file (:mod:`.unchecked`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from .cache import (
    CACHE_DIR_NAME,
    ResultCache,
    finding_from_json,
    finding_to_json,
    signature,
)
from .decoding import Source, SourceProblem, decode_source, encode_source, split_lines
from .index_cache import IndexCache
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
        "full_index",
        "jobs",
        "lint",
        "per_file_ignores",
        "process_ends",
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
        full_index: bool = False,
        process_ends: bool = False,
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
        #: True builds every module's summary before the first lint (the reference the
        #: demand-built index, :mod:`.demand`, is tested and measured against); nothing
        #: is cached then.
        self.full_index = full_index
        #: True when the process exits right after the run (the command line): what the
        #: project index kept is left for the exit to drop, not freed object by object, and
        #: the collector is not switched back on (see :func:`run`).
        self.process_ends = process_ends


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

    When the process ends with the run (``options.process_ends``, the command line) the
    collector stays paused: switched back on, it ran a full collection over everything the
    run had allocated at the next allocation, 0.1 s of a 1.5 s cold run.
    """
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(paths, options)
    finally:
        if collecting and not options.process_ends:
            gc.enable()


class _Lazy:
    """The run's project index, built only when a result or a lint needs it.

    A warm run whose cached results asked nothing of other modules never builds it (the
    module names of the whole tree cost a ``stat`` per directory).
    """

    def __init__(
        self,
        keys: list[str],
        options: RunOptions,
        index_cache: IndexCache,
        trusted: dict[str, str],
    ) -> None:
        self._keys = keys
        self._options = options
        self._cache = index_cache
        self._trusted = trusted
        self._index: Any = None

    def get(self) -> Any:
        """The index (None when the run lints each file alone)."""
        if self._index is None and self._options.project_index:
            if self._options.full_index:
                from .project_index import build_index

                self._index = build_index(self._keys, None)
            else:
                from .demand import DemandIndex

                self._index = DemandIndex(self._keys, self._cache.facts, self._trusted)
                # A run that returns frees what the index kept; one that ends the process
                # does not, so keeping every analysis costs it no freeing (see release).
                self._index.lets_go = not self._options.process_ends
        return self._index

    def digest(self, path: str) -> str | None:
        """The digest of a file's content now; the index keeps the text it read."""
        from .demand import DemandIndex

        index = self.get()
        if isinstance(index, DemandIndex):
            return index.digest(path)
        from .demand import content_digest

        try:
            with open(path, "rb") as handle:
                return content_digest(handle.read())
        except OSError:
            return None

    def still_valid(self, deps: Any) -> bool:
        """Whether a cached result's answers from other files still hold."""
        if deps is None:
            return True
        from .demand import DemandIndex

        index = self.get()
        return isinstance(index, DemandIndex) and index.still_valid(deps)

    def release(self) -> None:
        """Keep what the index learnt, and drop the analyses it kept (a cycle, see run).

        When the process ends with the run (``process_ends``), the analyses are left to the
        exit: freeing them one object at a time cost 0.05-0.07 s of a cold run.
        """
        from .demand import DemandIndex

        if isinstance(self._index, DemandIndex):
            self._cache.update(self._index.take_facts())
        if self._index is not None and not self._options.process_ends:
            self._index.release()


def _run(paths: Sequence[str | Path], options: RunOptions) -> RunResult:
    keys = list(dict.fromkeys(str(path) for path in paths))
    # With the full index (tests, bench) the results are not cached: only the demand-built
    # index records what each result rests on.
    cache_dir = None if options.full_index else options.cache_dir
    mode = "index" if options.project_index else "no index"
    cache = ResultCache(cache_dir, options.lint, mode)
    wants_fix = options.fix or options.diff
    # The stat signature stands for the content: a file whose signature is unchanged is not
    # read. Its digest is trusted for the project index's answers too.
    trusted: dict[str, str] = {}
    moved: list[tuple[str, os.stat_result]] = []
    for key in keys:
        entry = cache.entries.get(key)
        if entry is None:
            continue
        try:
            stat = os.stat(key)
        except OSError:
            continue
        if signature(stat) == entry[0]:
            trusted[key] = entry[1]
        else:
            moved.append((key, stat))
    index_cache = IndexCache(cache_dir if options.project_index else None)
    index = _Lazy(keys, options, index_cache, trusted)
    for key, stat in moved:  # touched or changed: the content decides (it is hashed once)
        # The signature kept is the one taken before the read: a change meanwhile moves it.
        read_at = time.time_ns()
        digest = index.digest(key)
        entry = cache.entries[key]
        if digest is not None and digest == entry[1]:
            entry[0] = signature(stat, read_at)
            trusted[key] = digest
            cache.dirty = True
    raw: dict[str, list[Finding]] = {}
    texts: dict[str, str] = {}
    extras: dict[str, Outcome] = {}
    tasks: list[Task] = []
    cached = 0
    for key in keys:
        entry = cache.entries.get(key)
        if entry is not None and key in trusted and index.still_valid(entry[3]):
            findings = [finding_from_json(item) for item in entry[2]]
            if not (wants_fix and any(f.fix is not None for f in findings)):
                raw[key] = findings
                cached += 1
                continue
        tasks.append(
            Task(
                key,
                options.selected,
                _ignored_here(key, options),
                options.lint,
                options.fix,
                options.unsafe_fixes,
                options.diff,
            )
        )
    linted = 0
    for outcome in run_tasks(tasks, options.jobs, index.get() if tasks else None):
        key = outcome.path
        linted += outcome.linted
        index_cache.update(outcome.facts)
        raw[key] = outcome.findings
        if outcome.text is not None:
            texts[key] = outcome.text
        extras[key] = outcome
        if outcome.cacheable and not outcome.diff:
            cache.entries[key] = [
                outcome.signature,
                outcome.digest,
                [finding_to_json(f) for f in outcome.findings],
                outcome.deps,
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
    index.release()
    index_cache.save(keys)
    warning = cache.save(keys)
    return RunResult(results, cached, linted, [] if warning is None else [warning])
