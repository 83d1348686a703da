"""ORC005: a temp file is renamed while the writer still holds it open.

POSIX lets you rename an open file, so ``os.replace`` inside ``with open(tmp, "wb")`` works
there. On Windows CPython opens files without ``FILE_SHARE_DELETE``, so renaming a file that
any handle (including your own) holds open fails with ``PermissionError [WinError 32]``
(row 7) - every time, not only under a race.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis import PublishCall
from ..model import Edit, Finding, Fix
from .base import Context, Invalid, Rule, Valid, callee_text

__all__ = ["RULE"]

CODE = "ORC005"

_OPENERS = frozenset(
    {
        "builtins.open",
        "io.open",
        "codecs.open",
        "gzip.open",
        "bz2.open",
        "lzma.open",
        "tempfile.NamedTemporaryFile",
    }
)


def check(ctx: Context) -> Iterator[Finding]:
    for publish in ctx.analysis.publish_calls:
        holder = _open_holder(ctx, publish)
        if holder is None:
            continue
        with_node, opener, handle = holder
        where = getattr(with_node, "lineno", "?")
        yield ctx.finding(
            CODE,
            publish.call,
            f"{callee_text(ctx, publish)} renames {ctx.text(publish.src)} while it is still "
            f"open (the with block at line {where} holds it): on Windows the "
            "rename fails with PermissionError [WinError 32]",
            "close the file first: move the rename after the with block, or call "
            f"{handle or 'f'}.close() before it",
            _close_fix(ctx, publish, with_node, opener, handle),
        )


def _open_holder(
    ctx: Context, publish: PublishCall
) -> tuple[ast.With | ast.AsyncWith, ast.expr, str | None] | None:
    analysis = ctx.analysis
    keys = _keys(ctx, publish.src)
    for ancestor in analysis.ancestors_in_scope(publish.call):
        if not isinstance(ancestor, (ast.With, ast.AsyncWith)):
            continue
        for item in ancestor.items:
            expr = item.context_expr
            handle = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else None
            if not _opens(ctx, expr, keys, handle):
                continue
            if handle is not None and _closed_before(ancestor, handle, publish.call):
                continue
            return ancestor, expr, handle
    return None


def _keys(ctx: Context, src: ast.expr) -> set[str]:
    """Renderings of the renamed path: ``tmp``, ``str(tmp)`` -> ``tmp``, ``f.name``."""
    keys = {ast.unparse(src)}
    node = src
    if isinstance(node, ast.Call) and len(node.args) == 1:
        keys.add(ast.unparse(node.args[0]))
        node = node.args[0]
    if isinstance(node, ast.Name):
        value = ctx.analysis.assignment_before(node.id, node)
        if value is not None:
            keys.add(ast.unparse(value))
    return keys


def _opens(ctx: Context, expr: ast.expr, keys: set[str], handle: str | None) -> bool:
    if not isinstance(expr, ast.Call):
        return False
    name = ctx.analysis.qualified_name(expr.func) or ""
    if name == "tempfile.NamedTemporaryFile":
        return handle is not None and f"{handle}.name" in keys
    if name in _OPENERS and expr.args:
        return ast.unparse(expr.args[0]) in keys
    if name == "os.fdopen" and expr.args and isinstance(expr.args[0], ast.Name):
        # fd, tmp = mkstemp(); with os.fdopen(fd) as f: os.replace(tmp, ...)
        value = ctx.analysis.assignment_before(expr.args[0].id, expr)
        return value is not None and any(ast.unparse(value) == key for key in keys)
    if isinstance(expr.func, ast.Attribute) and expr.func.attr == "open":
        return ast.unparse(expr.func.value) in keys
    return False


def _closed_before(with_node: ast.AST, handle: str, call: ast.Call) -> bool:
    for part in ast.walk(with_node):
        if (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Attribute)
            and part.func.attr == "close"
            and isinstance(part.func.value, ast.Name)
            and part.func.value.id == handle
            and part.lineno < call.lineno
        ):
            return True
    return False


def _close_fix(
    ctx: Context,
    publish: PublishCall,
    with_node: ast.With | ast.AsyncWith,
    opener: ast.expr,
    handle: str | None,
) -> Fix | None:
    """Insert ``handle.close()`` on the line before the rename statement.

    Safe when nothing after the rename in the block uses the handle (or the descriptor it
    wraps) and the rename is not in a loop inside the block: closing early then only moves
    the close the ``with`` would do anyway (closing twice is harmless). Otherwise a later
    ``write`` would fail on a closed file, so the fix is unsafe. A ``NamedTemporaryFile``
    without ``delete=False`` gets no fix: closing it deletes the file it is about to rename.
    """
    if handle is None:
        return None
    if _named_temporary_deleting(ctx, opener):
        return None
    statement = ctx.analysis.statement_of(publish.call)
    if statement is None:
        return None
    line = statement.lineno
    indent = ctx.source.indentation(line)
    column = ctx.source.char_column(line, statement.col_offset)
    if column != len(indent):
        return None  # the statement shares its line with another one
    text = ctx.source.line(line)
    ending = text[len(text.rstrip("\r\n")) :] or "\n"
    edit = Edit(line, 0, line, 0, f"{indent}{handle}.close(){ending}")
    safe = not _in_loop_within(ctx, publish.call, with_node) and not _used_after(
        with_node, statement, _handle_names(opener, handle)
    )
    return Fix(f"Close {handle} before renaming it", "safe" if safe else "unsafe", (edit,))


def _named_temporary_deleting(ctx: Context, opener: ast.expr) -> bool:
    if not isinstance(opener, ast.Call):
        return False
    if ctx.analysis.qualified_name(opener.func) != "tempfile.NamedTemporaryFile":
        return False
    for keyword in opener.keywords:
        value = keyword.value
        if keyword.arg == "delete" and isinstance(value, ast.Constant) and value.value is False:
            return False
    return True


def _handle_names(opener: ast.expr, handle: str) -> set[str]:
    """The handle, and a descriptor it wraps (``os.fdopen(fd)``): both die with close()."""
    names = {handle}
    if isinstance(opener, ast.Call) and opener.args and isinstance(opener.args[0], ast.Name):
        names.add(opener.args[0].id)
    return names


def _in_loop_within(ctx: Context, node: ast.AST, with_node: ast.AST) -> bool:
    for ancestor in ctx.analysis.ancestors_in_scope(node):
        if ancestor is with_node:
            return False
        if isinstance(ancestor, (ast.For, ast.AsyncFor, ast.While)):
            return True
    return False


def _used_after(with_node: ast.With | ast.AsyncWith, statement: ast.stmt, names: set[str]) -> bool:
    end = (statement.end_lineno or statement.lineno, statement.end_col_offset or 0)
    for part in with_node.body:
        for node in ast.walk(part):
            if (
                isinstance(node, ast.Name)
                and node.id in names
                and (node.lineno, node.col_offset) >= end
            ):
                return True
    return False


VALID = (
    Valid(
        """
        import os
        def store(tmp, dst, data):
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dst)
        """
    ),
    Valid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                f.close()
                os.replace(tmp, dst)
        """
    ),
    # A different file is open.
    Valid(
        """
        import os
        def store(tmp, dst, log):
            with open(log, "a") as f:
                os.replace(tmp, dst)
                f.write("published")
        """
    ),
)

INVALID = (
    Invalid(
        """
        import os
        def store(tmp, dst, data):
            with open(tmp, "wb") as f:
                f.write(data)
                os.replace(tmp, dst)
        """,
        line=5,
        message="PermissionError [WinError 32]",
        applicability="safe",
        fixed="""
        import os
        def store(tmp, dst, data):
            with open(tmp, "wb") as f:
                f.write(data)
                f.close()
                os.replace(tmp, dst)
        """,
    ),
    Invalid(
        """
        import os, tempfile
        def store(dst, data):
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(dst), delete=False) as tf:
                tf.write(data)
                os.replace(tf.name, dst)
        """,
        line=5,
        applicability="safe",
    ),
    # The handle is written to after the rename: closing first would break that write.
    Invalid(
        """
        import os
        def store(tmp, dst, data):
            with open(tmp, "wb") as f:
                f.write(data)
                os.replace(tmp, dst)
                f.write(b"trailer")
        """,
        line=5,
        applicability="unsafe",
    ),
    Invalid(
        """
        import os, tempfile
        def store(dst, data):
            fd, tmp = tempfile.mkstemp()
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.rename(tmp, dst)
        """,
        line=6,
    ),
    Invalid(
        """
        from pathlib import Path
        def store(target: Path, data):
            tmp = target.with_suffix(".tmp")
            with tmp.open("wb") as out:
                out.write(data)
                tmp.replace(target)
        """,
        line=6,
    ),
)

RULE = Rule(CODE, check, VALID, INVALID)
