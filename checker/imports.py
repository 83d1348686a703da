"""Where a fix's import goes: where isort (and ruff's ``I`` rules) would put it.

A fix that adds ``from ocirace_writer import publish`` at the end of the import block leaves an
isort-clean file unsorted, and every project that runs ruff or isort then rejects the fix in CI.
So the import is placed as isort's defaults (``profile = black`` and ruff's defaults agree here)
would place it:

* sections in order future, standard library, third party, first party, local (relative),
  one blank line between sections;
* within a section, ``import x`` statements before ``from x import ...``, each by module name
  case-insensitively;
* a name added to an existing ``from x import a, b`` of the same module, members ordered by type
  (CONSTANTS, Classes, functions) as ``order-by-type`` does;
* the first import of a file goes after the docstring, followed by the blank lines ruff wants
  before the code (two before a ``def``/``class``, one otherwise);
* an import longer than the project's line length (:attr:`LintSettings.line_length`) is
  wrapped as isort's ``profile = black`` and ruff wrap it: one member a line in parentheses,
  with a trailing comma; that includes a one-line import that a merged member makes too long.

First party means a top-level module of the project (a package or module in the project root
or its ``src/``, ruff's default ``src``): :attr:`LintSettings.first_party`. The import block is
the run of imports at the top of the module, as for isort: an ``if TYPE_CHECKING:`` or ``try``
ends it, so nothing is ever inserted into one.
"""

from __future__ import annotations

import ast
import re
import sys

from .analysis import ModuleAnalysis
from .model import DEFAULT_LINE_LENGTH, Edit

__all__ = ["FIRST_PARTY", "FUTURE", "LOCAL", "STDLIB", "THIRD_PARTY", "merge_edit", "place"]

FUTURE, STDLIB, THIRD_PARTY, FIRST_PARTY, LOCAL = range(5)

_STDLIB = frozenset(sys.stdlib_module_names)


def section(module: str, level: int, first_party: frozenset[str]) -> int:
    """The isort section of an import of ``module`` (``level`` > 0: a relative import)."""
    if level:
        return LOCAL
    top = module.split(".")[0]
    if top == "__future__":
        return FUTURE
    if top in first_party:
        return FIRST_PARTY
    if top in _STDLIB:
        return STDLIB
    return THIRD_PARTY


def _first_party(analysis: ModuleAnalysis) -> frozenset[str]:
    return frozenset(getattr(analysis.settings, "first_party", ()))


def _block(tree: ast.Module) -> tuple[int, list[ast.Import | ast.ImportFrom]]:
    """(index of the first statement after the docstring, the leading import statements)."""
    body = tree.body
    start = 0
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        start = 1
    block: list[ast.Import | ast.ImportFrom] = []
    for statement in body[start:]:
        if not isinstance(statement, (ast.Import, ast.ImportFrom)):
            break
        block.append(statement)
    return start, block


def _module_of(statement: ast.Import | ast.ImportFrom) -> tuple[str, int]:
    if isinstance(statement, ast.Import):
        return statement.names[0].name, 0
    return statement.module or "", statement.level


def _sort_key(statement: ast.Import | ast.ImportFrom) -> tuple[int, str, str]:
    module, level = _module_of(statement)
    relative = "." * level
    is_from = int(isinstance(statement, ast.ImportFrom))
    return is_from, relative + module.lower(), module


def _member_key(name: str) -> tuple[int, str, str]:
    """Members in ``order-by-type`` order (isort, ruff): CONSTANTS, Classes, the rest."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, name.lower(), name


def _line_length(analysis: ModuleAnalysis) -> int:
    value = getattr(analysis.settings, "line_length", DEFAULT_LINE_LENGTH)
    return value if isinstance(value, int) else DEFAULT_LINE_LENGTH


def _wrapped(module: str, members: list[str], ending: str, comment: str = "") -> str:
    """``from module import (...)`` one member a line, as isort's black profile writes it."""
    head = f"from {module} import ("
    if comment:
        head += "  " + comment
    lines = [head] + [f"    {member}," for member in members] + [")"]
    return ending.join(lines)


def _fitted(statement: str, limit: int, ending: str) -> str:
    """``statement`` as it stays on one line, or wrapped when it is longer than ``limit``."""
    if len(statement) <= limit:
        return statement
    parsed = ast.parse(statement).body[0]
    if not isinstance(parsed, ast.ImportFrom) or parsed.level:
        return statement  # ``import a.b.c`` cannot be wrapped; isort leaves it long too
    members = [_alias_text(alias) for alias in parsed.names]
    return _wrapped(parsed.module or "", members, ending)


def _alias_text(alias: ast.alias) -> str:
    return alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"


def _line_ending(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"


def _leading_comment_start(analysis: ModuleAnalysis, line: int) -> int:
    """The first line of the comment lines directly above ``line`` (isort moves them along)."""
    while line > 1 and analysis.source.line(line - 1).lstrip().startswith("#"):
        line -= 1
    return line


def _after(analysis: ModuleAnalysis, statement: ast.stmt, content: str) -> Edit:
    """Insert ``content`` (which ends with a line ending) on the line after ``statement``."""
    source = analysis.source
    end_line = statement.end_lineno or statement.lineno
    if end_line < len(source.lines) and source.line(end_line).endswith(("\n", "\r")):
        return Edit(end_line + 1, 0, end_line + 1, 0, content)
    # The statement ends the file without a line ending: start a new line first.
    ending = _line_ending(source.text)
    end = len(source.line(end_line))
    return Edit(end_line, end, end_line, end, ending + content[: -len(ending)])


def place(analysis: ModuleAnalysis, statement: str) -> Edit | None:
    """The edit that inserts the one-line import ``statement`` where isort would put it."""
    parsed = ast.parse(statement).body[0]
    if not isinstance(parsed, (ast.Import, ast.ImportFrom)):
        raise ValueError(f"not an import statement: {statement!r}")
    first_party = _first_party(analysis)
    ending = _line_ending(analysis.source.text)
    statement = _fitted(statement, _line_length(analysis), ending)
    module, level = _module_of(parsed)
    wanted = section(module, level, first_party)
    key = _sort_key(parsed)
    start, block = _block(analysis.tree)
    if not block:
        return _first_import(analysis, start, statement, ending)
    sections = [section(*_module_of(s), first_party) for s in block]
    same = [s for s, sec in zip(block, sections, strict=True) if sec == wanted]
    if same:
        for existing in same:
            if _sort_key(existing) > key:
                line = _leading_comment_start(analysis, existing.lineno)
                return Edit(line, 0, line, 0, statement + ending)
        return _after(analysis, same[-1], statement + ending)
    for existing, sec in zip(block, sections, strict=True):
        if sec > wanted:
            line = _leading_comment_start(analysis, existing.lineno)
            return Edit(line, 0, line, 0, statement + ending + ending)
    return _after(analysis, block[-1], ending + statement + ending)


def _first_import(analysis: ModuleAnalysis, start: int, statement: str, ending: str) -> Edit | None:
    body = analysis.tree.body
    following = body[start] if start < len(body) else None
    wanted_blank = 0
    if following is not None:
        definition = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        wanted_blank = 2 if isinstance(following, definition) else 1
    if start == 1:
        docstring = body[0]
        next_line = (docstring.end_lineno or docstring.lineno) + 1
        existing_blank = 0
        if following is not None:
            first = following.lineno
            if hasattr(following, "decorator_list") and following.decorator_list:
                first = min(d.lineno for d in following.decorator_list)
            existing_blank = sum(
                1 for n in range(next_line, first) if not analysis.source.line(n).strip()
            )
        content = statement + ending + ending * max(0, wanted_blank - existing_blank)
        return _after(analysis, docstring, content)
    if following is None:
        return None
    line = following.lineno
    decorators = getattr(following, "decorator_list", None)
    if decorators:
        line = min(d.lineno for d in decorators)
    return Edit(line, 0, line, 0, statement + ending + ending * wanted_blank)


def merge_edit(analysis: ModuleAnalysis, module: str, member: str) -> Edit | None:
    """Add ``member`` (``name`` or ``name as alias``) to the block's ``from <module> import``.

    None when there is no such statement to merge into (a star import, or none at all).
    """
    _, block = _block(analysis.tree)
    target = next(
        (
            s
            for s in block
            if isinstance(s, ast.ImportFrom)
            and s.level == 0
            and s.module == module
            and not any(alias.name == "*" for alias in s.names)
        ),
        None,
    )
    if target is None:
        return None
    key = _member_key(member.split(" ")[0])
    source = analysis.source
    multiline = (target.end_lineno or target.lineno) > target.lineno
    if not multiline:
        grown = _grown_too_long(analysis, target, member)
        if grown is not None:
            return grown
    for alias in target.names:
        if _member_key(alias.name) > key:
            line, column, _, _ = source.span(alias)  # characters, not ast's UTF-8 bytes
            before = source.line(line)[:column]
            if multiline and not before.strip():
                return Edit(line, 0, line, 0, f"{before}{member},{_line_ending(source.text)}")
            return Edit(line, column, line, column, f"{member}, ")
    last = target.names[-1]
    first_line, first_column, line, column = source.span(last)
    rest = source.line(line)[column:]
    if multiline and rest.lstrip().startswith(","):
        indent = source.line(first_line)[:first_column]
        if not indent.strip():
            return _after_line(analysis, line, f"{indent}{member},")
    return Edit(line, column, line, column, f", {member}")


def _grown_too_long(analysis: ModuleAnalysis, target: ast.ImportFrom, member: str) -> Edit | None:
    """The whole one-line import rewritten wrapped, when adding ``member`` makes it too long."""
    source = analysis.source
    line, column, _, end_column = source.span(target)
    text = source.line(line).rstrip("\r\n")
    if len(text) + len(member) + 2 <= _line_length(analysis):
        return None
    members = sorted(
        [_alias_text(alias) for alias in target.names] + [member],
        key=lambda text: _member_key(text.split(" ")[0]),
    )
    tail = text[end_column:].strip()
    comment = tail if tail.startswith("#") else ""
    if tail and not comment:
        return None  # ``from x import a; y()``: leave the line's layout to the user
    ending = _line_ending(source.text)
    return Edit(
        line, column, line, len(text), _wrapped(target.module or "", members, ending, comment)
    )


def _after_line(analysis: ModuleAnalysis, line: int, text: str) -> Edit:
    ending = _line_ending(analysis.source.text)
    return Edit(line + 1, 0, line + 1, 0, text + ending)
