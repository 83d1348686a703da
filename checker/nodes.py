"""Small questions about ``ast`` nodes that every part of the analysis asks.

Kept apart so that names, publish calls, temps, guards and digests share one answer to
"what does this expression say?" (its words, its last identifier, its normal text).
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Iterator, Sequence

_CAMEL_HUMP = re.compile(r"([a-z0-9])([A-Z])")
#: Identifiers already split: a module asks about the same few names again and again.
_WORDS: dict[str, frozenset[str]] = {}


def words(identifier: str) -> frozenset[str]:
    """Split snake_case and camelCase identifiers into lower-case words."""
    found = _WORDS.get(identifier)
    if found is None:
        spaced = _CAMEL_HUMP.sub(r"\1_\2", identifier)
        found = _WORDS[identifier] = frozenset(w for w in spaced.lower().split("_") if w)
    return found


def last_identifier(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def unparsed(node: ast.AST) -> str:
    """A normalised rendering used to compare expressions ("is this the same path?")."""
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover - malformed or absurdly deep
        return ast.dump(node)


def flatten_add(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [*flatten_add(node.left), *flatten_add(node.right)]
    return [node]


def argument(call: ast.Call, index: int, keywords: tuple[str, ...]) -> ast.expr | None:
    positional = call.args
    if any(isinstance(a, ast.Starred) for a in positional[: index + 1]):
        return None
    if index < len(positional):
        return positional[index]
    for keyword in call.keywords:
        if keyword.arg is not None and keyword.arg in keywords:
            return keyword.value
    return None


def inside(node: ast.AST, statements: Sequence[ast.AST]) -> bool:
    line = getattr(node, "lineno", None)
    if line is None:
        return False
    for statement in statements:
        start = getattr(statement, "lineno", None)
        end = getattr(statement, "end_lineno", None)
        if start is None or end is None or not start <= line <= end:
            continue
        for part in ast.walk(statement):
            if part is node:
                return True
    return False


#: Fields that hold statements (and the handlers and cases that hold statements in turn).
_STATEMENT_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_STATEMENT_FIELDS_OF: dict[type, tuple[str, ...]] = {}


def statements(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk(node)`` left to statements: ``node``, then every statement, handler and case.

    In the order ``ast.walk`` yields them (breadth first, children in field order; no
    statement sits inside an expression, so leaving expressions out keeps every statement
    at its depth). A search for a kind of statement (``return``, ``try``, an assignment) in
    a function need not visit its every expression node.
    """
    todo = deque([node])
    while todo:
        node = todo.popleft()
        kind = type(node)
        fields = _STATEMENT_FIELDS_OF.get(kind)
        if fields is None:
            fields = tuple(f for f in kind._fields if f in _STATEMENT_FIELDS)
            _STATEMENT_FIELDS_OF[kind] = fields
        for name in fields:
            children = getattr(node, name, None)
            if type(children) is list:
                todo.extend(children)
        yield node
