"""The shape every rule shares: its code, its check, and its own valid/invalid examples.

Borrowed from Fixit 2: a rule carries the examples that prove it (``VALID`` must produce no
finding of the rule's code, each ``INVALID`` must produce one, at the stated line, with the
stated fixed output), and ``tests/checker/test_rules.py`` runs them all. The examples are the
rule's specification as much as its test.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..analysis import ModuleAnalysis, PublishCall
from ..fixes import import_edit, insertion_edit, node_edit
from ..model import Edit, Finding, Fix, Related

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..project_index import ProjectIndex

__all__ = ["Context", "Invalid", "Rule", "Valid", "publish_fix", "rename_to_replace_fix"]


class _Example:
    """The source of an example: one module, or several (module path -> source).

    A multi-module example (``{"pkg/util.py": ..., "pkg/store.py": ...}``) is checked in
    ``path`` (by default its last module) with the project index of all of them, so a rule
    can show what it sees across modules: an alias re-exported elsewhere, a temp written by
    another module's helper, a guard in another module's caller.
    """

    code: str | dict[str, str]
    path: str | None

    @property
    def modules(self) -> dict[str, str]:
        """Every module of the example, dedented, by path."""
        if isinstance(self.code, str):
            return {"example.py": _dedent(self.code)}
        return {path: _dedent(text) for path, text in self.code.items()}

    @property
    def checked_path(self) -> str:
        """The module the rule's findings are expected in."""
        modules = list(self.modules)
        return self.path or modules[-1]

    @property
    def source(self) -> str:
        return self.modules[self.checked_path]

    def index(self) -> ProjectIndex | None:
        """The project index of a multi-module example; None for a one-file example."""
        if isinstance(self.code, str):
            return None
        from ..project_index import index_of_sources

        return index_of_sources(self.modules)


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@dataclass(frozen=True)
class Valid(_Example):
    """Code the rule must leave alone (dedented before use)."""

    code: str | dict[str, str]
    path: str | None = None


@dataclass(frozen=True)
class Invalid(_Example):
    """Code the rule must report, optionally at ``line`` and with the fixed output."""

    code: str | dict[str, str]
    line: int | None = None
    #: The whole file after applying this rule's fixes (safe and unsafe), dedented.
    fixed: str | None = None
    #: A fragment the message must contain.
    message: str | None = None
    #: "safe" or "unsafe": what every fix offered for this example must be.
    applicability: str | None = None
    path: str | None = None

    @property
    def fixed_source(self) -> str | None:
        return None if self.fixed is None else textwrap.dedent(self.fixed).lstrip("\n")


class Context:
    """One module's analysis plus the helpers rules use to report findings."""

    def __init__(self, analysis: ModuleAnalysis) -> None:
        self.analysis = analysis
        self.source = analysis.source
        self.settings = analysis.settings
        #: The module fixes import ``publish`` from; hints name it too.
        self.writer = analysis.settings.fix_writer_module

    def text(self, node: ast.AST) -> str:
        """The expression as written (first line only, shortened) for messages."""
        text = self.source.segment(node).strip()
        first = text.splitlines()[0] if text else ""
        if len(first) > 40 or first != text:
            first = first[:37] + "..."
        return first

    def finding(
        self,
        code: str,
        node: ast.AST,
        message: str,
        hint: str,
        fix: Fix | None = None,
        related: Sequence[tuple[ast.AST, str]] = (),
        why: Sequence[str] = (),
    ) -> Finding:
        """A finding at ``node`` (the publish call); ``related`` are (node, message) pairs."""
        line, column, end_line, end_column = self.source.span(node)
        others = tuple(Related(*self.source.span(other), text) for other, text in related)
        return Finding(
            code, message, line, column, end_line, end_column, hint, fix, others, tuple(why)
        )


@dataclass(frozen=True)
class Rule:
    """A rule: its code, its check and its examples."""

    code: str
    check: Callable[[Context], Iterator[Finding]]
    valid: tuple[Valid, ...]
    invalid: tuple[Invalid, ...]


def callee_text(ctx: Context, publish: PublishCall) -> str:
    if publish.is_method:
        return f"Path.{publish.kind}()"
    return ctx.source.segment(publish.callee) + "()"


def publish_fix(ctx: Context, publish: PublishCall) -> Fix | None:
    """Rewrite the call to ``publish(src, dst)`` from the configured writer module.

    Safe (see docs/rules/ORC001.md) only for a plain ``os.replace(tmp, dst)`` or
    ``Path.replace`` statement whose result is unused: ``publish`` does exactly that replace
    on POSIX and retries only Windows' transient sharing errors, raising a
    ``PermissionError`` subclass when they persist. Everything else - ``os.rename`` (raises
    FileExistsError on Windows), ``shutil.move`` (copies across devices), a used return value
    (``Path.replace`` returns the new path, ``publish`` a bool), a callable handed to an
    executor, a visibly ``bytes`` path (``publish`` takes text paths) - is unsafe.
    """
    call = publish.call
    parent = ctx.analysis.parents.get(call)
    if publish.is_method:
        if publish.via is not None or not isinstance(parent, ast.Expr):
            return None  # Path.replace returns the new path; publish's result differs
    elif publish.via is None:
        names = {k.arg for k in call.keywords}
        if len(call.args) + len(call.keywords) != 2 or not names <= {"src", "dst"}:
            return None  # extra arguments (dir_fd, copy_function) have no publish equivalent
    module = ctx.settings.fix_writer_module
    local, extra = import_edit(ctx.analysis, module, "publish")
    edits: list[Edit] = []
    if publish.is_method:
        receiver = ctx.source.segment(publish.src)
        line, column, _, _ = ctx.source.span(call)
        func_end = ctx.source.span(publish.callee)
        paren = ctx.source.text.find("(", ctx.source.offset(func_end[2], func_end[3]))
        if paren < 0:
            return None
        paren_line, paren_column = _position(ctx, paren + 1)
        edits.append(Edit(line, column, paren_line, paren_column, f"{local}({receiver}, "))
    else:
        edits.append(node_edit(ctx.source, publish.callee, local))
    if extra is not None:
        edits.insert(0, extra)
    safe = _publish_is_safe(ctx, publish, parent)
    return Fix(
        f"Replace with {local}() from {module} (retries the Windows sharing errors)",
        "safe" if safe else "unsafe",
        tuple(edits),
    )


def _publish_is_safe(ctx: Context, publish: PublishCall, parent: ast.AST | None) -> bool:
    if publish.via is not None or not isinstance(parent, ast.Expr):
        return False
    if publish.qualified_name not in ("os.replace", "pathlib.Path.replace"):
        return False
    if publish.is_method and not ctx.analysis.is_pathlike(publish.src):
        return False  # a one-argument .replace() on something we only guess is a Path
    return not any(_visibly_bytes(ctx, node) for node in (publish.src, publish.dst))


def _visibly_bytes(ctx: Context, node: ast.expr, depth: int = 0) -> bool:
    """A bytes path: ``publish`` accepts only text paths, so the fix would raise TypeError.

    Conservative: any bytes literal or ``encode()`` in the expression (or in the value a
    name was last assigned) counts, so ``mkstemp(suffix=b".tmp")`` makes the fix unsafe.
    """
    for part in ast.walk(node):
        if isinstance(part, ast.Constant) and isinstance(part.value, bytes):
            return True
        if isinstance(part, ast.Call):
            name = ctx.analysis.qualified_name(part.func) or ""
            if name == "os.fsencode" or (
                isinstance(part.func, ast.Attribute) and part.func.attr == "encode"
            ):
                return True
        if isinstance(part, ast.Name) and depth < 3:
            value = ctx.analysis.assignment_before(part.id, node)
            if value is not None and value is not node and _visibly_bytes(ctx, value, depth + 1):
                return True
    return False


def rename_to_replace_fix(ctx: Context, publish: PublishCall) -> Fix | None:
    """``os.rename``/``Path.rename`` -> ``os.replace``/``Path.replace``.

    Safe (see docs/rules/ORC003.md): on POSIX the two are the same system call, and on
    Windows ``replace`` gives the overwrite the code was written to expect; the arguments and
    the return value are the same. Unsafe when the call sits in a ``try`` that catches
    ``FileExistsError`` or ``OSError``: that code may depend on the error ``rename`` raises.
    """
    callee = publish.callee
    if publish.qualified_name not in ("os.rename", "pathlib.Path.rename"):
        return None
    applicability: Literal["safe", "unsafe"] = (
        "unsafe" if _catches_exists_error(ctx, publish.call) else "safe"
    )
    if isinstance(callee, ast.Attribute):
        _, _, end_line, end_column = ctx.source.span(callee)
        edit = Edit(end_line, end_column - len("rename"), end_line, end_column, "replace")
        if ctx.source.line(end_line)[end_column - len("rename") : end_column] != "rename":
            return None
        return Fix("Use replace(), which overwrites an existing target", applicability, (edit,))
    if isinstance(callee, ast.Name):
        os_alias = _module_alias(ctx, "os")
        edits = [node_edit(ctx.source, callee, f"{os_alias or 'os'}.replace")]
        if os_alias is None:
            if "os" in ctx.analysis.scopes[ctx.analysis.tree].bound:
                return None
            import_os = _import_os_edit(ctx)
            if import_os is None:
                return None
            edits.insert(0, import_os)
        return Fix(
            "Use os.replace(), which overwrites an existing target", applicability, tuple(edits)
        )
    return None


#: Exceptions whose handler may be there for the FileExistsError that ``rename`` raises.
_EXISTS_ERRORS = frozenset(
    {"FileExistsError", "OSError", "IOError", "EnvironmentError", "WindowsError"}
)


def _catches_exists_error(ctx: Context, node: ast.AST) -> bool:
    for ancestor in ctx.analysis.ancestors_in_scope(node):
        if not isinstance(ancestor, ast.Try) or not _within(node, ancestor.body):
            continue
        for handler in ancestor.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            for kind in types:
                if kind is None:
                    continue
                name = kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", "")
                if name in _EXISTS_ERRORS:
                    return True
    return False


def _within(node: ast.AST, statements: list[ast.stmt]) -> bool:
    return any(part is node for statement in statements for part in ast.walk(statement))


def _module_alias(ctx: Context, module: str) -> str | None:
    for local, qualified in ctx.analysis.scopes[ctx.analysis.tree].imports.items():
        if qualified == module:
            return local
    return None


def _import_os_edit(ctx: Context) -> Edit | None:
    return insertion_edit(ctx.analysis, "import os")


def _position(ctx: Context, offset: int) -> tuple[int, int]:
    offsets = ctx.source.offsets
    low, high = 0, len(offsets) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if offsets[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low + 1, offset - offsets[low]
