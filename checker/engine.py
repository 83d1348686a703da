"""Running the rules over many files: decode, pre-filter, lint, fix, cache, suppress.

The cost of a run is dominated by libcst, so the engine's job is to call it as rarely as
possible and on as many cores as there are:

1. a per-project cache (``.ocirace_cache/``) keyed by file content, the lint settings and the
   checker's own code answers for unchanged files without reading them (the stat signature
   is checked first, the content hash only when the signature moved, as ruff does) - so a warm
   run never imports libcst;
2. the rules' text pre-filter (``checker.lint.might_match``) drops files that cannot contain a
   finding before anything is parsed;
3. what remains is linted in a process pool (``--jobs``), one file per task so a single slow
   file does not hold a whole batch.

Suppression (``# noqa``), rule selection and per-file ignores are applied after the cache, so
changing them never invalidates it. Nothing that goes wrong with one file - bytes that are not
text, a parser that rejects valid code, a ``RecursionError`` deep in libcst's metadata - stops
the run: it becomes an ``ORC000`` finding for that file.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from checker.codes import RULES
from checker.model import Edit, Finding, Fix, LintSettings

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

CACHE_DIR_NAME = ".ocirace_cache"
#: Fewer files than this to lint are linted in-process: starting workers costs more.
_POOL_THRESHOLD = 4
#: ``--fix`` re-lints after each round of fixes; real fixes converge in one or two rounds.
_MAX_FIX_ROUNDS = 10

# --------------------------------------------------------------------------------------------
# Source text


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Source:
    """Decoded text plus what is needed to write it back the way it was (encoding, BOM)."""

    # Plain classes rather than dataclasses here and below: each dataclass costs ~1 ms of
    # import time, and a warm run is mostly import time.
    __slots__ = ("bom", "encoding", "text")

    def __init__(self, text: str, encoding: str, bom: bool) -> None:
        self.text = text
        self.encoding = encoding
        self.bom = bom


class SourceProblem(Exception):
    """The bytes are not Python source text; carries the ORC000 finding to report instead."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _orc000(message: str, line: int = 1, column: int = 0) -> Finding:
    return Finding("ORC000", message, line, column, line, column)


def decode_source(data: bytes) -> Source:
    """Decode as Python would (BOM, PEP 263 cookie, else UTF-8); raise SourceProblem if not text."""
    if b"\0" in data:
        raise SourceProblem(
            _orc000(
                "binary file (contains NUL bytes) is not Python source and was not checked; "
                "exclude it or give it another extension"
            )
        )
    bom = data.startswith(codecs.BOM_UTF8)
    encoding = "utf-8"
    if bom or b"coding" in data[:500]:
        import io
        import tokenize

        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            raise SourceProblem(
                _orc000(
                    f"invalid encoding declaration ({exc}); nothing was checked - declare an "
                    "encoding Python knows, such as '# -*- coding: utf-8 -*-'"
                )
            ) from None
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1)
        raise SourceProblem(
            _orc000(
                f"file is not valid {codec} (byte 0x{body[exc.start]:02x}) and was not checked; "
                "save it as UTF-8 or declare its encoding in a PEP 263 coding comment",
                line,
                column,
            )
        ) from None
    return Source(text=text, encoding=codec, bom=bom)


def encode_source(source: Source, text: str) -> bytes:
    """``text`` in the file's original encoding, with its BOM if it had one."""
    data = text.encode(source.encoding)
    return codecs.BOM_UTF8 + data if source.bom else data


def split_lines(text: str) -> list[str]:
    """Physical lines as Python counts them (``str.splitlines`` also splits on form feeds)."""
    return _LINE_BREAK.split(text)


# --------------------------------------------------------------------------------------------
# Suppression comments

# Ruff's grammar: a bare noqa comment suppresses everything on its line; one followed by a
# colon and codes (commas or spaces between them) only those codes. Codes of other tools are
# allowed and ignored.
_NOQA = re.compile(
    r"#\s*(?i:noqa)(?P<sep>:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)?)?"
)


def _noqa_codes(line: str) -> tuple[bool, frozenset[str] | None, str | None]:
    """(has a noqa comment, codes or None for a blanket one, a warning about it or None)."""
    match = _NOQA.search(line)
    if match is None:
        return False, None, None
    if match.group("sep") is None:
        return True, None, None
    raw = match.group("codes")
    if raw is None:
        return (
            True,
            frozenset(),
            "'# noqa:' without codes suppresses nothing; add codes or drop ':'",
        )
    codes = frozenset(code.upper() for code in re.split(r"[\s,]+", raw) if code)
    unknown = sorted(c for c in codes if c.startswith("ORC") and c not in RULES)
    warning = None
    if unknown:
        warning = f"unknown rule code {', '.join(unknown)} in '# noqa'; valid: {', '.join(RULES)}"
    return True, codes, warning


def apply_noqa(
    findings: Iterable[Finding], lines: Sequence[str]
) -> tuple[list[Finding], list[tuple[int, str]]]:
    """Findings not suppressed on their reported line, and (line, warning) for bad comments."""
    kept: list[Finding] = []
    warnings: dict[int, str] = {}
    for finding in findings:
        text = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        present, codes, warning = _noqa_codes(text)
        if warning is not None:
            warnings[finding.line] = warning
        if present and (codes is None or finding.code in codes):
            continue
        kept.append(finding)
    return kept, sorted(warnings.items())


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
# Cache


def _finding_to_json(finding: Finding) -> list[Any]:
    fix = None
    if finding.fix is not None:
        fix = [
            finding.fix.message,
            finding.fix.applicability,
            [[e.line, e.column, e.end_line, e.end_column, e.content] for e in finding.fix.edits],
        ]
    return [
        finding.code,
        finding.message,
        finding.line,
        finding.column,
        finding.end_line,
        finding.end_column,
        finding.hint,
        fix,
    ]


def _finding_from_json(raw: list[Any]) -> Finding:
    code, message, line, column, end_line, end_column, hint, fix = raw
    return Finding(
        code,
        message,
        line,
        column,
        end_line,
        end_column,
        hint,
        None if fix is None else Fix(fix[0], fix[1], tuple(Edit(*edit) for edit in fix[2])),
    )


def _code_fingerprint() -> str:
    """Changes whenever the checker's code changes, even without a version bump (dev installs)."""
    # The files' sizes and times stand in for the version: a new release installs new files.
    package = Path(__file__).parent
    parts = [sys.version.split()[0]]
    stack = [package]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir() and not entry.name.startswith((".", "__pycache__")):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


class _Cache:
    """``results.json``: {"key": ..., "files": {path: [mtime_ns, size, digest, findings]}}.

    ``key`` (the checker's code and the lint settings) is stored in the file and compared as
    text rather than hashed into the file name: no hashing on the warm path. A different key
    means the whole cache is stale. Written atomically with the project's own writer so two
    concurrent runs (pre-commit and an editor) leave one's cache or the other's, never a
    torn file.
    """

    def __init__(self, directory: Path | None, settings: LintSettings) -> None:
        self.directory = directory
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        self.file: Path | None = None
        if directory is None:
            return
        self.key = _code_fingerprint() + "\n" + repr(settings)
        self.file = directory / "results.json"
        try:
            with self.file.open("rb") as handle:
                loaded = json.load(handle)
        except (OSError, ValueError):
            return  # no cache yet, or a corrupt one: start afresh
        if isinstance(loaded, dict) and loaded.get("key") == self.key:
            files = loaded.get("files")
            if isinstance(files, dict):
                self.entries = files

    def save(self, seen: Iterable[str]) -> str | None:
        """Write the cache if it changed; a warning for stderr if it could not be written.

        Entries of files this run did not see are kept (pre-commit checks a few files at a
        time) unless the file no longer exists, so deleted files do not pile up.
        """
        if self.file is None or self.directory is None or not self.dirty:
            return None
        from pytest_ocirace import atomic_write

        checked = set(seen)
        for key in [key for key in self.entries if key not in checked]:
            if not os.path.exists(key):
                del self.entries[key]

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tag = self.directory / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n"
                    "# This file is a cache directory tag created by ocirace.\n",
                    encoding="ascii",
                )
                (self.directory / ".gitignore").write_text("*\n", encoding="ascii")
            document = {"key": self.key, "files": self.entries}
            with atomic_write(self.file, "wb", fsync=False) as handle:
                handle.write(json.dumps(document, separators=(",", ":")).encode("utf-8"))
        except OSError as exc:
            return f"warning: could not write the cache in {self.directory}: {exc}; use --no-cache"
        return None


# --------------------------------------------------------------------------------------------
# Per-file work (runs in worker processes)


class _Task:
    """One file for a worker; plain attributes so it pickles cheaply."""

    __slots__ = (
        "cached_digest",
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
        cached_digest: str | None,
        selected: frozenset[str],
        ignored: frozenset[str],
        settings: LintSettings,
        fix: bool,
        unsafe_fixes: bool,
        diff: bool,
    ) -> None:
        self.path = path
        #: Digest of the cached content, so a worker can tell "touched but unchanged".
        self.cached_digest = cached_digest
        self.selected = selected
        #: Codes switched off for this file by per-file-ignores (never fixed).
        self.ignored = ignored
        self.settings = settings
        self.fix = fix
        self.unsafe_fixes = unsafe_fixes
        self.diff = diff


class _Outcome:
    """What a worker learnt about one file."""

    __slots__ = (
        "cacheable",
        "diff",
        "digest",
        "findings",
        "fixed",
        "linted",
        "mtime_ns",
        "path",
        "size",
        "text",
        "warnings",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self.mtime_ns = 0
        self.size = 0
        self.digest = ""
        #: Raw findings (before noqa and selection) for the cache; None = "same as the cache".
        self.findings: list[Finding] | None = None
        self.text: str | None = None
        self.linted = False
        self.fixed = 0
        self.diff = ""
        self.warnings: list[str] = []
        self.cacheable = True


def _digest(data: bytes) -> str:
    import hashlib  # only files that changed are hashed; a warm run never needs it

    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _lint(text: str, path: str, settings: LintSettings) -> list[Finding]:
    from checker import lint

    try:
        return list(lint.lint_source(text, path, settings))
    except RecursionError:
        return [_orc000("too deeply nested for the parser's metadata; nothing was checked")]
    except Exception as exc:  # the rules promise not to raise; one bad file must not stop a run
        return [
            _orc000(
                f"internal error while checking ({type(exc).__name__}: {exc}); "
                "nothing was checked - please report this file"
            )
        ]


def _applicable(finding: Finding, task: _Task, lines: Sequence[str], unsafe: bool) -> bool:
    if finding.fix is None or finding.code not in task.selected or finding.code in task.ignored:
        return False
    if finding.fix.applicability == "unsafe" and not unsafe:
        return False
    return bool(apply_noqa([finding], lines)[0])


def _fix_loop(
    text: str, findings: list[Finding], task: _Task, unsafe: bool
) -> tuple[str, list[Finding], int, str | None]:
    """Apply fixes until none applies; (text, its findings, fixes applied, problem or None)."""
    import ast

    from checker.fixes import apply_fixes

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


def _process(task: _Task) -> _Outcome:
    outcome = _Outcome(task.path)
    try:
        with open(task.path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except OSError as exc:
        outcome.findings = [_orc000(f"cannot read the file: {exc.strerror}; nothing was checked")]
        outcome.cacheable = False
        return outcome
    outcome.mtime_ns, outcome.size = stat.st_mtime_ns, stat.st_size
    outcome.digest = _digest(data)
    wants_fix = task.fix or task.diff
    if outcome.digest == task.cached_digest and not wants_fix:
        return outcome  # touched, not changed: the cached findings stand
    try:
        source = decode_source(data)
    except SourceProblem as bad_source:
        outcome.findings = [bad_source.finding]
        return outcome
    outcome.text = source.text
    from checker import lint

    if not source.text.strip() or not lint.might_match(source.text):
        outcome.findings = []
        return outcome
    outcome.linted = True
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
    _write_atomically(Path(task.path), new_data, stat.st_mode)
    new_stat = os.stat(task.path)
    outcome.mtime_ns, outcome.size = new_stat.st_mtime_ns, new_stat.st_size
    outcome.digest = _digest(new_data)
    outcome.text, outcome.findings, outcome.fixed = fixed_text, fixed_findings, applied
    return outcome


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    from pytest_ocirace import atomic_write

    with atomic_write(path, "wb") as handle:
        handle.write(data)
    # The writer creates a fresh file; give it back the permissions the original had.
    if os.stat(path).st_mode != mode:
        os.chmod(path, mode & 0o7777)


def _process_chunk(tasks: list[_Task]) -> list[_Outcome]:
    return [_process(task) for task in tasks]


def _crashed(task: _Task) -> _Outcome:
    outcome = _Outcome(task.path)
    outcome.findings = [
        _orc000(
            "the worker process checking this file died (a crash in the parser?); nothing "
            "was checked - please report this file"
        )
    ]
    outcome.cacheable = False
    return outcome


def _run_tasks(tasks: list[_Task], jobs: int) -> Iterator[_Outcome]:
    """Outcomes in any order; a worker that dies (segfault, OOM kill) costs one ORC000."""
    if jobs <= 1 or len(tasks) < _POOL_THRESHOLD:
        for task in tasks:
            yield _process(task)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    size = 1 if len(tasks) < 200 else 4
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    suspects: list[_Task] = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks))) as pool:
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
            retry = retry or ProcessPoolExecutor(max_workers=1)
            try:
                yield retry.submit(_process, task).result()
            except BrokenProcessPool:
                retry.shutdown(wait=True)
                retry = None
                yield _crashed(task)
    finally:
        if retry is not None:
            retry.shutdown(wait=True)


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
    """Check ``paths`` (already discovered) and return what to report, file by file."""
    cache = _Cache(options.cache_dir, options.lint)
    wants_fix = options.fix or options.diff
    raw: dict[str, list[Finding]] = {}
    texts: dict[str, str] = {}
    extras: dict[str, _Outcome] = {}
    tasks: list[_Task] = []
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
                    findings = [_finding_from_json(item) for item in entry[3]]
                    if not (wants_fix and any(f.fix is not None for f in findings)):
                        raw[key] = findings
                        cached += 1
                        continue
        tasks.append(
            _Task(
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
    for outcome in _run_tasks(tasks, options.jobs):
        key = outcome.path
        linted += outcome.linted
        if outcome.findings is None:
            entry = cache.entries[key]
            entry[0], entry[1] = outcome.mtime_ns, outcome.size
            cache.dirty = True
            raw[key] = [_finding_from_json(item) for item in entry[3]]
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
                [_finding_to_json(f) for f in outcome.findings],
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
    warning = cache.save(str(path) for path in paths)
    return RunResult(results, cached, linted, [] if warning is None else [warning])
