"""What every rule needs to know about a module: names, publish calls, temp files and guards.

The rules ask the same questions - "is this call really ``os.replace``?", "was this path a
freshly written temp file?", "is a lock held here?" - so the answers live here, computed once
per file. The analysis runs on the standard library's ``ast`` (ten times cheaper than libcst)
and is deliberately conservative: a name it cannot resolve, or a receiver it cannot show to be
a path, is not a finding. libcst's ``QualifiedNameProvider`` then confirms each candidate
callee (it understands scopes and shadowing better than a hand-written resolver); libcst is
imported inside :func:`confirm_with_libcst` only, because files without candidates never pay
for it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from checker.model import LintSettings

__all__ = [
    "DigestSite",
    "ModuleAnalysis",
    "PublishCall",
    "Source",
    "TempInfo",
    "confirm_with_libcst",
]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: Functions that publish a file by renaming it; the value is the publish kind.
PUBLISH_FUNCTIONS = {
    "os.rename": "rename",
    "os.renames": "rename",
    "os.replace": "replace",
    "shutil.move": "move",
    "pathlib.Path.rename": "rename",
    "pathlib.Path.replace": "replace",
    # The reference writer renames too: it fixes the race (ORC001/3/4) but not a shared temp
    # name (ORC002), an open source (ORC005) or a removal before it (ORC006).
    "pytest_ocirace.publish": "publish",
    "pytest_ocirace.writer.publish": "publish",
    "ocirace_writer.publish": "publish",
}
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
# Words in an identifier that mark a path-like receiver of a one-argument .rename()/.replace():
# str.replace needs two arguments, so a one-argument call on such a name is a Path method.
_PATHISH_WORDS = frozenset(
    {"path", "tmp", "temp", "file", "dst", "dest", "target", "src", "source", "partial", "part"}
)
_TEMP_WORDS = frozenset({"tmp", "temp", "temporary", "partial", "incomplete", "part", "tempfile"})
# ".new" and ".bak" are left out on purpose: they name backups and renamed-away originals at
# least as often as temp files, and every stdlib hit with them was a false positive.
_TEMP_LITERAL = re.compile(r"(?:^|[._~-])(?:tmp|temp|part|partial|incomplete)(?:$|[._~-])|~$")
_UNIQUE_CALL_PREFIXES = (
    "uuid.",
    "secrets.",
    "random.",
    "tempfile.",
    "os.getpid",
    "os.getppid",
    "os.urandom",
    "threading.get_ident",
    "threading.get_native_id",
    "_thread.get_ident",
    "time.time_ns",
    "time.perf_counter_ns",
    "builtins.id",
)
_UNIQUE_WORDS = re.compile(r"uuid|(?:^|_)pid|nonce|unique|token|rand|ident|thread_id", re.I)
_LOCK_WORDS = frozenset(
    {"lock", "locked", "locking", "mutex", "semaphore", "condition", "flock", "lockf"}
)
_NOT_LOCKS = frozenset({"block", "clock", "unblock", "deadlock", "unlock", "nonblock"})
_LOCK_MODULES = ("threading.", "multiprocessing.", "filelock.", "portalocker.", "fasteners.")
_LOCK_CALLS = frozenset(
    {"fcntl.flock", "fcntl.lockf", "msvcrt.locking", "portalocker.lock", "filelock.FileLock"}
)
_RETRY_MODULES = ("tenacity", "backoff", "retrying", "retry", "stamina", "redo")
_WINDOWS_ERRORS = frozenset(
    {
        "PermissionError",
        "FileExistsError",
        "OSError",
        "IOError",
        "EnvironmentError",
        "WindowsError",
        "Exception",
        "BaseException",
    }
)
_WRITE_WORDS = re.compile(r"open|write|save|dump|copy|retrieve|download|export|to_|touch", re.I)
_REMOVE_FUNCTIONS = frozenset({"os.remove", "os.unlink", "os.rmdir", "shutil.rmtree"})
_FLOW_ENDS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
# Callers that receive a function and its arguments: asyncio.to_thread(os.replace, a, b),
# loop.run_in_executor(None, os.replace, a, b), executor.submit(os.replace, a, b), ...
_DIGEST_ALGORITHM = re.compile(
    r"(?:sha(?:1|224|256|384|512)|sha3_\d+|md5|blake2[bs]|blake3):", re.IGNORECASE
)
_DIGEST_PART_WORDS = re.compile(r"alg|hash|digest|hex|sha|md5|blake|checksum", re.IGNORECASE)
_WINDOWS_TEST = re.compile(
    r"^(?:os\.name == 'nt'|os\.name != 'posix'|sys\.platform == 'win32'"
    r"|sys\.platform\.startswith\('win'\)"
    r"|_?(?:IS_|ON_)?(?:WINDOWS|WIN32|MS_WINDOWS|mswindows|is_windows|WINDOWS_PLATFORM))$"
)
_POSIX_TEST = re.compile(
    r"^(?:os\.name == 'posix'|os\.name != 'nt'|sys\.platform != 'win32'"
    r"|not sys\.platform\.startswith\('win'\)|sys\.platform == '(?:linux|darwin)'"
    r"|not _?(?:IS_|ON_)?(?:WINDOWS|WIN32|MS_WINDOWS|mswindows|is_windows))$"
)


def _words(identifier: str) -> set[str]:
    """Split snake_case and camelCase identifiers into lower-case words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", identifier)
    return {w for w in spaced.lower().split("_") if w}


def _last_identifier(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class Source:
    """The file's text and positions: ``ast`` counts UTF-8 bytes, findings count characters."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = []
        self.offsets: list[int] = []
        start = 0
        for match in _LINE_BREAK.finditer(text):
            self.lines.append(text[start : match.end()])
            self.offsets.append(start)
            start = match.end()
        self.lines.append(text[start:])
        self.offsets.append(start)

    def line(self, lineno: int) -> str:
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1]
        return ""

    def char_column(self, lineno: int, byte_column: int) -> int:
        line = self.line(lineno)
        return len(line.encode("utf-8")[:byte_column].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        """Character span of ``node``: (line, column, end_line, end_column)."""
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        column = self.char_column(line, getattr(node, "col_offset", 0))
        end_byte = getattr(node, "end_col_offset", None)
        end_column = column if end_byte is None else self.char_column(end_line, end_byte)
        return line, column, end_line, end_column

    def offset(self, line: int, column: int) -> int:
        line = max(1, min(line, len(self.lines)))
        return self.offsets[line - 1] + column

    def segment(self, node: ast.AST) -> str:
        line, column, end_line, end_column = self.span(node)
        return self.text[self.offset(line, column) : self.offset(end_line, end_column)]

    def indentation(self, lineno: int) -> str:
        line = self.line(lineno)
        return line[: len(line) - len(line.lstrip(" \t"))]


def _text(node: ast.AST) -> str:
    """A normalised rendering used to compare expressions ("is this the same path?")."""
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover - malformed or absurdly deep
        return ast.dump(node)


@dataclass
class TempInfo:
    """Why an expression is considered a temp file, and what kind of temp it is."""

    #: "mkstemp", "named" (NamedTemporaryFile), "mktemp", "tempdir" (inside a private temp
    #: directory), "derived" (built from another path plus a suffix) or "name" (the variable
    #: name says so).
    kind: str
    #: The name is unique per writer (uuid, pid, mkstemp...): writers never share it.
    unique: bool
    #: Creating it already wrote the file (mkstemp and NamedTemporaryFile).
    created: bool
    #: The expression that built the name (for ORC002), when known.
    origin: ast.expr | None = None


@dataclass
class PublishCall:
    """A call that renames ``src`` onto ``dst``, with the names already resolved."""

    call: ast.Call
    #: The expression naming the function (``os.replace``, ``tmp.rename``...).
    callee: ast.expr
    qualified_name: str
    #: "rename", "replace" or "move".
    kind: str
    src: ast.expr
    dst: ast.expr
    #: True for ``Path.rename``/``Path.replace`` called as a method of ``src``.
    is_method: bool
    #: The call that received the function as a callable (``asyncio.to_thread``), if any.
    via: ast.Call | None = None
    #: Set by libcst confirmation when the name could not be checked.
    confirmed: bool = True


@dataclass
class DigestSite:
    """An expression that puts ``<algorithm>:<hex>`` into a file name."""

    node: ast.expr
    sink: ast.AST
    description: str


@dataclass
class _Scope:
    node: ast.AST
    parent: _Scope | None
    imports: dict[str, str] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    assignments: dict[str, list[tuple[ast.AST, ast.expr | None]]] = field(default_factory=dict)
    params: dict[str, ast.arg] = field(default_factory=dict)
    calls: list[ast.Call] = field(default_factory=list)


_SCOPE_TYPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class ModuleAnalysis:
    """Everything the rules share about one parsed module."""

    def __init__(self, tree: ast.Module, source: Source, settings: LintSettings) -> None:
        self.tree = tree
        self.source = source
        self.settings = settings
        #: The publish functions, plus ``publish`` of a vendored writer (fix-writer-module),
        #: so a file fixed to import it is still understood after the fix.
        self.publish_functions = {
            **PUBLISH_FUNCTIONS,
            f"{settings.fix_writer_module}.publish": "publish",
        }
        self.parents: dict[ast.AST, ast.AST] = {}
        self.scope_of: dict[ast.AST, _Scope] = {}
        self.scopes: dict[ast.AST, _Scope] = {}
        self._build(tree)
        self.publish_calls: list[PublishCall] = list(self._find_publish_calls())
        self.digest_sites: list[DigestSite] = list(self._find_digest_sites())
        self._guard_cache: dict[ast.AST, bool] = {}

    # ------------------------------------------------------------------ building the index

    def _build(self, tree: ast.Module) -> None:
        module_scope = _Scope(tree, None)
        self.scopes[tree] = module_scope
        stack: list[tuple[ast.AST, _Scope]] = [(tree, module_scope)]
        while stack:
            node, scope = stack.pop()
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
                child_scope = scope
                if isinstance(child, _SCOPE_TYPES):
                    self._bind_definition(child, scope)
                    child_scope = _Scope(child, scope)
                    self.scopes[child] = child_scope
                    self._bind_params(child, child_scope)
                elif isinstance(child, ast.ClassDef):
                    scope.bound.add(child.name)
                self.scope_of[child] = child_scope
                self._record(child, scope)
                stack.append((child, child_scope))

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
                    scope.imports[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    scope.imports[top] = top
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                for alias in node.names:
                    scope.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call):
            scope.calls.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets: list[ast.expr]
            targets = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                self._bind_target(target, value, node, scope)
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

    def assignment_before(self, name: str, node: ast.AST) -> ast.expr | None:
        """The value most recently assigned to ``name`` before ``node``, in its scope."""
        scope: _Scope | None = self.scope(node)
        while scope is not None:
            entries = scope.assignments.get(name)
            if entries:
                line = getattr(node, "lineno", 0)
                before = [e for e in entries if getattr(e[0], "lineno", 0) <= line]
                chosen = (before or entries)[-1]
                return chosen[1]
            if name in scope.bound:
                return None
            scope = scope.parent
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

    def qualified_name(self, node: ast.expr, scope: _Scope | None = None) -> str | None:
        """The dotted name an expression refers to, through imports and aliases."""
        scope = scope or self.scope(node)
        if isinstance(node, ast.Name):
            current: _Scope | None = scope
            while current is not None:
                if node.id in current.imports:
                    return current.imports[node.id]
                if node.id in current.bound:
                    return None
                current = current.parent
            if node.id in ("open", "id", "str", "print"):
                return "builtins." + node.id
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualified_name(node.value, scope)
            if base is not None:
                return f"{base}.{node.attr}"
        return None

    def call_name(self, call: ast.Call) -> str | None:
        return self.qualified_name(call.func)

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
            return self.is_pathlike(node.left, depth + 1)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return self.is_pathlike(node.value, depth + 1)
        if isinstance(node, ast.Name):
            scope = self.scope(node)
            param = scope.params.get(node.id)
            if param is not None and param.annotation is not None:
                return "Path" in _text(param.annotation)
            value = self.assignment_before(node.id, node)
            if value is not None:
                return self.is_pathlike(value, depth + 1)
        return False

    # ------------------------------------------------------------------ publish calls

    def _find_publish_calls(self) -> Iterator[PublishCall]:
        for scope in self.scopes.values():
            for call in scope.calls:
                found = self._as_publish(call)
                if found is not None:
                    yield found
                    continue
                yield from self._callables_passed(call)

    def _as_publish(self, call: ast.Call) -> PublishCall | None:
        name = self.qualified_name(call.func)
        if name in self.publish_functions:
            src = _argument(call, 0, ("src", "source"))
            dst = _argument(call, 1, ("dst", "destination", "target"))
            if src is None or dst is None:
                return None
            kind = self.publish_functions[name]
            return PublishCall(call, call.func, name, kind, src, dst, is_method=False)
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("rename", "replace")
            and len(call.args) == 1
            and not call.keywords
            and not isinstance(call.args[0], ast.Starred)
            and self._path_receiver(func.value)
        ):
            return PublishCall(
                call,
                func,
                f"pathlib.Path.{func.attr}",
                func.attr,
                func.value,
                call.args[0],
                is_method=True,
            )
        return None

    def _path_receiver(self, node: ast.expr) -> bool:
        if self.is_pathlike(node):
            return True
        identifier = _last_identifier(node)
        if identifier is None or self.qualified_name(node) is not None:
            return False
        return bool(_words(identifier) & _PATHISH_WORDS)

    def _callables_passed(self, call: ast.Call) -> Iterator[PublishCall]:
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        target = keywords.get("target")
        arguments = keywords.get("args")
        if isinstance(target, (ast.Name, ast.Attribute)) and isinstance(arguments, ast.Tuple):
            # threading.Thread(target=os.replace, args=(tmp, dst)), Process(...) alike
            name = self.qualified_name(target)
            elements = arguments.elts
            if (
                name in self.publish_functions
                and not name.startswith("pathlib.")
                and len(elements) >= 2
                and not any(isinstance(e, ast.Starred) for e in elements[:2])
            ):
                kind = self.publish_functions[name]
                yield PublishCall(
                    call, target, name, kind, elements[0], elements[1], is_method=False, via=call
                )
                return
        args = call.args
        for index, arg in enumerate(args):
            if isinstance(arg, ast.Starred):
                return
            name = self.qualified_name(arg) if isinstance(arg, (ast.Name, ast.Attribute)) else None
            rest = args[index + 1 :]
            if name in self.publish_functions and not name.startswith("pathlib."):
                if len(rest) >= 2 and not any(isinstance(a, ast.Starred) for a in rest[:2]):
                    kind = self.publish_functions[name]
                    yield PublishCall(
                        call, arg, name, kind, rest[0], rest[1], is_method=False, via=call
                    )
                return
            if (
                isinstance(arg, ast.Attribute)
                and arg.attr in ("rename", "replace")
                and len(rest) >= 1
                and not isinstance(rest[0], ast.Starred)
                and self.is_pathlike(arg.value)
            ):
                yield PublishCall(
                    call,
                    arg,
                    f"pathlib.Path.{arg.attr}",
                    arg.attr,
                    arg.value,
                    rest[0],
                    is_method=True,
                    via=call,
                )
                return

    # ------------------------------------------------------------------ temp provenance

    def temp_info(self, node: ast.expr, depth: int = 0) -> TempInfo | None:
        """Why ``node`` names a temp file, or ``None`` when nothing says it does."""
        if depth > 4:
            return None
        if isinstance(node, ast.Call):
            name = self.qualified_name(node.func)
            if name == "tempfile.mktemp":
                return TempInfo("mktemp", unique=True, created=False, origin=node)
            if name in ("tempfile.mkdtemp", "tempfile.TemporaryDirectory"):
                return TempInfo("tempdir", unique=True, created=True, origin=node)
            if name in ("builtins.str", "os.fspath", "os.path.abspath", "os.path.realpath") or (
                name in _PATH_CLASSES and len(node.args) == 1
            ):
                if node.args:
                    return self.temp_info(node.args[0], depth + 1)
                return None
            if name == "os.path.join" and node.args:
                first = self.temp_info(node.args[0], depth + 1)
                if first is not None and first.kind in ("tempdir", "mkstemp"):
                    return TempInfo("tempdir", unique=True, created=False, origin=node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            first = self.temp_info(node.left, depth + 1)
            if first is not None and first.kind == "tempdir":
                return TempInfo("tempdir", unique=True, created=False, origin=node)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "name"
            and self._is_named_temporary(node.value)
        ):
            return TempInfo("named", unique=True, created=True, origin=node)
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            binding = self.binding_node(node.id, node)
            if value is not None:
                info = self._temp_from_value(node.id, value, binding, depth)
                if info is not None:
                    return info
            if _words(node.id) & _TEMP_WORDS:
                return TempInfo("name", unique=False, created=False, origin=value)
            return None
        if self.is_derived_name(node):
            return TempInfo("derived", self.contains_unique_part(node), False, origin=node)
        identifier = _last_identifier(node)
        if identifier is not None and _words(identifier) & _TEMP_WORDS:
            return TempInfo("name", unique=False, created=False, origin=None)
        return None

    def _temp_from_value(
        self, name: str, value: ast.expr, binding: ast.AST | None, depth: int
    ) -> TempInfo | None:
        if isinstance(value, ast.Call):
            called = self.qualified_name(value.func)
            if called in ("tempfile.mkstemp",):
                return TempInfo("mkstemp", unique=True, created=True, origin=value)
            if called in ("tempfile.mkdtemp",) or called == "tempfile.TemporaryDirectory":
                return TempInfo("tempdir", unique=True, created=True, origin=value)
        if isinstance(binding, ast.withitem) and self._is_named_temporary(value):
            return None  # the file object itself; its .name is the temp
        if (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Call)
            and self.qualified_name(value.value.func) == "tempfile.mkstemp"
        ):
            return TempInfo("mkstemp", unique=True, created=True, origin=value)
        info = self.temp_info(value, depth + 1)
        if info is not None:
            return info
        if _words(name) & _TEMP_WORDS:
            unique = self.contains_unique_part(value)
            return TempInfo("name", unique=unique, created=False, origin=value)
        return None

    def _is_named_temporary(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            if self.qualified_name(node.func) in (
                "tempfile.NamedTemporaryFile",
                "tempfile.TemporaryFile",
                "tempfile.SpooledTemporaryFile",
            ):
                return True
            # A project's own factory: mailbox._create_temporary(path), self._create_tmp().
            identifier = _last_identifier(node.func) or ""
            return bool(_words(identifier) & _TEMP_WORDS)
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            return value is not None and self._is_named_temporary(value)
        return False

    def is_derived_name(self, node: ast.expr) -> bool:
        """A name built from another path plus a temp-looking suffix or prefix."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            return any(self._temp_literal(part) for part in ast.walk(node))
        if isinstance(node, ast.JoinedStr):
            return any(self._temp_literal(part) for part in node.values)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("with_suffix", "with_name", "with_stem", "format"):
                return any(self._temp_literal(part) for part in ast.walk(node))
            if self.qualified_name(node.func) == "os.path.join" and node.args:
                return self.is_derived_name(node.args[-1])
        return False

    @staticmethod
    def _temp_literal(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return _TEMP_LITERAL.search(node.value.lower()) is not None
        return False

    def contains_unique_part(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether the expression has a per-writer part: uuid, pid, mkstemp, random..."""
        if depth > 4:
            return False
        for part in ast.walk(node):
            if isinstance(part, ast.Call):
                name = self.qualified_name(part.func) or ""
                if name.startswith(_UNIQUE_CALL_PREFIXES):
                    return True
            elif isinstance(part, (ast.Name, ast.Attribute)):
                identifier = _last_identifier(part) or ""
                if _UNIQUE_WORDS.search(identifier):
                    return True
                if isinstance(part, ast.Name):
                    value = self.assignment_before(part.id, part)
                    if (
                        value is not None
                        and value is not node
                        and self.contains_unique_part(value, depth + 1)
                    ):
                        return True
        return False

    def is_fresh(self, src: ast.expr, info: TempInfo, before: ast.AST) -> bool:
        """The temp was created or written in the same function, before ``before``."""
        if info.created:
            return True
        key = _text(src)
        keys = {key}
        if isinstance(src, ast.Call) and src.args:
            keys.add(_text(src.args[0]))  # str(tmp), Path(tmp)
        line = getattr(before, "lineno", 0)
        for call in self.scope(before).calls:
            if call is before or getattr(call, "lineno", 0) > line:
                continue
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and _text(func.value) in keys
                and func.attr in ("write_bytes", "write_text", "open", "touch", "save")
            ):
                return True
            callee = _last_identifier(func) or ""
            if not _WRITE_WORDS.search(callee):
                continue
            if any(_text(arg) in keys for arg in call.args):
                return True
        return False

    # ------------------------------------------------------------------ guards

    def is_lock_like(self, node: ast.expr) -> bool:
        identifiers = [
            _last_identifier(part) or ""
            for part in ast.walk(node)
            if isinstance(part, (ast.Name, ast.Attribute))
        ]
        for identifier in identifiers:
            for word in _words(identifier):
                if word in _LOCK_WORDS or (word.endswith("lock") and word not in _NOT_LOCKS):
                    return True
            lowered = identifier.lower()
            if any(extra.lower() in lowered for extra in self.settings.extra_lock_names if extra):
                return True
        target = node.func if isinstance(node, ast.Call) else node
        name = self.qualified_name(target) or ""
        return name.startswith(_LOCK_MODULES) and name.split(".")[-1][:1].isupper()

    def lock_held(self, node: ast.AST) -> ast.AST | None:
        """The ``with`` statement (or acquire call) that holds a lock around ``node``."""
        for ancestor in self.ancestors_in_scope(node):
            if isinstance(ancestor, (ast.With, ast.AsyncWith)):
                for item in ancestor.items:
                    if self.is_lock_like(item.context_expr):
                        return ancestor
            if isinstance(ancestor, ast.Try) and _inside(node, ancestor.body):
                for statement in ancestor.finalbody:
                    for part in ast.walk(statement):
                        if (
                            isinstance(part, ast.Call)
                            and isinstance(part.func, ast.Attribute)
                            and part.func.attr in ("release", "unlock")
                        ):
                            return ancestor
        line = getattr(node, "lineno", 0)
        for call in self.scope(node).calls:
            if getattr(call, "lineno", 0) >= line:
                continue
            func = call.func
            name = self.qualified_name(func) or ""
            if name in _LOCK_CALLS:
                return call
            if isinstance(func, ast.Attribute) and func.attr == "acquire":
                return call
        return None

    def handles_windows_errors(self, node: ast.AST) -> bool:
        """A try/except around ``node`` that accepts or retries the Windows errors."""
        for ancestor in self.ancestors_in_scope(node):
            if isinstance(ancestor, ast.Try) and _inside(node, ancestor.body):
                for handler in ancestor.handlers:
                    if _catches(handler.type) and _handles(handler):
                        return True
            if isinstance(ancestor, (ast.With, ast.AsyncWith)):
                for item in ancestor.items:
                    expr = item.context_expr
                    if (
                        isinstance(expr, ast.Call)
                        and (self.qualified_name(expr.func) or "").endswith("suppress")
                        and any(_catches(arg) for arg in expr.args)
                    ):
                        return True
        return False

    def is_guard_function(self, node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        name = self.qualified_name(target) or _text(target)
        if name in self.settings.extra_guard_functions:
            return True
        root = name.split(".")[0]
        lowered = name.lower()
        return root in _RETRY_MODULES or "retry" in lowered or "retries" in lowered

    def decorated_guard(self, node: ast.AST) -> bool:
        function = self.function_of(node)
        if function is None:
            return False
        return any(
            self.is_guard_function(d) or self.is_lock_like(d) for d in function.decorator_list
        )

    def windows_excluded(self, node: ast.AST) -> bool:
        """The code only runs where the Windows failure cannot happen (a POSIX-only branch).

        Either inside such a branch, or after an early exit for Windows earlier in the same
        block or an enclosing one (``if os.name != "posix": ...; return``).
        """
        current = node
        for ancestor in self.ancestors_in_scope(node):
            if isinstance(ancestor, ast.If):
                test = _text(ancestor.test)
                if _POSIX_TEST.match(test) and _inside(node, ancestor.body):
                    return True
                if _WINDOWS_TEST.match(test) and _inside(node, ancestor.orelse):
                    return True
            if isinstance(current, ast.stmt) and self._windows_exit_before(ancestor, current):
                return True
            current = ancestor
        return False

    @staticmethod
    def _windows_exit_before(parent: ast.AST, statement: ast.stmt) -> bool:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(parent, name, None)
            if not isinstance(block, list) or statement not in block:
                continue
            for earlier in block[: block.index(statement)]:
                if (
                    isinstance(earlier, ast.If)
                    and not earlier.orelse
                    and earlier.body
                    and isinstance(earlier.body[-1], (ast.Return, ast.Raise))
                    and _WINDOWS_TEST.match(_text(earlier.test))
                ):
                    return True
        return False

    def is_guarded(self, node: ast.AST, depth: int = 0) -> bool:
        """Any guard from the rule list: lock, retry/accept, guard function, guarded callers."""
        if self.lock_held(node) is not None or self.handles_windows_errors(node):
            return True
        if self.decorated_guard(node):
            return True
        if isinstance(node, ast.Call) and self.is_guard_function(node):
            return True
        return depth < 3 and self._callers_guarded(node, depth)

    def _callers_guarded(self, node: ast.AST, depth: int) -> bool:
        function = self.function_of(node)
        if function is None:
            return False
        sites = [
            call
            for scope in self.scopes.values()
            for call in scope.calls
            if _last_identifier(call.func) == function.name and not _inside(call, [function])
        ]
        return bool(sites) and all(self.is_guarded(site, depth + 1) for site in sites)

    def existence_checked(self, call: ast.AST, dst: ast.expr) -> bool:
        """``if not os.path.exists(dst):`` (or ``dst.exists()``) around the call."""
        key = _text(dst)
        for ancestor in self.ancestors_in_scope(call):
            if isinstance(ancestor, ast.If) and _inside(call, ancestor.body):
                test = ancestor.test
                if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                    text = _text(test.operand)
                    if key in text and ("exists" in text or "isfile" in text):
                        return True
        return False

    # ------------------------------------------------------------------ removals

    def removal_before(self, publish: PublishCall) -> ast.Call | None:
        """A removal of the publish target earlier on the same path through the function."""
        key = ast.unparse(publish.dst)
        publish_statement = self.statement_of(publish.call)
        for call in self.scope(publish.call).calls:
            if call.lineno >= publish.call.lineno or not self._removes(call, key):
                continue
            statement = self.statement_of(call)
            if statement is None or publish_statement is None:
                continue
            if self._flow_ends_after(statement) or self._exclusive(call, publish.call):
                continue
            return call
        return None

    def _exclusive(self, first: ast.AST, second: ast.AST) -> bool:
        """The two nodes sit in different branches of one ``if`` or in different handlers."""
        chain = list(self.ancestors(first))
        for ancestor in self.ancestors(second):
            if ancestor not in chain:
                continue
            if isinstance(ancestor, ast.If):
                return self._branch(ancestor.body, first) != self._branch(ancestor.body, second)
            if isinstance(ancestor, ast.Try):
                handlers = [h for h in ancestor.handlers if self._branch(h.body, first)]
                others = [h for h in ancestor.handlers if self._branch(h.body, second)]
                return bool(handlers and others and handlers != others)
            return False
        return False

    @staticmethod
    def _branch(block: list[ast.stmt], node: ast.AST) -> bool:
        return any(part is node for statement in block for part in ast.walk(statement))

    def _removes(self, call: ast.Call, key: str) -> bool:
        name = self.qualified_name(call.func) or ""
        if name in _REMOVE_FUNCTIONS and call.args:
            return ast.unparse(call.args[0]) == key
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "unlink" and not call.args:
            receiver = func.value
            if (
                isinstance(receiver, ast.Call)
                and len(receiver.args) == 1
                and self.qualified_name(receiver.func) in ("pathlib.Path", "pathlib.PurePath")
            ):
                return ast.unparse(receiver.args[0]) == key
            return ast.unparse(receiver) == key
        return False

    def _flow_ends_after(self, statement: ast.stmt) -> bool:
        """The removal's block returns/raises after it: the rename is on another path."""
        parent = self.parents.get(statement)
        for name in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, name, None)
            if isinstance(block, list) and statement in block:
                after = block[block.index(statement) + 1 :]
                return any(isinstance(s, _FLOW_ENDS) for s in after)
        return False

    # ------------------------------------------------------------------ digests in names

    def _find_digest_sites(self) -> Iterator[DigestSite]:
        seen: set[ast.AST] = set()
        for scope in self.scopes.values():
            for call in scope.calls:
                for arg, sink in self._path_components(call):
                    site = self._digest_site(arg, sink)
                    if site is not None and site.node not in seen:
                        seen.add(site.node)
                        yield site
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and self.is_pathlike(node.left)
            ):
                site = self._digest_site(node.right, node)
                if site is not None and site.node not in seen:
                    seen.add(site.node)
                    yield site

    def _path_components(self, call: ast.Call) -> Iterator[tuple[ast.expr, ast.AST]]:
        name = self.qualified_name(call.func) or ""
        func = call.func
        if name in ("os.path.join", "posixpath.join", "ntpath.join") or name in _PATH_CLASSES:
            for arg in call.args:
                yield arg, call
        elif name in (
            "builtins.open",
            "io.open",
            "os.open",
            "os.makedirs",
            "os.mkdir",
            "os.rename",
            "os.replace",
            "shutil.move",
            "shutil.copy",
            "shutil.copyfile",
            "shutil.copy2",
        ):
            for arg in call.args[:2]:
                yield arg, call
        elif isinstance(func, ast.Attribute) and func.attr in ("joinpath", "with_name"):
            for arg in call.args:
                yield arg, call

    def _digest_site(self, node: ast.expr, sink: ast.AST, depth: int = 0) -> DigestSite | None:
        if depth > 3:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DIGEST_ALGORITHM.search(node.value):
                return DigestSite(node, sink, repr(node.value))
            return None
        if isinstance(node, ast.JoinedStr):
            values = node.values
            for index, part in enumerate(values):
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    continue
                if _DIGEST_ALGORITHM.search(part.value):
                    return DigestSite(node, sink, _text(node))
                if (
                    part.value.endswith(":")
                    and index > 0
                    and index + 1 < len(values)
                    and (self._digestish(values[index - 1]) or self._digestish(values[index + 1]))
                ):
                    return DigestSite(node, sink, _text(node))
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = _flatten_add(node)
            for index, part in enumerate(parts):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    if _DIGEST_ALGORITHM.search(part.value):
                        return DigestSite(node, sink, _text(node))
                    if (
                        part.value == ":"
                        and 0 < index < len(parts) - 1
                        and (self._digestish(parts[index - 1]) or self._digestish(parts[index + 1]))
                    ):
                        return DigestSite(node, sink, _text(node))
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = node.left
            if isinstance(left, ast.Constant) and isinstance(left.value, str):
                algorithm = _DIGEST_ALGORITHM.search(left.value) is not None
                if algorithm or (":" in left.value and self._digestish(node.right)):
                    return DigestSite(node, sink, _text(node))
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Constant) and isinstance(receiver.value, str):
                if (
                    node.func.attr == "join"
                    and receiver.value == ":"
                    and node.args
                    and self._digestish(node.args[0])
                ):
                    return DigestSite(node, sink, _text(node))
                digestish = _DIGEST_ALGORITHM.search(receiver.value) is not None or any(
                    self._digestish(arg) for arg in node.args
                )
                if node.func.attr == "format" and ":" in receiver.value and digestish:
                    return DigestSite(node, sink, _text(node))
            return None
        if isinstance(node, ast.Name):
            value = self.assignment_before(node.id, node)
            if value is not None:
                inner = self._digest_site(value, sink, depth + 1)
                if inner is not None:
                    return DigestSite(node, sink, inner.description)
        return None

    def _digestish(self, node: ast.AST) -> bool:
        for part in ast.walk(node):
            if isinstance(part, ast.FormattedValue):
                continue
            identifier = None
            if isinstance(part, (ast.Name, ast.Attribute)):
                identifier = _last_identifier(part)
            if identifier and _DIGEST_PART_WORDS.search(identifier):
                return True
            if (
                isinstance(part, ast.Constant)
                and isinstance(part.value, str)
                and re.fullmatch(r"sha\d+|md5|blake2[bs]|sha3_\d+", part.value, re.I)
            ):
                return True
        return False


def _flatten_add(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [*_flatten_add(node.left), *_flatten_add(node.right)]
    return [node]


def _argument(call: ast.Call, index: int, keywords: tuple[str, ...]) -> ast.expr | None:
    positional = call.args
    if any(isinstance(a, ast.Starred) for a in positional[: index + 1]):
        return None
    if index < len(positional):
        return positional[index]
    for keyword in call.keywords:
        if keyword.arg is not None and keyword.arg in keywords:
            return keyword.value
    return None


def _inside(node: ast.AST, statements: Sequence[ast.AST]) -> bool:
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


def _catches(node: ast.expr | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_catches(element) for element in node.elts)
    name = _last_identifier(node)
    return name in _WINDOWS_ERRORS


def _handles(handler: ast.ExceptHandler) -> bool:
    """The handler retries, accepts, or turns the clash into the caller's own error.

    Cleanup followed by a bare ``raise`` (or a broad ``except OSError: raise X``) only
    propagates the Windows error; catching ``FileExistsError``/``PermissionError`` by name and
    raising a new exception is a deliberate answer to it (mailbox's dot-locking does this).
    """
    body = handler.body
    if not body or not isinstance(body[-1], ast.Raise):
        return True
    raised = body[-1].exc
    if raised is None:
        return False
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = {_last_identifier(t) for t in types if t is not None}
    return bool(names) and names <= {"FileExistsError", "PermissionError"}


def confirm_with_libcst(
    source: str, calls: Sequence[PublishCall], positions: Source
) -> list[PublishCall]:
    """Drop candidates whose callee libcst resolves to something else (a shadowing local).

    Raises libcst's ``ParserSyntaxError`` or ``RecursionError`` for the caller to report.
    """
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider

    wanted: dict[tuple[int, int], PublishCall] = {}
    for publish in calls:
        if publish.is_method:
            continue
        _, _, end_line, end_column = positions.span(publish.callee)
        wanted[(end_line, end_column)] = publish
    if not wanted:
        return list(calls)
    rejected: set[int] = set()

    class _Names(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

        def _check(self, node: cst.CSTNode) -> None:
            end = self.get_metadata(PositionProvider, node).end
            publish = wanted.get((end.line, end.column))
            if publish is None:
                return
            names = {q.name for q in self.get_metadata(QualifiedNameProvider, node, set())}
            if names and publish.qualified_name not in names:
                rejected.add(id(publish))

        def visit_Name(self, node: cst.Name) -> None:
            self._check(node)

        def visit_Attribute(self, node: cst.Attribute) -> None:
            self._check(node)

    MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True).visit(_Names())
    return [publish for publish in calls if id(publish) not in rejected]
