"""The pure parts of the real-world harness: data files, JUnit outcomes, the comparison,
the classification of new failures and the table.

Nothing here starts a process or touches the network, so ``tests/bench/`` can check it in
the default suite: the harness itself is run by hand (it downloads and installs real
projects), and without these tests its parsing could rot unnoticed between runs.
"""

from __future__ import annotations

import fnmatch
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project depends on tomli there
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
PROJECTS_FILE = HERE / "projects.toml"
CLASSIFICATION_FILE = HERE / "classification.toml"

PASSED, FAILED, ERROR, SKIPPED, MISSING = "passed", "failed", "error", "skipped", "missing"
OUTCOMES = (PASSED, FAILED, ERROR, SKIPPED)

#: Classification kinds. ``windows``: real Windows fails the test too (the failure is the
#: true Windows error; docs/compatibility.md names it). ``plugin``: the simulation is wrong
#: and the plugin must change. ``limit``: something the simulation cannot reach (C
#: libraries' own I/O, other processes) that must at least get a one-line error.
KINDS = ("windows", "plugin", "limit")

#: The cause categories of issue 8, plus ``hung`` (the run did not finish in time).
CATEGORIES = (
    "drives",
    "real-fds",
    "pathlib-at-import",
    "paths-at-import",
    "null-byte",
    "file-locks",
    "platform-at-import",
    "platform-identity",
    "frames-shifted",
    "real-tree-invisible",
    "c-library-io",
    "subprocess",
    "teardown-cascade",
    "race-output",
    "injected-unbounded",
    "hung",
    "module-proxy",
    "windows-true",
    "skipped-on-windows",
    "state-between-tests",
    "other",
)


class HarnessError(Exception):
    """Bad input to the harness: one line, naming the problem and the fix."""


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    deps: tuple[str, ...]
    args: tuple[str, ...]
    why: str
    #: Options for the ``--ocirace`` run only: what this project's users would configure
    #: (``--ocirace-windows-import-modules=NAME`` for a library that picks its platform at
    #: import), so the table measures the plugin as documented, not its defaults alone.
    ocirace_args: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Rule:
    project: str
    test: str
    error: str
    category: str
    kind: str
    why: str

    def matches(self, project: str, test_id: str, message: str) -> bool:
        if not fnmatch.fnmatchcase(project, self.project):
            return False
        if not fnmatch.fnmatchcase(test_id, self.test):
            return False
        return fnmatch.fnmatchcase(message, self.error)


@dataclass(frozen=True)
class Outcome:
    outcome: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class RunResult:
    """One pytest run of one project: per-test outcomes plus what the process did."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    wall: float = 0.0
    returncode: int | None = None
    hung: bool = False
    hung_after_summary: bool = False
    output_bytes: int = 0
    tail: str = ""
    junit_missing: bool = False
    #: Files the run created in the project's source tree (its real working directory).
    stray_files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for item in self.outcomes.values():
            counts[item.outcome] += 1
        return counts


@dataclass(frozen=True)
class NewFailure:
    test_id: str
    outcome: str
    message: str
    rule: Rule | None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise HarnessError(f"{path}: file not found; restore it from git") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: not valid TOML ({exc}); fix the file") from None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HarnessError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _string(entry: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise HarnessError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


def load_projects(path: Path = PROJECTS_FILE) -> list[Project]:
    data = _load_toml(path)
    projects: list[Project] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("project", [])):
        where = f"{path.name}: project #{index + 1}"
        name = _string(entry, "name", where)
        version = _string(entry, "version", where)
        if any(ch in version for ch in "<>=!~*, "):
            raise HarnessError(f"{where}: version {version!r} must be an exact pin like '1.2.3'")
        if name in seen:
            raise HarnessError(f"{where}: project {name!r} is listed twice; keep one entry")
        seen.add(name)
        projects.append(
            Project(
                name=name,
                version=version,
                deps=_strings(entry.get("deps", []), f"{where} deps"),
                args=_strings(entry.get("args", []), f"{where} args"),
                why=_string(entry, "why", where, default=""),
                ocirace_args=_strings(entry.get("ocirace_args", []), f"{where} ocirace_args"),
            )
        )
    if not projects:
        raise HarnessError(f"{path}: no [[project]] entries; add at least one")
    return projects


def load_rules(path: Path = CLASSIFICATION_FILE) -> list[Rule]:
    data = _load_toml(path)
    rules: list[Rule] = []
    for index, entry in enumerate(data.get("rule", [])):
        where = f"{path.name}: rule #{index + 1}"
        kind = _string(entry, "kind", where)
        if kind not in KINDS:
            raise HarnessError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        category = _string(entry, "category", where)
        if category not in CATEGORIES:
            raise HarnessError(
                f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}"
            )
        rules.append(
            Rule(
                project=_string(entry, "project", where, default="*"),
                test=_string(entry, "test", where, default="*"),
                error=_string(entry, "error", where, default="*"),
                category=category,
                kind=kind,
                why=_string(entry, "why", where),
            )
        )
    return rules


_RANK = {PASSED: 0, SKIPPED: 1, ERROR: 2, FAILED: 3}


def _first_line(text: str, limit: int = 240) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def parse_junit(path: Path) -> dict[str, Outcome]:
    """Per-test outcomes from a pytest JUnit XML file, streamed (the file may be huge).

    A test is ``classname::name``. A test that failed in its call and errored in teardown
    has both elements; the failure wins, since it is the first thing that went wrong.
    Repeated ids (a test collected twice) keep their worst outcome.
    """
    outcomes: dict[str, Outcome] = {}
    try:
        for _event, elem in ET.iterparse(path, events=("end",)):
            if elem.tag != "testcase":
                continue
            test_id = f"{elem.get('classname', '')}::{elem.get('name', '')}"
            outcome, message = PASSED, ""
            for child in elem:
                tag = child.tag
                if tag == "failure":
                    text = child.get("message") or (child.text or "")
                    if _RANK[FAILED] > _RANK[outcome]:
                        outcome, message = FAILED, _first_line(text)
                elif tag == "error":
                    text = child.get("message") or (child.text or "")
                    if _RANK[ERROR] > _RANK[outcome]:
                        outcome, message = ERROR, _first_line(text)
                elif tag == "skipped" and outcome == PASSED:
                    outcome, message = SKIPPED, _first_line(child.get("message") or "")
            try:
                seconds = float(elem.get("time", "0") or 0)
            except ValueError:
                seconds = 0.0
            old = outcomes.get(test_id)
            if old is None or _RANK[outcome] > _RANK[old.outcome]:
                outcomes[test_id] = Outcome(outcome, message, seconds)
            elem.clear()
    except ET.ParseError as exc:
        raise HarnessError(f"{path}: unreadable JUnit XML ({exc})") from None
    return outcomes


_VERBOSE_LINE = re.compile(
    r"^(?P<nodeid>[^\s:][^\n]*?::[^\n]*?) (?P<word>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b"
)
_VERBOSE_OUTCOME = {
    "PASSED": PASSED,
    "XPASS": PASSED,
    "FAILED": FAILED,
    "ERROR": ERROR,
    "SKIPPED": SKIPPED,
    "XFAIL": SKIPPED,
}


def junit_id(nodeid: str) -> str:
    """A pytest node id as JUnit XML names it (``tests.test_x.TestC::test_m[p]``)."""
    path, _, rest = nodeid.partition("::")
    # A parameter id may itself contain "::"; only the part before "[" names classes.
    head, bracket, params = rest.partition("[")
    parts = head.split("::")
    parts[-1] += bracket + params
    module = path[:-3] if path.endswith(".py") else path
    classname = ".".join([module.replace("/", "."), *parts[:-1]])
    return f"{classname}::{parts[-1]}"


def parse_verbose_log(text: str) -> dict[str, Outcome]:
    """Per-test outcomes from ``pytest -v`` output: what a run that hung still tells.

    A killed run writes no JUnit XML, but ``-v`` printed each finished test's verdict. Only
    for a hung run: the XML, when there is one, is the authority.
    """
    outcomes: dict[str, Outcome] = {}
    for line in text.splitlines():
        match = _VERBOSE_LINE.match(line)
        if match:
            test_id = junit_id(match["nodeid"])
            outcome = _VERBOSE_OUTCOME[match["word"]]
            old = outcomes.get(test_id)
            # A test that passed its call and errored in teardown prints PASSED, then ERROR.
            if old is None or _RANK[outcome] > _RANK[old.outcome]:
                message = "" if outcome in (PASSED, SKIPPED) else "(from -v output; run hung)"
                outcomes[test_id] = Outcome(outcome, message)
    return outcomes


def classify(project: str, test_id: str, message: str, rules: Iterable[Rule]) -> Rule | None:
    """The first matching rule naming this project, else the first generic (``*``) one.

    Rules for one project therefore always beat the catch-alls, wherever in the file they
    are; within each group, file order decides (put specific rules first).
    """
    rules = list(rules)
    for generic in (False, True):
        for rule in rules:
            if (rule.project == "*") == generic and rule.matches(project, test_id, message):
                return rule
    return None


def new_failures(
    project: str, plain: RunResult, ocirace: RunResult, rules: Sequence[Rule]
) -> list[NewFailure]:
    """Every test that passed plain and did not pass under --ocirace.

    A test missing from the ocirace run (the run hung or crashed before it) counts too,
    as ``missing``, with the run's state as its message: hiding it would report a hang as
    a pass.
    """
    found: list[NewFailure] = []
    for test_id, before in sorted(plain.outcomes.items()):
        if before.outcome != PASSED:
            continue
        after = ocirace.outcomes.get(test_id)
        if after is None:
            state = (
                "run hung"
                if ocirace.hung
                else "not in the --ocirace run's results (the process died before it)"
            )
            message = f"{state} (returncode {ocirace.returncode})"
            rule = classify(project, test_id, message, rules)
            if rule is None and ocirace.hung:
                rule = Rule(project, test_id, "*", "hung", "plugin", "the --ocirace run timed out")
            found.append(NewFailure(test_id, MISSING, message, rule))
            continue
        if after.outcome in (FAILED, ERROR):
            rule = classify(project, test_id, after.message, rules)
            found.append(NewFailure(test_id, after.outcome, after.message, rule))
    return found


def newly_skipped(plain: RunResult, ocirace: RunResult) -> list[str]:
    return sorted(
        test_id
        for test_id, before in plain.outcomes.items()
        if before.outcome == PASSED
        and (after := ocirace.outcomes.get(test_id)) is not None
        and after.outcome == SKIPPED
    )


def _counts_cell(run: RunResult) -> str:
    if run.junit_missing and not run.outcomes:
        return "no JUnit" + (" (hung)" if run.hung else f" (rc {run.returncode})")
    counts = run.counts()
    cell = "/".join(str(counts[k]) for k in OUTCOMES)
    return cell + (" hung" if run.hung else "")


def ratio(plain: RunResult, ocirace: RunResult) -> str:
    if plain.wall <= 0:
        return "-"
    return f"{ocirace.wall / plain.wall:.1f}x" + (" (hung)" if ocirace.hung else "")


def passing_both(plain: RunResult, ocirace: RunResult) -> tuple[int, float, float]:
    """Tests that passed in both runs: how many, and their JUnit seconds plain and ocirace.

    Why: a suite's wall ratio also carries what pytest spends formatting the failures of
    tests that real Windows fails too (minimalkv: 380 of them), work no plain run does.
    JUnit's per-test time covers set-up, call and teardown, not the making of a failure's
    report, so over the tests that pass both ways it is what the plugin costs a test it
    does not change. A diagnostic beside the wall ratio, never instead of it.
    """
    count, before, after = 0, 0.0, 0.0
    for test_id, old in plain.outcomes.items():
        new = ocirace.outcomes.get(test_id)
        if old.outcome == PASSED and new is not None and new.outcome == PASSED:
            count += 1
            before += old.seconds
            after += new.seconds
    return count, before, after


def passing_both_cell(found: tuple[int, float, float]) -> str:
    """``passing_both``'s answer as the table and the report show it."""
    count, before, after = found
    if not count:
        return "-"
    shown = f"{after / before:.1f}x" if before > 0 else "-"
    return f"{before:.1f} / {after:.1f} ({shown})"


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass
class ProjectReport:
    project: Project
    plain: RunResult
    ocirace: RunResult
    failures: list[NewFailure]
    skipped: list[str]


def render_table(reports: Sequence[ProjectReport]) -> str:
    """The summary table, as Markdown (docs/compatibility.md takes it as it is)."""
    header = (
        "| project | version | plain p/f/e/s | ocirace p/f/e/s | newly failing "
        "(unclassified) | plain s | ocirace s | ratio | passing both: plain / ocirace test s "
        "(ratio) | ocirace output | stray real files (plain/ocirace) |"
    )
    lines = [header, "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for rep in reports:
        unclassified = sum(1 for f in rep.failures if f.rule is None)
        lines.append(
            f"| {rep.project.name} | {rep.project.version} | {_counts_cell(rep.plain)} "
            f"| {_counts_cell(rep.ocirace)} | {len(rep.failures)} ({unclassified}) "
            f"| {rep.plain.wall:.1f} | {rep.ocirace.wall:.1f} | {ratio(rep.plain, rep.ocirace)} "
            f"| {passing_both_cell(passing_both(rep.plain, rep.ocirace))} "
            f"| {human_bytes(rep.ocirace.output_bytes)} "
            f"| {len(rep.plain.stray_files)}/{len(rep.ocirace.stray_files)} |"
        )
    return "\n".join(lines)


def render_project(rep: ProjectReport) -> str:
    """Every new failure of one project, grouped by classification; none is capped."""
    out = [f"## {rep.project.name} {rep.project.version}"]
    for label, run in (("plain", rep.plain), ("ocirace", rep.ocirace)):
        counts = run.counts()
        out.append(
            f"{label:8} passed {counts[PASSED]}, failed {counts[FAILED]}, errors "
            f"{counts[ERROR]}, skipped {counts[SKIPPED]}; {run.wall:.1f} s; rc {run.returncode}"
            f"; output {human_bytes(run.output_bytes)}"
            + (
                "; HUNG after its summary (killed)"
                if run.hung_after_summary
                else ("; HUNG (timed out, killed)" if run.hung else "")
            )
            + ("; no JUnit XML (counts from -v output)" if run.junit_missing else "")
        )
        if run.stray_files:
            shown = ", ".join(repr(name) for name in run.stray_files[:3])
            more = f" and {len(run.stray_files) - 3} more" if len(run.stray_files) > 3 else ""
            out.append(
                f"{'':8} left {len(run.stray_files)} new file(s) in the real source tree: "
                f"{shown}{more}"
            )
    out.append(f"time ratio ocirace/plain: {ratio(rep.plain, rep.ocirace)}")
    both = passing_both(rep.plain, rep.ocirace)
    out.append(
        f"tests passing both ways ({both[0]}), JUnit seconds plain / ocirace: "
        f"{passing_both_cell(both)}"
    )
    if not rep.failures:
        out.append("newly failing: none")
    groups: dict[str, list[NewFailure]] = {}
    for failure in rep.failures:
        key = (
            "UNCLASSIFIED"
            if failure.rule is None
            else f"{failure.rule.kind}/{failure.rule.category}: {failure.rule.why}"
        )
        groups.setdefault(key, []).append(failure)
    for key in sorted(groups, key=lambda k: (k != "UNCLASSIFIED", k)):
        items = groups[key]
        out.append(f"newly failing, {key} ({len(items)}):")
        for failure in items:
            out.append(f"  {failure.outcome:7} {failure.test_id}")
            out.append(f"          {failure.message}")
    if rep.skipped:
        out.append(f"passed plain, skipped under --ocirace ({len(rep.skipped)}):")
        out.extend(f"  {test_id}" for test_id in rep.skipped)
    return "\n".join(out)


def cause_counts(reports: Sequence[ProjectReport]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rep in reports:
        for failure in rep.failures:
            key = (
                "unclassified"
                if failure.rule is None
                else f"{failure.rule.kind}/{failure.rule.category}"
            )
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
