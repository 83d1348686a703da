"""The checker's entry points for one file: the text pre-filter and the full lint.

The engine calls :func:`might_match` on every file and :func:`lint_source` on the few that
pass. ``lint_source`` parses with ``ast`` only (libcst, ten times slower, is never imported to
analyse) and runs the rules only when the module has a candidate call, so cost follows the
number of candidates. This module does not import the rules at import time, because the
engine imports it on the warm path, where every result comes from the cache.
"""

from __future__ import annotations

import ast
import sys
import warnings

from .model import Edit, Finding, Fix, LintSettings
from .prefilter import might_match
from .unchecked import unchecked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .project_index import ProjectIndex

__all__ = ["lint_source", "might_match", "syntax_problems"]

_BOM = "\ufeff"

#: Rules whose findings rest on a resolved publish call, which libcst confirms.
_PUBLISH_CODES = frozenset({"ORC001", "ORC002", "ORC003", "ORC004", "ORC005", "ORC006"})


def lint_source(
    source: str, path: str, settings: LintSettings, index: ProjectIndex | None = None
) -> list[Finding]:
    """Every finding of every rule in ``source``; never raises for any input text.

    ``path`` names the file in messages and, with the project ``index`` (the whole checked
    tree, :mod:`.project_index`), finds the module among the others. The engine filters the
    result by select/ignore and ``noqa``; findings come back sorted by position.
    """
    try:
        if source.startswith(_BOM):
            # Python accepts a UTF-8 BOM in a file but not in a str; positions on line 1
            # are shifted back so that they index the text we were given.
            return [_after_bom(f) for f in _lint(source[1:], path, settings, index)]
        return _lint(source, path, settings, index)
    except RecursionError:
        return [_unchecked(1, 0, "it is nested too deeply for the analysis (RecursionError)")]
    except Exception as error:  # a bug in a rule must not stop the run over other files
        return [
            _unchecked(
                1,
                0,
                f"the checker failed on it ({type(error).__name__}: {error}); "
                "please report this with the file",
            )
        ]


def syntax_problems(source: str, path: str) -> list[Finding]:
    """ORC000 if ``source`` does not parse, else nothing: for files the pre-filter ruled out."""
    parsed = _parse(source[1:] if source.startswith(_BOM) else source, path)
    return [parsed] if isinstance(parsed, Finding) else []


def _after_bom(finding: Finding) -> Finding:
    def column(line: int, value: int) -> int:
        return value + 1 if line == 1 else value

    fix = finding.fix
    if fix is not None:
        edits = tuple(
            Edit(
                e.line,
                column(e.line, e.column),
                e.end_line,
                column(e.end_line, e.end_column),
                e.content,
            )
            for e in fix.edits
        )
        fix = Fix(fix.message, fix.applicability, edits)
    return Finding(
        finding.code,
        finding.message,
        finding.line,
        column(finding.line, finding.column),
        finding.end_line,
        column(finding.end_line, finding.end_column),
        finding.hint,
        fix,
    )


def _lint(
    source: str, path: str, settings: LintSettings, index: ProjectIndex | None
) -> list[Finding]:
    analysis = None if index is None else index.analysis_for(path, source, settings)
    if analysis is None:
        tree_or_error = _parse(source, path)
        if isinstance(tree_or_error, Finding):
            return [tree_or_error]
        from .analysis import ModuleAnalysis, Source

        summary = None if index is None else index.by_path.get(path)
        module, is_package = (
            ("", False) if summary is None else (summary.module, summary.is_package)
        )
        analysis = ModuleAnalysis(
            tree_or_error, Source(source), settings, index, module, is_package, path
        )
        if index is not None:
            index.remember(path, settings, analysis)
    if not analysis.publish_calls and not analysis.digest_sites:
        return []
    from .rules import ALL_RULES, Context

    context = Context(analysis)
    findings = [finding for rule in ALL_RULES for finding in rule.check(context)]
    findings.sort(key=lambda f: (f.line, f.column, f.code))
    return findings


def _parse(source: str, path: str) -> ast.Module | Finding:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not ours
            return ast.parse(source, filename=path, type_comments=False)
    except SyntaxError as error:
        line = error.lineno or 1
        column = max((error.offset or 1) - 1, 0)
        end_line = getattr(error, "end_lineno", None) or line
        end_column = getattr(error, "end_offset", None)
        if end_column is None or end_column <= 0 or (end_line, end_column - 1) < (line, column):
            end_line, end_column = line, column + 1
        return _unchecked(line, column, f"{error.msg}", end_line, end_column - 1)
    except (ValueError, MemoryError) as error:  # NUL bytes; absurd sizes
        return _unchecked(1, 0, str(error))


def _unchecked(
    line: int,
    column: int,
    reason: str,
    end_line: int | None = None,
    end_column: int | None = None,
) -> Finding:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return unchecked(
        f"File could not be parsed by Python {version}: {reason}",
        line,
        column,
        end_line,
        end_column,
    )
