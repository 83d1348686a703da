"""Guards: locks, retries, accepting handlers, guard functions and POSIX-only branches."""

from __future__ import annotations

import ast
import re

from .names import NameIndex
from .nodes import inside, last_identifier, unparsed, words

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


class Guards(NameIndex):
    """What makes a publish safe at its call site (or in the callers within the module)."""

    def is_lock_like(self, node: ast.expr) -> bool:
        identifiers = [
            last_identifier(part) or ""
            for part in ast.walk(node)
            if isinstance(part, (ast.Name, ast.Attribute))
        ]
        for identifier in identifiers:
            for word in words(identifier):
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
            if isinstance(ancestor, ast.Try) and inside(node, ancestor.body):
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
            if isinstance(ancestor, ast.Try) and inside(node, ancestor.body):
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
        name = self.qualified_name(target) or unparsed(target)
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
                test = unparsed(ancestor.test)
                if _POSIX_TEST.match(test) and inside(node, ancestor.body):
                    return True
                if _WINDOWS_TEST.match(test) and inside(node, ancestor.orelse):
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
                    and _WINDOWS_TEST.match(unparsed(earlier.test))
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
            if last_identifier(call.func) == function.name and not inside(call, [function])
        ]
        return bool(sites) and all(self.is_guarded(site, depth + 1) for site in sites)

    def existence_checked(self, call: ast.AST, dst: ast.expr) -> bool:
        """``if not os.path.exists(dst):`` (or ``dst.exists()``) around the call."""
        key = unparsed(dst)
        for ancestor in self.ancestors_in_scope(call):
            if isinstance(ancestor, ast.If) and inside(call, ancestor.body):
                test = ancestor.test
                if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                    text = unparsed(test.operand)
                    if key in text and ("exists" in text or "isfile" in text):
                        return True
        return False


def _catches(node: ast.expr | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_catches(element) for element in node.elts)
    name = last_identifier(node)
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
    names = {last_identifier(t) for t in types if t is not None}
    return bool(names) and names <= {"FileExistsError", "PermissionError"}
