"""Turning findings into what people and machines read: text, concise, json, sarif, github.

Positions inside the checker are 1-based lines and 0-based, end-exclusive columns (libcst's
convention). Every format shown to the outside uses **1-based columns** (end still
exclusive), as ruff, editors, SARIF and GitHub annotations do; this module is the only place
that converts. The JSON schema is documented in docs/checker.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .codes import RULES
from .model import Finding, Fix

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms of a warm run; annotations are strings anyway
    from typing import Any

__all__ = [
    "FORMATS",
    "Report",
    "display_path",
    "render",
    "render_statistics",
    "sarif_document",
]

FORMATS = ("text", "concise", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_TAB = 4


class Report:
    """One finding to print, with the file it is in and the text of its first line."""

    # A plain class: a dataclass would cost a millisecond of start-up on every run.
    __slots__ = ("finding", "line_text", "path")

    def __init__(self, path: Path, finding: Finding, line_text: str) -> None:
        self.path = path
        self.finding = finding
        self.line_text = line_text


def display_path(path: Path, cwd: Path) -> str:
    """Relative to the working directory when below it (as ruff prints), else absolute."""
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def _marker(fix: Fix | None) -> str:
    return "[*] " if fix is not None and fix.applicability == "safe" else ""


def _head(report: Report, cwd: Path) -> str:
    f = report.finding
    where = f"{display_path(report.path, cwd)}:{f.line}:{f.column + 1}:"
    return f"{where} {f.code} {_marker(f.fix)}{f.message}"


def _render_text(reports: Sequence[Report], cwd: Path) -> str:
    blocks: list[str] = []
    for report in reports:
        f = report.finding
        lines = [_head(report, cwd)]
        if report.line_text or f.line > 0:
            number = str(f.line)
            gutter = " " * len(number)
            shown = report.line_text.expandtabs(_TAB)
            start = len(report.line_text[: f.column].expandtabs(_TAB))
            if f.end_line == f.line:
                end = len(report.line_text[: f.end_column].expandtabs(_TAB))
            else:
                end = len(shown)
            carets = "^" * max(1, end - start)
            lines += [
                f"{gutter} |",
                f"{number} | {shown}",
                f"{gutter} | {' ' * start}{carets} {f.code}",
                f"{gutter} |",
            ]
            if f.hint:
                lines.append(f"{gutter} = help: {f.hint}")
        where = display_path(report.path, cwd)
        lines += [f"  = related: {where}:{r.line}:{r.column + 1}: {r.message}" for r in f.related]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _render_concise(reports: Sequence[Report], cwd: Path) -> str:
    return "".join(_head(report, cwd) + "\n" for report in reports)


def _fix_json(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "message": fix.message,
        "applicability": fix.applicability,
        "edits": [
            {
                "line": edit.line,
                "column": edit.column + 1,
                "end_line": edit.end_line,
                "end_column": edit.end_column + 1,
                "content": edit.content,
            }
            for edit in fix.edits
        ],
    }


def _render_json(reports: Sequence[Report], cwd: Path) -> str:
    records = []
    for report in reports:
        f = report.finding
        info = RULES.get(f.code)
        records.append(
            {
                "path": display_path(report.path, cwd),
                "line": f.line,
                "column": f.column + 1,
                "end_line": f.end_line,
                "end_column": f.end_column + 1,
                "code": f.code,
                "name": info.name if info else f.code,
                "message": f.message,
                "hint": f.hint,
                "url": info.help_url if info else None,
                "fix": _fix_json(f.fix),
                "related": [
                    {
                        "path": display_path(report.path, cwd),
                        "line": r.line,
                        "column": r.column + 1,
                        "end_line": r.end_line,
                        "end_column": r.end_column + 1,
                        "message": r.message,
                    }
                    for r in f.related
                ],
                "why": list(f.why),
            }
        )
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _render_github(reports: Sequence[Report], cwd: Path) -> str:
    out: list[str] = []
    for report in reports:
        f = report.finding
        path = display_path(report.path, cwd)
        props = (
            f"file={_escape_property(path)},line={f.line},col={f.column + 1},"
            f"endLine={f.end_line},endColumn={f.end_column + 1},title={f.code}"
        )
        text = f"{path}:{f.line}:{f.column + 1}: {f.code} {f.message}"
        if f.hint:
            text += f"\n{f.hint}"
        out.append(f"::error {props}::{_escape_data(text)}\n")
    return "".join(out)


def _sarif_rule(code: str) -> dict[str, Any]:
    info = RULES[code]
    rows = ", ".join(str(row) for row in info.windows_rows)
    full = info.summary + "."
    if rows:
        full += f" Prevents row {rows} of the Windows decision table."
    level = "warning" if code == "ORC000" else "error"
    return {
        "id": code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": full},
        "help": {
            "text": f"{full} Documentation: {info.help_url}",
            "markdown": f"{full}\n\n[{code} {info.name}]({info.help_url})",
        },
        "helpUri": info.help_url,
        "defaultConfiguration": {"level": level},
        "properties": {
            "tags": ["reliability", "windows", "concurrency"],
            "precision": "high",
            "problem.severity": level,
        },
    }


def _fingerprint(code: str, uri: str, line_text: str, seen: Counter[str]) -> str:
    """Stable across edits elsewhere in the file: rule, file and the line's own text."""
    import hashlib  # only SARIF needs it

    key = hashlib.sha256(f"{code}\0{uri}\0{line_text.strip()}".encode()).hexdigest()[:16]
    seen[key] += 1
    return f"{key}:{seen[key]}"


def sarif_document(reports: Sequence[Report], root: Path, version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log GitHub code scanning accepts (relative URIs, fingerprints)."""
    codes = list(RULES)
    seen: Counter[str] = Counter()
    results = []
    for report in reports:
        f = report.finding
        try:
            uri = report.path.relative_to(root).as_posix()
            artifact: dict[str, Any] = {"uri": uri, "uriBaseId": "%SRCROOT%"}
        except ValueError:
            uri = report.path.as_uri()
            artifact = {"uri": uri}
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": codes.index(f.code) if f.code in RULES else -1,
                "level": "warning" if f.code == "ORC000" else "error",
                "message": {"text": f.message + (f" {f.hint}" if f.hint else "")},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": artifact,
                            "region": {
                                "startLine": max(1, f.line),
                                "startColumn": f.column + 1,
                                "endLine": max(1, f.end_line),
                                "endColumn": f.end_column + 1,
                            },
                        }
                    }
                ],
                "relatedLocations": [
                    {
                        "id": index,
                        "message": {"text": r.message},
                        "physicalLocation": {
                            "artifactLocation": artifact,
                            "region": {
                                "startLine": max(1, r.line),
                                "startColumn": r.column + 1,
                                "endLine": max(1, r.end_line),
                                "endColumn": r.end_column + 1,
                            },
                        },
                    }
                    for index, r in enumerate(f.related)
                ],
                "partialFingerprints": {
                    "primaryLocationLineHash": _fingerprint(f.code, uri, report.line_text, seen)
                },
            }
        )
    root_uri = root.as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ocirace",
                        "semanticVersion": version,
                        "informationUri": "https://github.com/pytest-ocirace/pytest-ocirace",
                        "rules": [_sarif_rule(code) for code in codes],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(fmt: str, reports: Sequence[Report], *, cwd: Path, root: Path, version: str) -> str:
    """The whole report in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "text":
        return _render_text(reports, cwd)
    if fmt == "concise":
        return _render_concise(reports, cwd)
    if fmt == "json":
        return _render_json(reports, cwd)
    if fmt == "github":
        return _render_github(reports, cwd)
    if fmt == "sarif":
        return json.dumps(sarif_document(reports, root, version), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def render_statistics(fmt: str, reports: Sequence[Report]) -> str:
    """Counts per rule, most frequent first (``--statistics``): json for json, else a table."""
    counts = Counter(report.finding.code for report in reports)
    fixable = {r.finding.code for r in reports if _marker(r.finding.fix)}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if fmt == "json":
        return (
            json.dumps(
                [
                    {
                        "code": code,
                        "name": RULES[code].name if code in RULES else code,
                        "count": count,
                        "fixable": code in fixable,
                    }
                    for code, count in rows
                ],
                indent=2,
            )
            + "\n"
        )
    width = max((len(str(count)) for _, count in rows), default=1)
    return "".join(
        f"{count:>{width}}\t{code}\t{'[*] ' if code in fixable else ''}"
        f"{RULES[code].name if code in RULES else code}\n"
        for code, count in rows
    )
