"""Temp provenance: whether a path is a freshly written temp file, and its name per writer."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .names import _PATH_CLASSES, NameIndex
from .nodes import last_identifier, unparsed, words

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
_WRITE_WORDS = re.compile(r"open|write|save|dump|copy|retrieve|download|export|to_|touch", re.I)


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


class Temps(NameIndex):
    """Where a renamed path came from."""

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
            if words(node.id) & _TEMP_WORDS:
                return TempInfo("name", unique=False, created=False, origin=value)
            return None
        if self.is_derived_name(node):
            return TempInfo("derived", self.contains_unique_part(node), False, origin=node)
        identifier = last_identifier(node)
        if identifier is not None and words(identifier) & _TEMP_WORDS:
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
        if words(name) & _TEMP_WORDS:
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
            identifier = last_identifier(node.func) or ""
            return bool(words(identifier) & _TEMP_WORDS)
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
                identifier = last_identifier(part) or ""
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
        key = unparsed(src)
        keys = {key}
        if isinstance(src, ast.Call) and src.args:
            keys.add(unparsed(src.args[0]))  # str(tmp), Path(tmp)
        line = getattr(before, "lineno", 0)
        for call in self.scope(before).calls:
            if call is before or getattr(call, "lineno", 0) > line:
                continue
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and unparsed(func.value) in keys
                and func.attr in ("write_bytes", "write_text", "open", "touch", "save")
            ):
                return True
            callee = last_identifier(func) or ""
            if not _WRITE_WORDS.search(callee):
                continue
            if any(unparsed(arg) in keys for arg in call.args):
                return True
        return False
