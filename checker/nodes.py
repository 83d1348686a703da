"""Small questions about ``ast`` nodes that every part of the analysis asks.

Kept apart so that names, publish calls, temps, guards and digests share one answer to
"what does this expression say?" (its words, its last identifier, its normal text).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

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
