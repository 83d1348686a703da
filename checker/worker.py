"""Per-file work, in worker processes: read, decode, pre-filter, lint, fix; and the pool."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .cache import signature
from .decoding import SourceProblem, decode_source, encode_source, split_lines
from .model import Finding, LintSettings
from .noqa import apply_noqa
from .unchecked import unchecked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .project_index import ProjectIndex

__all__ = ["Outcome", "Task", "run_tasks"]

#: Fewer files than this to lint are linted in-process: starting workers costs more.
_POOL_THRESHOLD = 4
#: ``--fix`` re-lints after each round of fixes; real fixes converge in one or two rounds.
_MAX_FIX_ROUNDS = 10


class Task:
    """One file for a worker; plain attributes so it pickles cheaply."""

    __slots__ = (
        "diff",
        "fix",
        "ignored",
        "path",
        "selected",
        "settings",
        "unsafe_fixes",
    )

    def __init__(
        self,
        path: str,
        selected: frozenset[str],
        ignored: frozenset[str],
        settings: LintSettings,
        fix: bool,
        unsafe_fixes: bool,
        diff: bool,
    ) -> None:
        self.path = path
        self.selected = selected
        #: Codes switched off for this file by per-file-ignores (never fixed).
        self.ignored = ignored
        self.settings = settings
        self.fix = fix
        self.unsafe_fixes = unsafe_fixes
        self.diff = diff


class Outcome:
    """What a worker learnt about one file."""

    __slots__ = (
        "cacheable",
        "deps",
        "diff",
        "digest",
        "facts",
        "findings",
        "fixed",
        "linted",
        "path",
        "signature",
        "text",
        "warnings",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        #: The file's signature as read (:func:`.cache.signature`; ``[]``: not to be trusted).
        self.signature: list[int] = []
        self.digest = ""
        #: Raw findings (before noqa and selection) for the cache.
        self.findings: list[Finding] = []
        #: What the findings rest on in other files (:meth:`.DemandIndex.deps_of`), or None.
        self.deps: Any = None
        #: What the project index learnt about files meanwhile (:mod:`.index_cache`).
        self.facts: dict[str, Any] = {}
        self.text: str | None = None
        self.linted = False
        self.fixed = 0
        self.diff = ""
        self.warnings: list[str] = []
        self.cacheable = True


#: The project index of this run, set once per process (:func:`_set_index`).
_INDEX: ProjectIndex | None = None


def _set_index(index: ProjectIndex | None) -> None:
    """Hand this process the run's project index (the pool's initializer)."""
    global _INDEX
    _INDEX = index


def _start_worker(index: ProjectIndex | None) -> None:
    """A worker's initializer: the run's index, and the collector paused as in the engine.

    The worker keeps analyses alive for the caller search, and a collector re-scanning them
    was the largest cost of a run (see :func:`.engine.run`); the process ends with the run.
    """
    import gc

    gc.disable()
    _set_index(index)


def _lint(text: str, path: str, settings: LintSettings) -> list[Finding]:
    from . import lint

    index = None if _INDEX is None else _INDEX.view_for(path)
    try:
        return list(lint.lint_source(text, path, settings, index))
    except RecursionError:
        return [unchecked("too deeply nested for the parser's metadata; nothing was checked")]
    except Exception as exc:  # the rules promise not to raise; one bad file must not stop a run
        return [
            unchecked(
                f"internal error while checking ({type(exc).__name__}: {exc}); "
                "nothing was checked - please report this file"
            )
        ]


def _applicable(finding: Finding, task: Task, lines: Sequence[str], unsafe: bool) -> bool:
    if finding.fix is None or finding.code not in task.selected or finding.code in task.ignored:
        return False
    if finding.fix.applicability == "unsafe" and not unsafe:
        return False
    return bool(apply_noqa([finding], lines)[0])


def _fix_loop(
    text: str, findings: list[Finding], task: Task, unsafe: bool
) -> tuple[str, list[Finding], int, str | None]:
    """Apply fixes until none applies; (text, its findings, fixes applied, problem or None)."""
    import ast

    from .fixes import apply_fixes

    applied = 0
    current, current_findings = text, findings
    for _ in range(_MAX_FIX_ROUNDS):
        lines = split_lines(current)
        fixes = [
            f.fix
            for f in current_findings
            if f.fix is not None and _applicable(f, task, lines, unsafe)
        ]
        if not fixes:
            break
        updated = apply_fixes(current, fixes)
        if updated == current:
            break
        try:
            ast.parse(updated)
        except (SyntaxError, ValueError) as exc:
            if not _parses(text):
                return text, findings, 0, None  # already broken: ORC000 says so
            return (
                text,
                findings,
                0,
                (
                    f"the fixes would leave invalid Python ({exc}); nothing was changed - "
                    "please report this file"
                ),
            )
        applied += len(fixes)
        current = updated
        current_findings = _lint(current, task.path, task.settings)
    return current, current_findings, applied, None


def _parses(text: str) -> bool:
    import ast

    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _process(task: Task) -> Outcome:
    """One file's outcome, with what its findings rest on in other files (for the cache)."""
    outcome = _examine(task)
    if _INDEX is not None:
        from .demand import DemandIndex

        if isinstance(_INDEX, DemandIndex):
            if outcome.linted:
                outcome.deps = _INDEX.deps_of(task.path)
            outcome.facts = _INDEX.take_facts()
    return outcome


def _examine(task: Task) -> Outcome:
    from .demand import content_digest

    outcome = Outcome(task.path)
    read_at = time.time_ns()
    try:
        with open(task.path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except OSError as exc:
        outcome.findings = [unchecked(f"cannot read the file: {exc.strerror}; nothing was checked")]
        outcome.cacheable = False
        return outcome
    outcome.signature = signature(stat, read_at)
    outcome.digest = content_digest(data)
    wants_fix = task.fix or task.diff
    if _INDEX is not None:
        from .demand import DemandIndex

        if isinstance(_INDEX, DemandIndex):
            _INDEX.known_digest(task.path, outcome.digest)
    try:
        source = decode_source(data)
    except SourceProblem as bad_source:
        outcome.findings = [bad_source.finding]
        return outcome
    outcome.text = source.text
    from . import lint

    if not source.text.strip():
        outcome.findings = []
        return outcome
    if not lint.might_match(source.text):
        # No finding is possible, but a file that does not parse was not checked either:
        # it is reported (ORC000) like any other, so "nothing found" never hides it. One
        # the caller search already parsed has no syntax error: not parsed again.
        if _INDEX is not None and _INDEX.parsed(task.path, source.text):
            outcome.findings = []
        else:
            outcome.findings = lint.syntax_problems(source.text, task.path)
        return outcome
    outcome.linted = True
    if _INDEX is not None:
        from .demand import DemandIndex

        if isinstance(_INDEX, DemandIndex):
            _INDEX.before_lint(task.path, source.text)
    findings = _lint(source.text, task.path, task.settings)
    outcome.findings = findings
    if not wants_fix or not any(f.fix is not None for f in findings):
        return outcome
    fixed_text, fixed_findings, applied, problem = _fix_loop(
        source.text, findings, task, unsafe=task.unsafe_fixes or task.diff
    )
    if problem is not None:
        outcome.warnings.append(problem)
        return outcome
    if applied == 0:
        return outcome
    if task.diff:
        import difflib

        outcome.diff = "".join(
            difflib.unified_diff(
                source.text.splitlines(keepends=True),
                fixed_text.splitlines(keepends=True),
                fromfile=task.path,
                tofile=task.path,
            )
        )
        return outcome
    new_data = encode_source(source, fixed_text)
    written_at = time.time_ns()
    _write_atomically(Path(task.path), new_data, stat.st_mode)
    outcome.signature = signature(os.stat(task.path), written_at)
    outcome.digest = content_digest(new_data)
    outcome.text, outcome.findings, outcome.fixed = fixed_text, fixed_findings, applied
    return outcome


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    from pytest_ocirace import atomic_write

    with atomic_write(path, "wb") as handle:
        handle.write(data)
    # The writer creates a fresh file; give it back the permissions the original had.
    if os.stat(path).st_mode != mode:
        os.chmod(path, mode & 0o7777)


def _process_chunk(tasks: list[Task]) -> list[Outcome]:
    return [_process(task) for task in tasks]


def _crashed(task: Task) -> Outcome:
    outcome = Outcome(task.path)
    outcome.findings = [
        unchecked(
            "the worker process checking this file died (a crash in the parser?); nothing "
            "was checked - please report this file"
        )
    ]
    outcome.cacheable = False
    return outcome


def run_tasks(tasks: list[Task], jobs: int, index: ProjectIndex | None = None) -> Iterator[Outcome]:
    """Outcomes in any order; a worker that dies (segfault, OOM kill) costs one ORC000.

    The project ``index`` is built once by the engine and handed to each worker once, by
    the pool's initializer (not with every task).
    """
    _set_index(index)
    if jobs <= 1 or len(tasks) < _POOL_THRESHOLD:
        for task in tasks:
            yield _process(task)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    size = 1 if len(tasks) < 200 else 4
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    suspects: list[Task] = []
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(chunks)), initializer=_start_worker, initargs=(index,)
    ) as pool:
        futures = {pool.submit(_process_chunk, chunk): chunk for chunk in chunks}
        for future in as_completed(futures):
            try:
                yield from future.result()
            except BrokenProcessPool:
                suspects.extend(futures[future])
    # After a crash every unfinished chunk fails; retry those files one by one so only the
    # file that really kills its worker is reported.
    retry: ProcessPoolExecutor | None = None
    try:
        for task in suspects:
            retry = retry or ProcessPoolExecutor(
                max_workers=1, initializer=_start_worker, initargs=(index,)
            )
            try:
                yield retry.submit(_process, task).result()
            except BrokenProcessPool:
                retry.shutdown(wait=True)
                retry = None
                yield _crashed(task)
    finally:
        if retry is not None:
            retry.shutdown(wait=True)
