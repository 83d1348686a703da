"""The pure parts of the real-world checker corpus: the site file, fingerprints, matching.

Kept free of I/O beyond reading files and free of subprocesses, so that
``tests/bench/test_checker_corpus.py`` can pin them down quickly: a scorer whose site parsing
or matching rotted silently would print confident but wrong recall numbers.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "CAUSES",
    "LABELS",
    "CorpusError",
    "Finding",
    "Project",
    "Score",
    "Site",
    "check_fingerprint",
    "load_corpus",
    "naive_findings",
    "score",
    "site_span",
]

FORMAT = 1
LABELS = ("UNGUARDED", "GUARDED", "NOT_APPLICABLE")
# The causes of misses and false positives named in issue 10, plus the plain kinds of
# non-publish sites.  A closed list, so a typo cannot silently open a new group.
CAUSES = (
    "direct",  # nothing hard: temp and publish side by side in one function
    "temp-elsewhere",  # the temp file is made in another function or module
    "guard-elsewhere",  # the retry/accept/lock is in a caller or a wrapper
    "alias",  # the rename is reached through an alias, a wrapper or another module's name
    "tuple-unpack",  # the temp comes back through tuple unpacking
    "fp-name",  # the temp is `f.name` of an open file object
    "unique-too-broad",  # a name that looks unique but every writer shares
    "per-writer-target",  # the target itself is unique per writer
    "broad-handler",  # an `except Exception/OSError` that logs or re-raises, not a guard
    "remove-then-rename",  # the target is removed first, then renamed onto
    "path-attribute",  # the Path is built with `/` from an attribute
    "exclusive-create",  # os.rename/os.link used on purpose as publish-if-absent
    "lock",  # a lock shared by the writers is held across the publish
    "retry",  # a retry loop on the Windows errors
    "accept-existing",  # FileExistsError/PermissionError accepted after an "already there" check
    "best-effort",  # the failure is caught and harmless: a cache that is only an optimisation
    "backup",  # a rename to a backup or stash name, not a publish
    "user-move",  # a CLI or API moving the user's own files as asked
    "windows-branch",  # code that only runs on Windows and already handles it, or never on it
    "directory",  # a directory is published
    "test",  # test code of the project, not shipped behaviour
    "ctypes",  # MoveFileExW and friends through ctypes
)
_SITE_KEYS = {"project", "path", "line", "call", "label", "causes", "reason"}
_PROJECT_KEYS = {"name", "version", "source", "packages", "exclude", "repo", "commit", "note"}


class CorpusError(Exception):
    """A problem with the site file or the materialised tree; the message is one line."""


@dataclass(frozen=True)
class Project:
    """A PyPI distribution pinned to one version, and which of its directories to lay out."""

    name: str
    version: str
    source: str  # "sdist" or "wheel": which archive pip downloads
    packages: tuple[str, ...]  # directories (or files) inside the archive to materialise
    exclude: tuple[str, ...] = ()  # directories under `packages` to leave out (vendored trees)
    repo: str = ""
    commit: str = ""

    @property
    def key(self) -> str:
        """The directory name of this project in the materialised tree."""
        return f"{self.name}-{self.version}"


@dataclass(frozen=True)
class Site:
    """One publish call in a pinned project, with a reviewer-checkable label."""

    project: str
    path: str  # inside the archive's top directory, POSIX separators
    line: int
    call: str  # text that must occur on `line`: detects a drifted pin or a wrong line
    label: str
    causes: tuple[str, ...]
    reason: str

    def tree_path(self, projects: Mapping[str, Project]) -> str:
        """The site's file relative to the root of the materialised tree."""
        return f"{projects[self.project].key}/{self.path}"


@dataclass(frozen=True)
class Finding:
    """A tool's report, reduced to what matching needs."""

    path: str  # relative to the tree root, POSIX separators
    line: int
    code: str = ""
    message: str = ""


@dataclass
class Score:
    """One tool's result against the labels."""

    tool: str
    tp: list[Site] = field(default_factory=list)
    fp: list[tuple[Site, Finding]] = field(default_factory=list)
    fn: list[Site] = field(default_factory=list)
    tn: list[Site] = field(default_factory=list)
    unlabelled: list[Finding] = field(default_factory=list)
    seconds: float | None = None

    @property
    def recall(self) -> float:
        found = len(self.tp) + len(self.fn)
        return len(self.tp) / found if found else 0.0

    @property
    def precision(self) -> float:
        flagged = len(self.tp) + len(self.fp)
        return len(self.tp) / flagged if flagged else 0.0


def _need(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise CorpusError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CorpusError(f"{where}: {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _relative(value: str, where: str) -> str:
    pure = PurePosixPath(value)
    if "\\" in value or pure.is_absolute() or ".." in pure.parts or not value:
        raise CorpusError(f"{where}: path {value!r} must be relative, with '/' and no '..'")
    return str(pure)


def load_corpus(source: Path | str) -> tuple[dict[str, Project], list[Site]]:
    """Parse and validate the site file; every problem is a one-line `CorpusError`."""
    path = Path(source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read the site file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{path}: invalid TOML ({exc})") from None
    if data.get("format") != FORMAT:
        raise CorpusError(f"{path}: 'format = {FORMAT}' expected, got {data.get('format')!r}")
    projects: dict[str, Project] = {}
    for index, table in enumerate(data.get("project", [])):
        where = f"{path}: project #{index + 1}"
        unknown = set(table) - _PROJECT_KEYS
        if unknown:
            raise CorpusError(f"{where}: unknown key(s) {sorted(unknown)}")
        name = _need(table, "name", str, where)
        source_kind = _need(table, "source", str, where)
        if source_kind not in ("sdist", "wheel"):
            raise CorpusError(f"{where}: source must be 'sdist' or 'wheel', got {source_kind!r}")
        packages = _need(table, "packages", list, where)
        if not packages or not all(isinstance(p, str) for p in packages):
            raise CorpusError(f"{where}: packages must be a non-empty list of paths")
        if name in projects:
            raise CorpusError(f"{where}: project {name!r} is listed twice")
        projects[name] = Project(
            name=name,
            version=_need(table, "version", str, where),
            source=source_kind,
            packages=tuple(_relative(p, where) for p in packages),
            exclude=tuple(_relative(p, where) for p in _list(table, "exclude", where)),
            repo=table.get("repo", ""),
            commit=table.get("commit", ""),
        )
    sites: list[Site] = []
    seen: set[tuple[str, str, int]] = set()
    for index, table in enumerate(data.get("site", [])):
        where = f"{path}: site #{index + 1}"
        unknown = set(table) - _SITE_KEYS
        if unknown:
            raise CorpusError(f"{where}: unknown key(s) {sorted(unknown)}")
        project = _need(table, "project", str, where)
        if project not in projects:
            raise CorpusError(f"{where}: project {project!r} has no [[project]] table")
        site_path = _relative(_need(table, "path", str, where), where)
        where = f"{where} ({project} {site_path})"
        line = _need(table, "line", int, where)
        if line < 1:
            raise CorpusError(f"{where}: line must be >= 1")
        label = _need(table, "label", str, where)
        if label not in LABELS:
            raise CorpusError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
        causes = _need(table, "causes", list, where)
        bad = [c for c in causes if c not in CAUSES]
        if not causes or bad:
            raise CorpusError(f"{where}: causes must name one or more of CAUSES, bad: {bad}")
        reason = _need(table, "reason", str, where).strip()
        if not reason or "\n" in reason:
            raise CorpusError(f"{where}: reason must be one non-empty line")
        call = _need(table, "call", str, where)
        if not call.strip():
            raise CorpusError(f"{where}: call fingerprint is empty")
        if not any(_inside(site_path, package) for package in projects[project].packages):
            raise CorpusError(f"{where}: path is outside the project's packages")
        key = (project, site_path, line)
        if key in seen:
            raise CorpusError(f"{where}: line {line} is labelled twice")
        seen.add(key)
        sites.append(Site(project, site_path, line, call, label, tuple(causes), reason))
    return projects, sites


def _list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CorpusError(f"{where}: {key!r} must be a list of paths")
    return value


def _inside(path: str, package: str) -> bool:
    return path == package or path.startswith(package.rstrip("/") + "/")


def check_fingerprint(site: Site, text: str) -> str | None:
    """Return a one-line problem if `site.call` is not on `site.line` of `text`, else None."""
    lines = text.splitlines()
    if site.line > len(lines):
        return f"{site.project} {site.path}:{site.line}: the file has only {len(lines)} lines"
    actual = lines[site.line - 1]
    if _squash(site.call) not in _squash(actual):
        return (
            f"{site.project} {site.path}:{site.line}: expected {site.call!r}, found "
            f"{actual.strip()[:80]!r} (the pinned file drifted or the line is wrong)"
        )
    return None


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def site_span(text: str, line: int) -> tuple[int, int]:
    """The lines covered by the outermost call that starts on `line` (else just `line`).

    A tool may report a multi-line call at its first or at a later line; the site owns them all.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return line, line
    end = line
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == line:
            end = max(end, node.end_lineno or line)
    return line, end


def score(
    tool: str,
    sites: Sequence[Site],
    projects: Mapping[str, Project],
    findings: Iterable[Finding],
    spans: Mapping[tuple[str, int], tuple[int, int]] | None = None,
) -> Score:
    """Match findings to sites by (file, line): TP, FP, FN, TN, and unlabelled findings.

    Several findings at one site count once (a tool reporting ORC001 and ORC003 at one call
    made one decision about it).
    """
    result = Score(tool)
    by_line: dict[tuple[str, int], Site] = {}
    for site in sites:
        file = site.tree_path(projects)
        first, last = (spans or {}).get((file, site.line), (site.line, site.line))
        for line in range(first, last + 1):
            by_line.setdefault((file, line), site)
    hit: dict[Site, Finding] = {}
    for reported in findings:
        owner = by_line.get((reported.path, reported.line))
        if owner is None:
            result.unlabelled.append(reported)
        else:
            hit.setdefault(owner, reported)
    for site in sites:
        finding = hit.get(site)
        if site.label == "UNGUARDED":
            (result.tp if finding is not None else result.fn).append(site)
        elif finding is not None:
            result.fp.append((site, finding))
        else:
            result.tn.append(site)
    result.unlabelled.sort(key=lambda f: (f.path, f.line))
    return result


# --------------------------------------------------------------------------- naive matcher
# The baseline the checker must beat: every call that syntactically looks like a rename,
# replace, move or link is a finding.  It follows `import os as x` and `from os import
# rename` within one file and nothing else; `.replace(x)` with exactly one argument counts
# (str.replace needs two), `.rename(...)` always (no str method of that name).
_MODULE_FUNCS = {
    "os": {"rename", "replace", "renames", "link"},
    "shutil": {"move"},
}
_WINAPI = {"MoveFileExW", "MoveFileEx", "MoveFileW", "MoveFileA", "MoveFileExA", "ReplaceFileW"}


def naive_findings(path: str, text: str) -> Iterator[Finding]:
    """Yield one finding per rename-like call in `text`, which lives at tree path `path`."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    modules: dict[str, str] = {}
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in _MODULE_FUNCS:
                    modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in _MODULE_FUNCS:
            for alias in node.names:
                if alias.name in _MODULE_FUNCS[node.module]:
                    names.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        hit = False
        if isinstance(func, ast.Name):
            hit = func.id in names or func.id in _WINAPI
        elif isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id in modules:
                hit = func.attr in _MODULE_FUNCS[modules[base.id]]
            elif func.attr in _WINAPI:
                hit = True
            elif func.attr == "rename":
                hit = not isinstance(base, ast.Constant)
            elif func.attr == "replace":
                hit = (
                    len(node.args) == 1
                    and not node.keywords
                    and not isinstance(base, ast.Constant)
                    and not isinstance(node.args[0], ast.Starred)
                )
        if hit:
            yield Finding(path, node.lineno, "NAIVE", ast.unparse(func))
