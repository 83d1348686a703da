"""Names and aliases: scopes, bindings and the qualified name an expression refers to.

The base of :class:`ocirace_checker.analysis.ModuleAnalysis`: one walk of the tree records
every scope's imports, bindings, assignments, parameters and calls, so that the other parts
(publish calls, temps, guards, digests) resolve ``os.replace`` behind ``import os as o`` or
``from os import replace as r`` the same way, and a local that shadows an import is not
mistaken for it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .model import LintSettings
from .nodes import last_identifier, unparsed
from .positions import Source

_PATH_CLASSES = frozenset(
    "pathlib." + name
    for name in ("Path", "PurePath", "PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath")
)
_PATH_RETURNING_METHODS = frozenset(
    {
        "with_suffix",
        "with_name",
        "with_stem",
        "joinpath",
        "resolve",
        "absolute",
        "expanduser",
        "relative_to",
        "with_segments",
    }
)


@dataclass
class _Scope:
    node: ast.AST
    parent: _Scope | None
    imports: dict[str, str] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    assignments: dict[str, list[tuple[ast.AST, ast.expr | None]]] = field(default_factory=dict)
    params: dict[str, ast.arg] = field(default_factory=dict)
    calls: list[ast.Call] = field(default_factory=list)
    #: A class body: visible to its own statements only, not to the methods defined in it.
    is_class: bool = False
    #: Line of the import that bound each imported name (a later assignment shadows it).
    import_lines: dict[str, int] = field(default_factory=dict)
    #: The modules of ``from M import *`` statements, in order.
    star_imports: list[str] = field(default_factory=list)


#: Modules that are the same functions under another name (``import nt as _os``).
_MODULE_ALIASES = {"nt": "os", "posix": "os", "ntpath": "os.path", "posixpath": "os.path"}
#: Modules a program may keep as an attribute under their own name (``self.tools.shutil``).
_MODULES_KEPT_AS_ATTRIBUTES = frozenset({"os", "shutil"})


def _canonical(name: str) -> str:
    head, dot, rest = name.partition(".")
    alias = _MODULE_ALIASES.get(head)
    if alias is None:
        return name
    if alias == "os" and rest.startswith("path."):
        return name if head == "os" else "os." + rest
    return alias + dot + rest


#: Fields that never hold a node the analysis looks at (contexts, operators, comments, and
#: the fields that hold only identifiers, numbers or flags).
_SKIPPED_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "type_ignores",
        "type_comment",
        "id",
        "attr",
        "arg",
        "name",
        "module",
        "level",
        "asname",
        "kind",
        "conversion",
        "is_async",
        "simple",
    }
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
#: Node types that never have a child the walk records (a name, a constant): not walked into.
_LEAF_KINDS = frozenset({ast.Name, ast.Constant, ast.alias, ast.Pass, ast.Break, ast.Continue})


def _child_fields(kind: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        fields = tuple(f for f in getattr(kind, "_fields", ()) if f not in _SKIPPED_FIELDS)
        _CHILD_FIELDS[kind] = fields
    return fields


#: Node types :meth:`NameIndex._record` has something to record for.
_RECORDED_KINDS = frozenset(
    {
        ast.Import,
        ast.ImportFrom,
        ast.Call,
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
        ast.NamedExpr,
        ast.For,
        ast.AsyncFor,
        ast.withitem,
    }
)
_SCOPE_KINDS = frozenset({ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda})

_SCOPE_TYPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class NameIndex:
    """Scopes, bindings and qualified names of one parsed module."""

    def __init__(
        self,
        tree: ast.Module,
        source: Source,
        settings: LintSettings,
        module_name: str = "",
        is_package: bool = False,
    ) -> None:
        self.tree = tree
        #: The dotted module name within the checked tree ("" when unknown), for relative
        #: imports.
        self.module_name = module_name
        self.is_package = is_package
        self.source = source
        self.settings = settings
        self.parents: dict[ast.AST, ast.AST] = {}
        self.scope_of: dict[ast.AST, _Scope] = {}
        self.scopes: dict[ast.AST, _Scope] = {}
        #: Every ``a / b`` in the module (path joins, for ORC007), collected by the one walk.
        self.divisions: list[ast.BinOp] = []
        self._calls_by_name: dict[str, list[ast.Call]] | None = None
        self._call_names: dict[ast.Call, str | None] = {}
        #: :meth:`windows_excluded` per node, and each ``if`` test's text: pure functions of
        #: the tree, asked for every assignment of a name each time the name is resolved.
        self._off_windows: dict[ast.AST, bool] = {}
        self._test_texts: dict[ast.AST, str] = {}
        self._build(tree)

    # ------------------------------------------------------------------ building the index

    def _build(self, tree: ast.Module) -> None:
        """One walk over the tree: parents, scopes, bindings, calls, ``/`` operations.

        The hot loop of the analysis (it touches every node), so it skips the leaves that
        carry no names (expression contexts, operators) and dispatches on the node's type
        rather than through a chain of ``isinstance`` tests.
        """
        module_scope = _Scope(tree, None)
        self.scopes[tree] = module_scope
        parents = self.parents
        scope_of = self.scope_of
        divisions = self.divisions
        known_fields = _CHILD_FIELDS
        leaves = _LEAF_KINDS
        recorded = _RECORDED_KINDS
        scope_kinds = _SCOPE_KINDS
        node_type = ast.AST
        stack: list[tuple[ast.AST, _Scope]] = [(tree, module_scope)]
        pop = stack.pop
        push = stack.append
        while stack:
            node, scope = pop()
            kind = type(node)
            fields = known_fields.get(kind)
            if fields is None:
                fields = _child_fields(kind)
            for field_name in fields:
                value = getattr(node, field_name, None)
                if value is None:
                    continue
                for child in value if type(value) is list else (value,):
                    if not isinstance(child, node_type):
                        continue  # Global/Nonlocal names are plain strings
                    parents[child] = node
                    kind = type(child)
                    if kind in leaves:
                        scope_of[child] = scope
                        continue
                    child_scope = scope
                    if kind in scope_kinds:
                        self._bind_definition(child, scope)
                        child_scope = _Scope(child, scope)
                        self.scopes[child] = child_scope
                        self._bind_params(child, child_scope)
                    elif kind is ast.ClassDef:
                        scope.bound.add(child.name)  # type: ignore[attr-defined]
                        child_scope = _Scope(child, scope, is_class=True)
                        self.scopes[child] = child_scope
                    elif kind is ast.BinOp and type(child.op) is ast.Div:  # type: ignore[attr-defined]
                        divisions.append(child)  # type: ignore[arg-type]
                    scope_of[child] = child_scope
                    if kind in recorded:
                        self._record(child, scope)
                    push((child, child_scope))

    @staticmethod
    def _bind_definition(node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope.bound.add(node.name)

    @staticmethod
    def _bind_params(node: ast.AST, scope: _Scope) -> None:
        args = getattr(node, "args", None)
        if not isinstance(args, ast.arguments):
            return
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if args.vararg:
            every.append(args.vararg)
        if args.kwarg:
            every.append(args.kwarg)
        for arg in every:
            scope.bound.add(arg.arg)
            scope.params[arg.arg] = arg

    def _record(self, node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound, imported = alias.asname, _canonical(alias.name)
                else:
                    bound = imported = alias.name.split(".")[0]
                scope.imports[bound] = imported
                scope.import_lines[bound] = node.lineno
        elif isinstance(node, ast.ImportFrom):
            module = self.resolve_relative(node)
            if module:
                for alias in node.names:
                    if alias.name == "*":
                        scope.star_imports.append(module)
                        continue
                    name = alias.asname or alias.name
                    scope.imports[name] = _canonical(f"{module}.{alias.name}")
                    scope.import_lines[name] = node.lineno
        elif isinstance(node, ast.Call):
            scope.calls.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets: list[ast.expr]
            targets = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
            for assigned in targets:
                self._bind_target(assigned, node.value, node, scope)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._bind_target(node.target, None, node, scope)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._bind_target(node.optional_vars, node.context_expr, node, scope)

    def _bind_target(
        self, target: ast.expr, value: ast.expr | None, node: ast.AST, scope: _Scope
    ) -> None:
        if isinstance(target, ast.Name):
            scope.bound.add(target.id)
            scope.assignments.setdefault(target.id, []).append((node, value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            values: Sequence[ast.expr | None]
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                values = value.elts
            else:
                # fd, tmp = tempfile.mkstemp(): remember the call for every element.
                values = [value] * len(target.elts)
            for element, element_value in zip(target.elts, values, strict=True):
                self._bind_target(element, element_value, node, scope)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None, node, scope)

    # ------------------------------------------------------------------ navigation

    def calls_named(self, name: str) -> Sequence[ast.Call]:
        """Every call whose callee ends in the identifier ``name``, in the order of ``scopes``.

        The caller searches ask this for every function whose guard or temp they follow;
        scanning every call of the module for each ask was 7 % of a cold run. Built on first
        use, from the calls the walk recorded.
        """
        return self._by_callee().get(name, ())

    def called_names(self) -> frozenset[str]:
        """Every identifier a call's callee ends in: the names :meth:`calls_named` answers.

        What the project index remembers of a module whose analysis it does not keep
        (:class:`.outline.Outline`): a search for a name not among these finds no call.
        """
        return frozenset(self._by_callee())

    def _by_callee(self) -> dict[str, list[ast.Call]]:
        by_name = self._calls_by_name
        if by_name is None:
            by_name = {}
            for scope in self.scopes.values():
                for call in scope.calls:
                    identifier = last_identifier(call.func)
                    if identifier is not None:
                        by_name.setdefault(identifier, []).append(call)
            self._calls_by_name = by_name
        return by_name

    def scope(self, node: ast.AST) -> _Scope:
        return self.scope_of.get(node) or self.scopes[self.tree]

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def ancestors_in_scope(self, node: ast.AST) -> Iterator[ast.AST]:
        for ancestor in self.ancestors(node):
            yield ancestor
            if isinstance(ancestor, (*_SCOPE_TYPES, ast.ClassDef)):
                return

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            current = self.parents.get(current)
        return current

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return ancestor
        return None

    @staticmethod
    def visible_scopes(scope: _Scope) -> Iterator[_Scope]:
        """``scope`` and the scopes its names resolve in: enclosing class bodies are skipped."""
        yield scope
        current = scope.parent
        while current is not None:
            if not current.is_class:
                yield current
            current = current.parent

    def resolve_relative(self, node: ast.ImportFrom) -> str | None:
        """The absolute module of a ``from`` import (relative ones need the module's name)."""
        if node.level == 0:
            return node.module
        package = self.module_name.split(".") if self.module_name else []
        if not package:
            return None
        # A module's own package is its name minus the last part (``__init__`` is the package).
        keep = len(package) - node.level + (1 if self.is_package else 0)
        if keep <= 0:
            return None
        base = ".".join(package[:keep])
        return f"{base}.{node.module}" if node.module else base

    def assignment_before(self, name: str, node: ast.AST) -> ast.expr | None:
        """The value most recently assigned to ``name`` before ``node``, in its scope."""
        for scope in self.visible_scopes(self.scope(node)):
            entries = scope.assignments.get(name)
            if entries:
                line = getattr(node, "lineno", 0)
                before = [e for e in entries if getattr(e[0], "lineno", 0) <= line]
                chosen = (before or entries)[-1]
                return chosen[1]
            if name in scope.bound:
                return None
        return None

    def binding_node(self, name: str, node: ast.AST) -> ast.AST | None:
        scope = self.scope(node)
        entries = scope.assignments.get(name)
        if not entries:
            return None
        line = getattr(node, "lineno", 0)
        before = [e for e in entries if getattr(e[0], "lineno", 0) <= line]
        return (before or entries)[-1][0]

    # ------------------------------------------------------------------ names

    def qualified_name(
        self, node: ast.expr, scope: _Scope | None = None, depth: int = 0
    ) -> str | None:
        """The dotted name an expression refers to, through imports and aliases.

        Aliases are followed: ``replace = os.replace``, ``safe_rename = getattr(os,
        "replace", os.rename)``, ``import nt as _os`` (``nt`` and ``posix`` are ``os``),
        ``from .util import rename`` (with the project index, what ``util`` binds it to), and a
        module kept as an attribute under its own name (``self.tools.shutil.move``). A name
        rebound after its import, or shadowed in a class body, is not the import.
        """
        scope = scope or self.scope(node)
        if isinstance(node, ast.Name):
            line = getattr(node, "lineno", 0)
            for current in self.visible_scopes(scope):
                if node.id in current.imports and not self._rebound(current, node.id, line):
                    return self.follow_import(current.imports[node.id], depth)
                if node.id in current.bound:
                    return self._alias(current, node.id, line, current is not scope, depth)
            if node.id in ("open", "id", "str", "print", "getattr"):
                return "builtins." + node.id
            module_scope = self.scopes[self.tree]
            if module_scope.star_imports:
                return self.star_imported(node.id, module_scope.star_imports, depth)
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualified_name(node.value, scope, depth)
            if base is not None:
                return _canonical(f"{base}.{node.attr}")
            value = node.value
            if isinstance(value, ast.Attribute) and value.attr in _MODULES_KEPT_AS_ATTRIBUTES:
                return _canonical(f"{value.attr}.{node.attr}")
        return None

    def star_imported(self, name: str, modules: list[str], depth: int) -> str | None:
        """What a name the module never binds is, when a ``from M import *`` may bind it.

        Only the project index can say which names another checked module binds; alone,
        the module cannot tell, and the name stays unknown.
        """
        return None

    def follow_import(self, name: str, depth: int) -> str:
        """What an imported name is; the project index answers for the checked tree's modules."""
        return name

    def windows_excluded(self, node: ast.AST) -> bool:
        """Whether ``node`` only runs where Windows cannot be (answered by :mod:`.guards`)."""
        return False

    def _rebound(self, scope: _Scope, name: str, line: int) -> bool:
        """Whether an assignment after the import rebinds ``name`` - on Windows.

        jieba binds ``from shutil import move as _replace_file`` under ``if os.name ==
        "nt":`` and ``_replace_file = os.rename`` in the ``else``: on Windows, the only
        platform the rules are about, the name is the import.
        """
        imported = scope.import_lines.get(name, 0)
        return any(
            imported < getattr(node, "lineno", 0) <= line and not self.windows_excluded(node)
            for node, _ in scope.assignments.get(name, ())
        )

    def _alias(self, scope: _Scope, name: str, line: int, outer: bool, depth: int) -> str | None:
        """The qualified name a plain assignment makes ``name`` an alias of, if all agree."""
        if depth > 3 or name in scope.params:
            return None
        entries = scope.assignments.get(name)
        if not entries:
            return None
        if len(entries) > 1:  # one binding is the name, wherever it is made
            on_windows = [e for e in entries if not self.windows_excluded(e[0])]
            entries = on_windows or entries  # a binding made only off Windows is not the name there
        if not outer:
            before = [e for e in entries if getattr(e[0], "lineno", 0) <= line]
            entries = before[-1:] or entries[-1:]
        names = {self.alias_target(value, scope, depth + 1) for _, value in entries}
        if len(names) != 1:
            return None
        return names.pop()

    def alias_target(self, value: ast.expr | None, scope: _Scope, depth: int) -> str | None:
        """The function a value names: a name, ``getattr(module, "f", default)``, a choice."""
        if isinstance(value, (ast.Name, ast.Attribute)):
            return self.qualified_name(value, scope, depth)
        if isinstance(value, ast.IfExp):
            first = self.alias_target(value.body, scope, depth)
            return first if first is not None else self.alias_target(value.orelse, scope, depth)
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "getattr"
            and len(value.args) >= 2
            and isinstance(value.args[1], ast.Constant)
            and isinstance(value.args[1].value, str)
        ):
            module = self.qualified_name(value.args[0], scope, depth)
            if module is not None:
                return _canonical(f"{module}.{value.args[1].value}")
            if len(value.args) == 3:
                return self.alias_target(value.args[2], scope, depth)
        return None

    def call_name(self, call: ast.Call) -> str | None:
        """``qualified_name(call.func)``, resolved once per call.

        The publish calls and the digest sites both resolve every call of the module; the
        answers are forgotten whenever the project index behind them may change
        (:meth:`forget_call_names`).
        """
        names = self._call_names
        if call in names:
            return names[call]
        name = names[call] = self.qualified_name(call.func)
        return name

    def forget_call_names(self) -> None:
        """Drop the resolved callees: the index or the settings they were resolved with changed."""
        self._call_names = {}

    def is_pathlike(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether ``node`` is a pathlib path (constructor, path method, ``/``, annotation)."""
        if depth > 4:
            return False
        if isinstance(node, ast.Call):
            name = self.qualified_name(node.func)
            if name in _PATH_CLASSES:
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in _PATH_RETURNING_METHODS:
                return self.is_pathlike(node.func.value, depth + 1) or node.func.attr.startswith(
                    "with_"
                )
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if isinstance(node.right, ast.JoinedStr) or (
                isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)
            ):
                # Nothing else divides by a string: `self.tools_path.parent / "tools"` is a
                # path whatever the left side is (issue 10: paths of unknown type).
                return True
            return self.is_pathlike(node.left, depth + 1)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self.is_pathlike(node.value, depth + 1)
        if isinstance(node, ast.Name):
            scope = self.scope(node)
            param = scope.params.get(node.id)
            if param is not None and param.annotation is not None:
                return "Path" in unparsed(param.annotation)
            value = self.assignment_before(node.id, node)
            if value is not None:
                return self.is_pathlike(value, depth + 1)
        return False
