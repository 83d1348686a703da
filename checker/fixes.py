"""Building and applying fixes as plain text edits.

Fixes are edits at source positions, not rewritten syntax trees: an edit touches only the
characters it names (a callee, a statement), so comments, quoting and formatting elsewhere in
the file survive by construction, and applying fixes needs neither libcst nor ``ast`` - the
engine can apply cached fixes on the warm path.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from .analysis import ModuleAnalysis, Source
from .imports import merge_edit, place
from .model import Edit, Fix

__all__ = ["apply_fixes", "import_edit", "insertion_edit", "node_edit"]

#: Other names of the writer's functions: pytest_ocirace re-exports ocirace_writer, and
#: ``pytest_ocirace.writer`` is the same module. An existing import of any of them is reused.
_SAME_WRITER = ("ocirace_writer", "pytest_ocirace", "pytest_ocirace.writer")
_WRITER_ALIASES = {name: _SAME_WRITER for name in _SAME_WRITER}


def _line_starts(source: str) -> list[int]:
    starts = [0]
    index = 0
    length = len(source)
    while index < length:
        char = source[index]
        if char == "\r":
            if index + 1 < length and source[index + 1] == "\n":
                index += 1
            starts.append(index + 1)
        elif char == "\n":
            starts.append(index + 1)
        index += 1
    return starts


def _offset(starts: list[int], source: str, line: int, column: int) -> int:
    if line < 1 or line > len(starts):
        raise ValueError(
            f"fix edit at line {line} is outside the file ({len(starts)} lines): "
            "the file changed since it was checked; re-run the check"
        )
    return min(starts[line - 1] + column, len(source))


def apply_fixes(source: str, fixes: Sequence[Fix]) -> str:
    """Apply every fix that does not overlap an earlier one; return the new source.

    Fixes are taken in the order given, each as a unit: if any edit of a fix overlaps an edit
    already accepted, the whole fix is skipped (a re-run picks it up). Identical edits from
    different fixes - typically the same import insertion - are applied once.
    """
    starts = _line_starts(source)
    accepted: list[tuple[int, int, str, int]] = []
    seen: set[tuple[int, int, str]] = set()
    order = 0
    for fix in fixes:
        spans: list[tuple[int, int, str]] = []
        for edit in fix.edits:
            start = _offset(starts, source, edit.line, edit.column)
            end = _offset(starts, source, edit.end_line, edit.end_column)
            if end < start:
                raise ValueError(f"fix {fix.message!r} has an edit that ends before it starts")
            spans.append((start, end, edit.content))
        fresh = [span for span in spans if span not in seen]
        if any(_overlaps(span, (a, b)) for span in fresh for a, b, _, _ in accepted):
            continue
        for span in fresh:
            seen.add(span)
            accepted.append((*span, order))
            order += 1
    result = source
    # Apply from the end so earlier offsets stay valid; at one offset, first accepted first.
    for start, end, content, _ in sorted(accepted, key=lambda e: (e[0], e[1], e[3]), reverse=True):
        result = result[:start] + content + result[end:]
    return result


def _overlaps(first: tuple[int, int, str], second: tuple[int, int]) -> bool:
    a, b = first[0], first[1]
    c, d = second
    if a == b and c == d:
        return False  # two insertions at one point are both applied, in order
    if a == b:
        return c < a < d
    if c == d:
        return a < c < b
    return a < d and c < b


def node_edit(source: Source, node: ast.AST, content: str) -> Edit:
    """Replace the text of ``node`` with ``content``."""
    line, column, end_line, end_column = source.span(node)
    return Edit(line, column, end_line, end_column, content)


def import_edit(analysis: ModuleAnalysis, module: str, name: str) -> tuple[str, Edit | None]:
    """The expression to call ``<module>.<name>`` by, and the import to add if one is needed.

    An existing module-level import is reused: ``from <module> import <name> [as x]`` gives
    ``x``, ``import <module> [as m]`` gives ``m.<name>``. Otherwise ``<name>`` is added where
    isort would put it (:mod:`.imports`): into an existing ``from <module> import ...``,
    or as a new statement in the right section, aliased when the name is already taken.
    """
    tree = analysis.tree
    modules = _WRITER_ALIASES.get(module, (module,))
    wanted = {f"{candidate}.{name}" for candidate in modules}
    imported = _runtime_imports(tree)
    for local, qualified in imported.items():
        if qualified in wanted:
            return local, None
    for local, qualified in imported.items():
        if qualified in modules:
            return f"{local}.{name}", None
    taken: set[str] = set()
    for scope in analysis.scopes.values():
        taken |= scope.bound
        taken |= set(scope.imports)
    local = name if name not in taken else f"_ocirace_{name}"
    alias = "" if local == name else f" as {local}"
    merged = merge_edit(analysis, module, f"{name}{alias}")
    if merged is not None:
        return local, merged
    return local, insertion_edit(analysis, f"from {module} import {name}{alias}")


def _runtime_imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> qualified name of the imports every run of the module executes.

    Only statements at the top level (or in a top-level ``try``) count: an import under
    ``if TYPE_CHECKING:`` or inside a function is not there when the fixed call runs.
    """
    statements: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, ast.Try):
            statements.extend(statement.body)
        else:
            statements.append(statement)
    found: dict[str, str] = {}
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                elif "." not in alias.name:
                    found[alias.name] = alias.name
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            for alias in statement.names:
                found[alias.asname or alias.name] = f"{statement.module}.{alias.name}"
    return found


def insertion_edit(analysis: ModuleAnalysis, statement: str) -> Edit | None:
    """Insert a one-line import statement where isort would put it (see ocirace_checker.imports)."""
    return place(analysis, statement)


def _line_ending(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"
