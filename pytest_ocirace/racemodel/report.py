"""Turn race records into what people and CI read: a report section, a summary, JSON.

A race report is only useful if it points at the user's own code: the stack of an operation
that went through ``os.replace`` is mostly pyfakefs, our layer, ``threading`` and
``concurrent.futures``. So frames are filtered down to the user's before anything is shown.
The JSON form (schema :data:`JSON_SCHEMA`, documented in ``docs/races.md``) is the same
data, made for CI artifacts and for aggregating pytest-xdist workers on the controller.

Writing the JSON file touches the real filesystem: call :func:`write_json` outside the fake
filesystem (at session end), never while a test's simulation is active.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_ocirace.racemodel import RULES
from pytest_ocirace.racemodel.model import Frame, OpInfo, Race, RaceGroup

__all__ = [
    "DEFAULT_MAX_GROUPS",
    "FIX_HINT",
    "JSON_SCHEMA",
    "SCHEMA_ID",
    "build_document",
    "format_groups",
    "format_race",
    "format_races",
    "group_to_dict",
    "merge_documents",
    "race_to_dict",
    "site",
    "summary_lines",
    "user_frames",
    "write_json",
]

SCHEMA_ID = "pytest-ocirace/races"
SCHEMA_VERSION = 2

#: Groups shown in full per test (report section, JSON samples): ini
#: ``ocirace_report_max_groups``. The others are counted, not shown.
DEFAULT_MAX_GROUPS = 5
#: Tests listed by name in the terminal summary; the JSON report lists all of them.
MAX_SUMMARY_TESTS = 20
#: Groups (with or without sample) kept per test in the JSON; the rest fold into one.
MAX_GROUPS_PER_TEST = 100

FIX_HINT = (
    "publish with ocirace_writer.write_blob(root, digest, data) (or atomic_write/publish), "
    "which tolerates a concurrent identical writer and retries transient Windows errors; "
    "or order the writers (join, a common lock). See docs/races.md and docs/writer.md."
)

_MESSAGES = {
    2: "The system cannot find the file specified",
    5: "Access is denied",
    32: "The process cannot access the file because it is being used by another process",
    183: "Cannot create a file when that file already exists",
}


#: The real separator. Nothing that runs while a test's simulation is active may call ``os``:
#: pyfakefs patches the ``os`` of every loaded module (``os.sep`` is then ``\\`` and
#: ``os.path.abspath`` resolves against the fake working directory, or fails while pyfakefs
#: pauses around pytest's reports). So the frame filter below is string operations only.
_SEP = "\\" if sys.platform == "win32" else "/"

#: Packages whose frames are never the user's (besides the standard library).
_MACHINERY = ("pytest_ocirace", "pyfakefs", "_pytest", "pytest", "pluggy", "xdist", "execnet")


def _norm(path: str) -> str:
    return path.replace("/", "\\").lower() if _SEP == "\\" else path


def _parent(path: str) -> str:
    return _norm(path).rsplit(_SEP, 1)[0] + _SEP


def _excluded_roots() -> tuple[str, ...]:
    """Directories of the machinery packages that are loaded (unloaded ones have no frames)."""
    roots = []
    for name in _MACHINERY:
        filename = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(filename, str) and filename.endswith("__init__.py"):
            roots.append(_parent(filename))
    return tuple(roots)


def _stdlib_root() -> str:
    return _parent(threading.__file__)


def user_frames(frames: Iterable[Frame], exclude: Sequence[str] = ()) -> list[Frame]:
    """The frames of the user's code: no plugin, pyfakefs, pytest or standard-library frames.

    Third-party packages in site-packages are kept: a race inside a dependency the test
    drives is still the user's race. ``exclude`` adds path prefixes (a harness, say).
    Safe to call while a simulation is active (see ``_SEP``).
    """
    excluded = _excluded_roots() + tuple(_norm(e) for e in exclude)
    stdlib = _stdlib_root()
    packages = "-packages" + _SEP
    kept: list[Frame] = []
    for frame in frames:
        filename = frame[0]
        if filename.startswith("<"):
            continue
        norm = _norm(filename)
        if norm.startswith(excluded):
            continue
        if norm.startswith(stdlib) and packages not in norm:
            continue
        kept.append(frame)
    return kept


def site(frames: Sequence[Frame]) -> Frame | None:
    """The code site of an operation: its innermost frame of the user's code."""
    shown = user_frames(frames)
    return shown[-1] if shown else None


def _short(path: str, directory: str) -> str:
    """``path`` quoted, as ``.../name`` when it is in ``directory`` (the raced name's).

    Temp files sit next to their target: repeating a long directory (a temp root, a layout's
    ``blobs/sha256``) three times per operation hides the names that differ.
    """
    if directory and path.startswith(directory) and len(path) > len(directory) + 1:
        rest = path[len(directory) :]
        if rest[0] in "\\/" and "\\" not in rest[1:] and "/" not in rest[1:]:
            return repr("..." + rest)
    return repr(path)


def _directory(path: str) -> str:
    cut = max(path.rfind("\\"), path.rfind("/"))
    return path[:cut] if cut > 0 else ""


def _describe(info: OpInfo, directory: str = "") -> str:
    target = _short(info.path, directory)
    if info.path2 is not None:
        target += f" -> {_short(info.path2, directory)}"
    if info.kind == "open" and info.access:
        target += f" for {'/'.join(info.access)}"
    return f"{info.kind} {target} in thread {info.thread!r}"


def _frame_lines(frames: Sequence[Frame], exclude: Sequence[str]) -> list[str]:
    shown = user_frames(frames, exclude)
    if not shown:
        return ["      (no frames of your code: the operation ran inside a library)"]
    lines = []
    for filename, lineno, name in shown[-6:]:
        lines.append(f"      {filename}:{lineno} in {name}")
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"          {source}")
    return lines


def _error_text(race: Race) -> str:
    if race.winerror is None:
        return "none raised (Windows allows this overlap; the race is recorded only)"
    message = _MESSAGES.get(race.winerror, f"Windows error {race.winerror}")
    text = f"[WinError {race.winerror}] {message}"
    if race.second.kind == "open":
        # open() goes through the C runtime, which turns the Win32 error into an errno.
        text = f"PermissionError [Errno 13] Permission denied (the C runtime's {text})"
    if race.retroactive:
        return (
            f"{text} in another schedule: the second operation looked ordered through an "
            "Event that another thread's set() could have released first; found after both "
            "ran, so nothing was raised and the test fails for it"
        )
    if not race.injected:
        return f"{text} (not raised again: this pair already failed once)"
    if race.handled is False:
        return f"{text}, raised in the second operation and NOT handled by the code"
    return (
        f"{text}, raised in the second operation; it did not escape the test (handled by "
        "a retry or a check, or swallowed)"
    )


def format_race(race: Race, exclude: Sequence[str] = (), *, hint: bool = True) -> str:
    """One race as the ``ocirace`` report section of a failing test shows it."""
    lines = [f"race on {race.path} ({race.rule})"]
    directory = _directory(race.path)
    lines.append(f"  first : {_describe(race.first, directory)}")
    lines.extend(_frame_lines(race.first.frames, exclude))
    lines.append(f"  second: {_describe(race.second, directory)}")
    lines.extend(_frame_lines(race.second.frames, exclude))
    lines.append(f"  why   : {race.explanation}")
    if race.identical is True:
        lines.append(f"  bytes : identical (sha256 {race.first.digest})")
    elif race.identical is False:
        lines.append(
            f"  bytes : DIFFERENT (sha256 {race.first.digest} vs {race.second.digest}): "
            "a lost update on every OS, not only on Windows"
        )
    lines.append(f"  error : {_error_text(race)}")
    if hint:
        lines.append(f"  fix   : {FIX_HINT}")
    return "\n".join(lines)


def format_races(races: Sequence[Race], exclude: Sequence[str] = ()) -> str:
    """The whole report section: every race of one test, most severe first."""
    ordered = sorted(
        races, key=lambda r: (r.handled is not False, not r.lost_update, r.winerror is None)
    )
    header = f"{len(races)} race(s) found by pytest-ocirace"
    body = [format_race(r, exclude, hint=False) for r in ordered]
    return "\n\n".join([header, *body, f"fix: {FIX_HINT}"])


def _site_text(frame: Frame | None) -> str:
    if frame is None:
        return "(no frame of your code)"
    return f"{frame[0]}:{frame[1]} in {frame[2]}"


def _group_headline(group: RaceGroup) -> str:
    first, second = group.sites
    where = (
        f"at {_site_text(first)} (both sides)"
        if first == second
        else f"between {_site_text(first)} and {_site_text(second)}"
    )
    counts = [f"{group.injected} injected"]
    if group.unhandled:
        counts.append(f"{group.unhandled} NOT handled")
    if group.lost_updates:
        counts.append(f"{group.lost_updates} lost update(s)")
    if group.retroactive:
        counts.append(f"{group.retroactive} in another schedule")
    return (
        f"{group.count} race(s) {where} ({', '.join(sorted(group.rules))}); "
        f"{', '.join(counts)}; one of them:"
    )


def format_groups(
    groups: Sequence[RaceGroup],
    exclude: Sequence[str] = (),
    *,
    max_groups: int = DEFAULT_MAX_GROUPS,
    expected: bool = False,
) -> str:
    """The ``ocirace`` report section of one test: its groups, the most severe first.

    At most ``max_groups`` are shown with a sample race; the rest are one line of counts,
    so a test that raced a million times reads like one that raced once.
    """
    ordered = sorted(groups, key=lambda g: g.severity)
    total = sum(g.count for g in ordered)
    header = f"{total} race(s) in {len(ordered)} group(s) of code sites found by pytest-ocirace"
    if expected:
        header += " (expected by @pytest.mark.ocirace(expect_races=...))"
    body = []
    for group in ordered[:max_groups]:
        race = format_race(group.sample, exclude, hint=False)
        body.append(f"{_group_headline(group)}\n{race}")
    rest = ordered[max_groups:]
    if rest:
        body.append(
            f"{len(rest)} more group(s) with {sum(g.count for g in rest)} race(s) not shown "
            f"(ini ocirace_report_max_groups = {max_groups}; --ocirace-report has counts)"
        )
    return "\n\n".join([header, *body, f"fix: {FIX_HINT}"])


def _frame_dict(frame: Frame | None) -> dict[str, Any] | None:
    if frame is None:
        return None
    return {"file": frame[0], "line": frame[1], "function": frame[2]}


def group_to_dict(
    group: RaceGroup,
    test: str | None = None,
    *,
    sample: bool = True,
    expected: bool = False,
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """One group as a JSON-ready dict (an element of the document's ``groups``)."""
    return {
        "test": test,
        "id": " | ".join("-" if f is None else f"{f[0]}:{f[1]}" for f in group.sites),
        "sites": [_frame_dict(f) for f in group.sites],
        "rules": sorted(group.rules),
        "count": group.count,
        "injected": group.injected,
        "unhandled": group.unhandled,
        "lost_updates": group.lost_updates,
        "retroactive": group.retroactive,
        "expected": expected,
        "sample": race_to_dict(group.sample, test, exclude) if sample else None,
    }


_COUNTERS = ("count", "injected", "unhandled", "lost_updates", "retroactive")


def _severity(entry: Mapping[str, Any]) -> tuple[bool, bool, bool, int]:
    return (
        not entry["unhandled"],
        not entry["lost_updates"],
        not entry["retroactive"],
        -int(entry["count"]),
    )


def _info_to_dict(info: OpInfo, exclude: Sequence[str]) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "role": info.role,
        "path": info.path,
        "path2": info.path2,
        "thread": info.thread,
        "digest": info.digest,
        "access": list(info.access),
        "frames": [
            {"file": f, "line": n, "function": fn} for f, n, fn in user_frames(info.frames, exclude)
        ],
    }


def race_to_dict(
    race: Race, test: str | None = None, exclude: Sequence[str] = ()
) -> dict[str, Any]:
    """One race as a JSON-ready dict (an element of the document's ``races``)."""
    return {
        "test": test,
        "rule": race.rule,
        "path": race.path,
        "key": race.key,
        "winerror": race.winerror,
        "injected": race.injected,
        "handled": race.handled,
        "identical": race.identical,
        "lost_update": race.lost_update,
        "retroactive": race.retroactive,
        "explanation": race.explanation,
        "first": _info_to_dict(race.first, exclude),
        "second": _info_to_dict(race.second, exclude),
    }


def build_document(
    entries: Iterable[Mapping[str, Any]], *, max_groups: int = DEFAULT_MAX_GROUPS
) -> dict[str, Any]:
    """The JSON document for ``group_to_dict`` entries (one worker's, or merged).

    Entries of one test and group (phases, xdist workers) are summed. Per test, the
    ``max_groups`` most severe groups keep a sample race, the others only their counts,
    and beyond ``MAX_GROUPS_PER_TEST`` groups the rest fold into one: the document's size
    depends on the number of tests and code sites, never on the number of races.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (str(entry.get("test")), str(entry["id"]))
        mine = merged.get(key)
        if mine is None:
            merged[key] = {**entry, "rules": sorted(entry["rules"])}
            continue
        for name in _COUNTERS:
            mine[name] += entry[name]
        mine["rules"] = sorted(set(mine["rules"]) | set(entry["rules"]))
        mine["expected"] = bool(mine["expected"] or entry["expected"])
        if mine["sample"] is None or (
            entry["sample"] is not None
            and entry["sample"]["handled"] is False
            and mine["sample"]["handled"] is not False
        ):
            mine["sample"] = entry["sample"]
    by_test: dict[str, list[dict[str, Any]]] = {}
    for (test, _id), entry in merged.items():
        by_test.setdefault(test, []).append(entry)
    groups: list[dict[str, Any]] = []
    tests = []
    for test in sorted(by_test):
        ordered = sorted(by_test[test], key=_severity)
        for index, entry in enumerate(ordered[:MAX_GROUPS_PER_TEST]):
            if index >= max_groups:
                entry["sample"] = None
            groups.append(entry)
        rest = ordered[MAX_GROUPS_PER_TEST:]
        if rest:
            folded = {**rest[0], "id": "(more site pairs)", "sites": [None, None]}
            folded["sample"] = None
            for name in _COUNTERS:
                folded[name] = sum(e[name] for e in rest)
            folded["rules"] = sorted({r for e in rest for r in e["rules"]})
            groups.append(folded)
        if test != "None":
            tests.append(test)
    counted = [g for g in groups if not g["expected"]]
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "summary": {
            "races": sum(g["count"] for g in groups),
            "groups": len(groups),
            "unhandled": sum(g["unhandled"] for g in counted),
            "lost_updates": sum(g["lost_updates"] for g in counted),
            "expected": sum(g["count"] for g in groups if g["expected"]),
            "tests_affected": len(tests),
            "tests": tests,
        },
        "groups": groups,
    }


def merge_documents(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One document from several (pytest-xdist workers' documents, on the controller)."""
    entries: list[Mapping[str, Any]] = []
    for doc in documents:
        if doc.get("schema") != SCHEMA_ID:
            raise ValueError(
                f"not a pytest-ocirace race report (schema {doc.get('schema')!r}); "
                f"expected {SCHEMA_ID!r}"
            )
        if doc.get("version") != SCHEMA_VERSION:
            raise ValueError(
                f"pytest-ocirace race report version {doc.get('version')!r}; this version "
                f"reads version {SCHEMA_VERSION}: re-run the tests to regenerate it"
            )
        entries.extend(doc.get("groups", []))
    return build_document(entries)


def summary_lines(document: Mapping[str, Any], *, max_tests: int = MAX_SUMMARY_TESTS) -> list[str]:
    """Lines for the terminal summary section (at most ``max_tests`` tests by name)."""
    summary = document["summary"]
    if not summary["races"]:
        return ["no races found"]
    expected = summary.get("expected", 0)
    unexpected = summary["races"] - expected
    alarming = {str(e.get("test")) for e in document["groups"] if not e["expected"]}
    lines = [
        f"{unexpected} race(s) in {len(alarming)} test(s); "
        f"{summary['unhandled']} not handled, {summary['lost_updates']} lost update(s)"
        + (f"; {expected} expected race(s) not counted" if expected else "")
    ]
    by_test: dict[str, list[Mapping[str, Any]]] = {}
    for entry in document["groups"]:
        by_test.setdefault(str(entry.get("test")), []).append(entry)
    listed = sorted(
        by_test.items(),
        key=lambda item: (
            all(e["expected"] for e in item[1]),
            not any(e["unhandled"] for e in item[1]),
            item[0],
        ),
    )
    for test, entries in listed[:max_tests]:
        rules = sorted({str(r) for e in entries for r in e["rules"]})
        count = sum(int(e["count"]) for e in entries)
        tag = " expected" if all(e["expected"] for e in entries) else ""
        lines.append(
            f"  {test}: {count}{tag} race(s) in {len(entries)} group(s) ({', '.join(rules)})"
        )
    if len(listed) > max_tests:
        lines.append(f"  ... and {len(listed) - max_tests} more test(s) (see --ocirace-report)")
    return lines


def write_json(path: str | os.PathLike[str], document: Mapping[str, Any]) -> None:
    """Write the document with the reference writer: a CI artifact is never half-written.

    Our own linter flagged the hand-rolled temp-then-``os.replace`` this used to be (ORC001);
    ``atomic_write`` also removes its temp file when serialisation fails.
    """
    # Imported here: this module loads with the plugin in every pytest session, and the
    # writer's import (~35 ms) is only worth paying when a report is written.
    from pytest_ocirace.writer import atomic_write

    target = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with atomic_write(target, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")


_FRAME = {
    "type": "object",
    "required": ["file", "line", "function"],
    "properties": {
        "file": {"type": "string"},
        "line": {"type": "integer"},
        "function": {"type": "string"},
    },
    "additionalProperties": False,
}

_OP = {
    "type": "object",
    "required": ["kind", "role", "path", "path2", "thread", "digest", "access", "frames"],
    "properties": {
        "kind": {
            "enum": [
                "open",
                "close",
                "rename",
                "replace",
                "remove",
                "link",
                "stat",
                "mkdir",
                "rmdir",
            ]
        },
        "role": {"enum": ["publish", "move-away", "delete", "handle", "check"]},
        "path": {"type": "string"},
        "path2": {"type": ["string", "null"]},
        "thread": {"type": "string"},
        "digest": {"type": ["string", "null"]},
        "access": {"type": "array", "items": {"enum": ["read", "write", "delete"]}},
        "frames": {"type": "array", "items": _FRAME},
    },
    "additionalProperties": False,
}

_RACE = {
    "type": "object",
    "required": [
        "test",
        "rule",
        "path",
        "key",
        "winerror",
        "injected",
        "handled",
        "identical",
        "lost_update",
        "retroactive",
        "explanation",
        "first",
        "second",
    ],
    "properties": {
        "test": {"type": ["string", "null"]},
        "rule": {"enum": list(RULES)},
        "path": {"type": "string"},
        "key": {"type": "string"},
        "winerror": {"type": ["integer", "null"]},
        "injected": {"type": "boolean"},
        "handled": {"type": ["boolean", "null"]},
        "identical": {"type": ["boolean", "null"]},
        "lost_update": {"type": "boolean"},
        "retroactive": {"type": "boolean"},
        "explanation": {"type": "string"},
        "first": _OP,
        "second": _OP,
    },
    "additionalProperties": False,
}

_COUNT = {"type": "integer", "minimum": 0}

#: JSON Schema (draft 2020-12) of the ``--ocirace-report`` document.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pytest-ocirace race report",
    "type": "object",
    "required": ["schema", "version", "summary", "groups"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "version": {"const": SCHEMA_VERSION},
        "summary": {
            "type": "object",
            "required": [
                "races",
                "groups",
                "unhandled",
                "lost_updates",
                "expected",
                "tests_affected",
                "tests",
            ],
            "properties": {
                "races": _COUNT,
                "groups": _COUNT,
                "unhandled": _COUNT,
                "lost_updates": _COUNT,
                "expected": _COUNT,
                "tests_affected": _COUNT,
                "tests": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "test",
                    "id",
                    "sites",
                    "rules",
                    *_COUNTERS,
                    "expected",
                    "sample",
                ],
                "properties": {
                    "test": {"type": ["string", "null"]},
                    "id": {"type": "string"},
                    "sites": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"anyOf": [_FRAME, {"type": "null"}]},
                    },
                    "rules": {"type": "array", "items": _RACE["properties"]["rule"]},  # type: ignore[index]
                    **{name: _COUNT for name in _COUNTERS},
                    "expected": {"type": "boolean"},
                    "sample": {"anyOf": [_RACE, {"type": "null"}]},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
