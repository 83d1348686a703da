"""The checker's entry points for one file: the text pre-filter and the full lint.

The engine calls :func:`might_match` on every file and :func:`lint_source` on the few that
pass. ``lint_source`` works in stages so that cost follows the number of candidates, not
the size of the code base: ``ast`` (cheap) resolves imports and finds candidate calls; only
when there is one does libcst (expensive) parse the file and confirm the callee names. This
module imports neither the rules nor libcst at import time, because the engine imports it on
the warm path, where every result comes from the cache.
"""

from __future__ import annotations

import ast
import sys
import warnings

from checker.model import Edit, Finding, Fix, LintSettings
from checker.prefilter import might_match

__all__ = ["lint_source", "might_match"]

_BOM = "\ufeff"

#: Rules whose findings rest on a resolved publish call, which libcst confirms.
_PUBLISH_CODES = frozenset({"ORC001", "ORC002", "ORC003", "ORC004", "ORC005", "ORC006"})


def lint_source(source: str, path: str, settings: LintSettings) -> list[Finding]:
    """Every finding of every rule in ``source``; never raises for any input text.

    ``path`` is only used in messages. The engine filters the result by select/ignore and
    ``noqa``; findings come back sorted by position.
    """
    try:
        if source.startswith(_BOM):
            # Python accepts a UTF-8 BOM in a file but not in a str; positions on line 1
            # are shifted back so that they index the text we were given.
            return [_after_bom(f) for f in _lint(source[1:], path, settings)]
        return _lint(source, path, settings)
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


def _lint(source: str, path: str, settings: LintSettings) -> list[Finding]:
    tree_or_error = _parse(source, path)
    if isinstance(tree_or_error, Finding):
        return [tree_or_error]
    from checker.analysis import ModuleAnalysis, Source, confirm_with_libcst

    positions = Source(source)
    analysis = ModuleAnalysis(tree_or_error, positions, settings)
    if not analysis.publish_calls and not analysis.digest_sites:
        return []
    from checker.rules import ALL_RULES, Context

    def run_rules() -> list[Finding]:
        context = Context(analysis)
        return [finding for rule in ALL_RULES for finding in rule.check(context)]

    findings = run_rules()
    notes: list[Finding] = []
    if any(f.code in _PUBLISH_CODES for f in findings):
        # Stage 3, only for files with a finding to confirm: libcst's scope-aware names.
        try:
            if sys.version_info < (3, 11):
                _refuse_deeper_than_ast_allows_since_311(tree_or_error)
            confirmed = confirm_with_libcst(source, analysis.publish_calls, positions)
        except RecursionError:
            notes.append(
                _unchecked(
                    1,
                    0,
                    "libcst's name analysis hit the recursion limit on it; the findings in it "
                    "come from the ast pass alone",
                    code_message=False,
                )
            )
        except Exception as error:  # libcst.ParserSyntaxError, imported lazily
            if type(error).__name__ != "ParserSyntaxError":
                raise
            line = int(getattr(error, "raw_line", 1) or 1)
            column = int(getattr(error, "raw_column", 0) or 0)
            message = str(getattr(error, "message", "") or "").strip() or "syntax error"
            notes.append(
                _unchecked(
                    line,
                    column,
                    f"libcst cannot parse it although Python can ({message}); the findings in "
                    "it come from the ast pass alone",
                    code_message=False,
                )
            )
        else:
            if len(confirmed) != len(analysis.publish_calls):
                analysis.publish_calls = confirmed
                findings = run_rules()
    findings.extend(notes)
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
        finding = _unchecked(line, column, f"{error.msg}")
        if (
            end_column is not None
            and end_column > 0
            and (end_line, end_column - 1)
            >= (
                line,
                column,
            )
        ):
            finding = Finding(
                finding.code,
                finding.message,
                line,
                column,
                end_line,
                end_column - 1,
                finding.hint,
            )
        return finding
    except (ValueError, MemoryError) as error:  # NUL bytes; absurd sizes
        return _unchecked(1, 0, str(error))


#: CPython 3.11+ refuses to build an AST deeper than the recursion limit times this factor
#: (``COMPILER_STACK_FRAME_SCALE`` in ``Python/Python-ast.c``).
_AST_DEPTH_SCALE = 3


def _refuse_deeper_than_ast_allows_since_311(tree: ast.AST) -> None:
    """Raise ``RecursionError`` for a tree that Python 3.11+ would have refused to build.

    Before 3.11 ``ast.parse`` accepts any depth, so a long chain such as ``a + a + ...``
    with tens of thousands of terms reached libcst, whose native parser takes quadratic
    time on it and then overflows the C stack, killing the process. Called only before
    libcst runs (the walk costs about 0.7x the parse), so such a file keeps its ast-pass
    findings plus the "only partly checked" note, and :func:`lint_source` keeps its
    promise never to crash. Iterative, so measuring the depth cannot overflow the stack.
    """
    limit = sys.getrecursionlimit() * _AST_DEPTH_SCALE
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise RecursionError("maximum recursion depth exceeded during ast construction")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _unchecked(line: int, column: int, reason: str, code_message: bool = True) -> Finding:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    message = (
        f"File could not be parsed by Python {version}: {reason}; nothing in it was checked"
        if code_message
        else f"File only partly checked: {reason}"
    )
    return Finding(
        "ORC000",
        message,
        line,
        column,
        line,
        column,
        "fix the syntax error, or exclude the file in [tool.ocirace]",
    )
