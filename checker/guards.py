"""Guards: locks, retries, accepting handlers, guard functions and POSIX-only branches."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from .names import NameIndex
from .nodes import inside, last_identifier, statements, unparsed, words

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


#: Exceptions whose name says the handler is about the clash itself.
_ACCEPTED = frozenset({"FileExistsError", "PermissionError"})
#: errno names (and the winerror attribute) a handler can test to swallow the Windows clash.
_WINDOWS_ERRNOS = ("EACCES", "EPERM", "EEXIST", "winerror", "EBUSY")
#: Calls in a handler that make the failure visible instead of tolerating it.
_REPORTING_CALLS = frozenset(
    {"warning", "warn", "error", "exception", "critical", "print", "echo", "fail", "abort"}
)
#: A test of the existing target (its presence, or that it is already current).
_CHECKS_EXISTING = re.compile(r"exists|isfile|is_file|is_current|samefile")
#: Words in a handler's call that make the failure the user's problem (extraction_error()).
_REPORTING_WORDS = ("error", "fail", "abort", "raise")
#: Calls in a handler that write the target another, non-atomic way.
_FALLBACK_CALLS = frozenset({"copy", "copy2", "copyfile", "copyfileobj", "move", "copytree"})


class Guards(NameIndex):
    """What makes a publish safe at its call site (or in the callers within the module)."""

    #: Per node, the guards considered and why each did or did not count (``--explain``).
    why: dict[ast.AST, list[str]]

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
        return self.object_life_lock(node)

    def object_life_lock(self, node: ast.AST) -> ast.AST | None:
        """A lock the object of ``node``'s method holds for its whole life, if any.

        ``__init__`` binds ``self.x`` to a new lock-like object, and the class releases it
        (``self.x.close()``/``release()``/``unlock()``) but never acquires it (no ``with
        self.x``, no ``self.x.acquire()``/``lock()``): a lock released and never acquired
        was acquired when it was made (ZODB's ``self._lock_file = LockFile(path)``, held
        until ``close()``), so every method runs under it.
        """
        function = self.function_of(node)
        owner = self.parents.get(function) if function is not None else None
        if not isinstance(owner, ast.ClassDef):
            return None
        init = next(
            (
                item
                for item in owner.body
                if isinstance(item, ast.FunctionDef) and item.name == "__init__"
            ),
            None,
        )
        if init is None or init is function:
            return None
        for statement in statements(init):
            if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
                continue
            if not self.is_lock_like(statement.value.func):
                continue
            for target in statement.targets:
                if _self_attribute(target) and self._released_never_acquired(owner, target):
                    return statement
        return None

    @staticmethod
    def _released_never_acquired(owner: ast.ClassDef, attribute: ast.expr) -> bool:
        name = unparsed(attribute)
        released = False
        for part in ast.walk(owner):
            if isinstance(part, ast.withitem) and unparsed(part.context_expr) == name:
                return False
            if (
                isinstance(part, ast.Call)
                and isinstance(part.func, ast.Attribute)
                and unparsed(part.func.value) == name
            ):
                if part.func.attr in ("acquire", "lock", "__enter__"):
                    return False
                released = released or part.func.attr in ("close", "release", "unlock")
        return released

    def handles_windows_errors(self, node: ast.AST) -> bool:
        """A try/except around ``node`` that accepts or retries the Windows errors."""
        return self.handler_guard(node) is not None

    def handler_guard(self, node: ast.AST) -> str | None:
        """Which handler guards ``node`` ("accepts FileExistsError at 12"), or None.

        Handlers judged too weak are recorded in :attr:`why` for ``--explain``.
        """
        for ancestor in self.ancestors_in_scope(node):
            if isinstance(ancestor, ast.Try) and inside(node, ancestor.body):
                for handler in ancestor.handlers:
                    if not _catches(handler.type):
                        continue
                    verdict, reason = self._judge_handler(handler, ancestor)
                    self.note(node, f"{reason} (except at line {handler.lineno})")
                    if verdict:
                        return f"{reason} at line {handler.lineno}"
            if isinstance(ancestor, (ast.With, ast.AsyncWith)):
                for item in ancestor.items:
                    expr = item.context_expr
                    if (
                        isinstance(expr, ast.Call)
                        and (self.qualified_name(expr.func) or "").endswith("suppress")
                        and any(_catches(arg) for arg in expr.args)
                    ):
                        return f"contextlib.suppress at line {ancestor.lineno}"
                    manager = (
                        self._local_function(expr.func) if isinstance(expr, ast.Call) else None
                    )
                    if manager is not None and self._guards_its_yield(manager):
                        return (
                            f"the context manager {manager.name}() at line {ancestor.lineno}, "
                            "which accepts or retries the Windows errors"
                        )
        return None

    def _local_function(self, func: ast.expr) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The one function or method of this module that ``func`` names, if unambiguous."""
        if self.qualified_name(func) is not None:
            return None
        name = last_identifier(func)
        found = [
            node
            for node in self.scopes
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
        ]
        return found[0] if len(found) == 1 else None

    def _retries_inside(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """The function calls what it was handed inside a loop that retries Windows errors."""
        for node in statements(function):
            if isinstance(node, ast.Try) and self._in_retry_loop(node):
                for handler in node.handlers:
                    if _catches(handler.type) and self._judge_handler(handler, node)[0]:
                        return True
        return False

    def _guards_its_yield(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """A context manager whose ``yield`` sits in a try that accepts the Windows errors."""
        for node in statements(function):
            if not isinstance(node, ast.Try):
                continue
            if not any(isinstance(x, ast.Yield) for s in node.body for x in ast.walk(s)):
                continue
            for handler in node.handlers:
                if _catches(handler.type) and self._judge_handler(handler, node)[0]:
                    return True
        return False

    def asserted_absent(self, call: ast.AST, dst: ast.expr) -> bool:
        """``assert not os.path.exists(dst)`` before ``call``: exclusive create on purpose.

        Failing on an existing target is then the function's contract (``os.rename``).
        """
        function = self.function_of(call)
        if function is None:
            return False
        key = unparsed(dst)
        line = getattr(call, "lineno", 0)
        for node in ast.walk(function):
            if isinstance(node, ast.Assert) and node.lineno < line:
                test = node.test
                if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                    text = unparsed(test.operand)
                    if key in text and _CHECKS_EXISTING.search(text):
                        return True
        return False

    def note(self, node: ast.AST, reason: str) -> None:
        """Remember why a guard near ``node`` did or did not count (for ``--explain``/JSON)."""
        reasons = self.why.setdefault(node, [])
        if reason not in reasons:
            reasons.append(reason)

    def reasons(self, node: ast.AST) -> tuple[str, ...]:
        """What was noted for ``node``, in an order that does not depend on the run.

        Notes are taken in the order the searches happen to ask, and which search asks first
        can depend on the iteration order of sets of names (the string hash seed): meson's
        ``mesonbuild/ast/introspection.py:364`` showed its two notes either way round from one
        run to the next, and a JSON or SARIF report compared between runs changed with it.
        """
        return tuple(sorted(self.why.get(node, ())))

    def _judge_handler(self, handler: ast.ExceptHandler, statement: ast.Try) -> tuple[bool, str]:
        """Whether a handler around a publish is a guard, and the principle that decided.

        - inside a loop that tries again (no raise/return/break on the way out): a retry;
        - naming ``FileExistsError``/``PermissionError`` and not re-raising: an accept;
        - re-raising only for some errno values: a guard if the Windows errnos (EACCES, EPERM,
          EEXIST) are among the ones swallowed, else it re-raises exactly when it matters;
          re-raising only when the target is missing accepts the one another writer made;
        - a broad handler (``OSError``, ``Exception``, bare) that re-raises, logs, warns or
          falls back to another copy/move/rename of the file turns the failure into an
          error or a non-atomic write: not a guard;
        - a broad handler that silently gives up (``pass``, ``return``): a best-effort write
          whose loss the program tolerates - a guard.
        """
        body = handler.body
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names = {last_identifier(t) for t in types if t is not None}
        if (
            self._in_retry_loop(statement)
            and not any(isinstance(s, (ast.Raise, ast.Return, ast.Break)) for s in body)
            and not self._leaves_loop_after(handler, statement)
        ):
            return True, "retry loop"
        if body and isinstance(body[-1], ast.Raise):
            for part in (p for s in body for p in ast.walk(s)):
                if (
                    isinstance(part, ast.If)
                    and _CHECKS_EXISTING.search(unparsed(part.test))
                    and any(isinstance(x, ast.Return) for s in part.body for x in ast.walk(s))
                ):
                    return True, "accepts the existing target it checks (raises otherwise)"
            if body[-1].exc is not None and names and names <= _ACCEPTED:
                return True, f"turns {'/'.join(sorted(n for n in names if n))} into its own error"
            return False, "not a guard: the handler re-raises"
        conditional = [
            part
            for s in body
            for part in ast.walk(s)
            if isinstance(part, ast.If) and any(isinstance(x, ast.Raise) for x in part.body)
        ]
        if conditional:
            tested = " ".join(unparsed(c.test) for c in conditional)
            if any(code in tested for code in _WINDOWS_ERRNOS):
                return True, "accepts the Windows errno"
            if "exists" in tested or "isfile" in tested:
                return True, "accepts an existing target (re-raises only when it is missing)"
            return False, "not a guard: re-raises the Windows errors (errno test)"
        if names and names <= _ACCEPTED:
            return True, f"accepts {'/'.join(sorted(n for n in names if n))}"
        for s in body:
            for part in ast.walk(s):
                if not isinstance(part, ast.Call):
                    continue
                callee = (self.qualified_name(part.func) or unparsed(part.func)).lower()
                leaf = callee.rsplit(".", 1)[-1]
                if (
                    leaf in _REPORTING_CALLS
                    or callee.startswith(("logging.", "warnings."))
                    or any(word in leaf for word in _REPORTING_WORDS)
                ):
                    return False, "not a guard: a broad handler that reports the failure"
                if leaf in _FALLBACK_CALLS:
                    return False, "not a guard: falls back to a non-atomic copy or move"
        fallback = self._falls_through_to(statement)
        if fallback is not None:
            return False, (
                "not a guard: the handler falls through to the code after the try "
                f"(line {fallback}), another way of writing the file, not giving up"
            )
        return True, "best effort: a broad handler that gives up silently"

    def _falls_through_to(self, statement: ast.Try) -> int | None:
        """The line a silent handler continues at, when that is a fallback write.

        A ``try`` whose body ends in ``return`` leaves the function on success; a handler
        that swallows the failure then runs the statements after the ``try``, which are the
        function's other way of doing the job (``file_move_safe``: rename, else copy). Only
        statements that call something count (a bare ``return`` after it is giving up).
        """
        if not statement.body or not isinstance(statement.body[-1], ast.Return):
            return None
        parent = self.parents.get(statement)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and statement in block:
                rest = block[block.index(statement) + 1 :]
                for later in rest:
                    if any(isinstance(part, ast.Call) for part in ast.walk(later)):
                        return int(later.lineno)
                return None
        return None

    def _leaves_loop_after(self, handler: ast.ExceptHandler, statement: ast.Try) -> bool:
        """Whether a handler that runs to its end then leaves the loop: no retry.

        ``while True: try: os.replace(...) except OSError: shutil.copyfile(...)`` followed
        by ``break`` in the loop body (gallery-dl's ``finalize``): only the handlers that
        ``continue`` go round again; the others fall through to the ``break``. An exit
        counts when it is a statement of the blocks between the ``try`` and the loop, after
        them - reached whatever the handler did.
        """
        if any(isinstance(s, ast.Continue) for s in handler.body):
            return False
        current: ast.AST = statement
        for ancestor in self.ancestors_in_scope(statement):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(ancestor, field, None)
                if isinstance(block, list) and current in block:
                    later = block[block.index(current) + 1 :]
                    if any(isinstance(s, (ast.Break, ast.Return, ast.Raise)) for s in later):
                        return True
            if isinstance(ancestor, (ast.While, ast.For, ast.AsyncFor)):
                return False
            current = ancestor
        return False

    def _in_retry_loop(self, statement: ast.Try) -> bool:
        """Whether a loop around ``statement`` runs it again after a failure.

        A ``for`` loop whose variable the ``try`` body uses (``for src, dst in files:
        try: os.rename(src, dst)``) goes on to the next item: each pass publishes another
        file, and the failed one is never tried again - not a retry. Also through names the
        loop body binds from it (``for name in names: srcname = join(src, name); try:
        shutil.move(srcname, ...)``: nilearn's ``movetree``).
        """
        used = {
            node.id
            for part in statement.body
            for node in ast.walk(part)
            if isinstance(node, ast.Name)
        }
        for ancestor in self.ancestors_in_scope(statement):
            if isinstance(ancestor, ast.While):
                return True
            if isinstance(ancestor, (ast.For, ast.AsyncFor)):
                targets = {n.id for n in ast.walk(ancestor.target) if isinstance(n, ast.Name)}
                if not _bound_from(ancestor, targets) & used:
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

        Either inside such a branch - also a function defined in one (``if sys.platform !=
        "win32": def _replace_atomic(...)``: the function does not exist on Windows) - or
        after an early exit for Windows earlier in the same block or an enclosing one (``if
        os.name != "posix": ...; return``).
        """
        known = self._off_windows.get(node)
        if known is None:
            known = self._off_windows[node] = self._windows_excluded(node)
        return known

    def _test_text(self, branch: ast.If) -> str:
        text = self._test_texts.get(branch)
        if text is None:
            text = self._test_texts[branch] = unparsed(branch.test)
        return text

    def _windows_excluded(self, node: ast.AST) -> bool:
        current = node
        in_scope = True
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, ast.If):
                test = self._test_text(ancestor)
                if _POSIX_TEST.match(test) and inside(node, ancestor.body):
                    return True
                if _WINDOWS_TEST.match(test) and inside(node, ancestor.orelse):
                    return True
            if (
                in_scope
                and isinstance(current, ast.stmt)
                and self._windows_exit_before(ancestor, current)
            ):
                return True
            if isinstance(
                ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
            ):
                in_scope = False  # an early return of the caller says nothing about a body
            current = ancestor
        return False

    def _windows_exit_before(self, parent: ast.AST, statement: ast.stmt) -> bool:
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
                    and _WINDOWS_TEST.match(self._test_text(earlier))
                ):
                    return True
        return False

    def is_guarded(self, node: ast.AST, depth: int = 0) -> bool:
        """Any guard from the rule list: lock, retry/accept, guard function, guarded callers."""
        return self.guard(node, depth) is not None

    def guard(self, node: ast.AST, depth: int = 0) -> str | None:
        """What guards ``node`` ("lock `with _lock` at line 8"), or None; reasons go to why."""
        lock = self.lock_held(node)
        if lock is not None:
            return f"a lock held at line {getattr(lock, 'lineno', '?')}"
        handler = self.handler_guard(node)
        if handler is not None:
            return handler
        if self.decorated_guard(node):
            return "a retrying or locking decorator"
        if isinstance(node, ast.Call):
            helper = self._local_function(node.func)
            if helper is not None and self._retries_inside(helper):
                return f"handed to {helper.name}(), which retries the Windows errors"
        if isinstance(node, ast.Call) and self.is_guard_function(node):
            return f"the guard function {unparsed(node.func)}"
        if depth < self.settings_depth():
            return self._callers_guard(node, depth)
        if self.function_of(node) is not None:
            self.note(
                node,
                f"unknown: callers more than {depth} calls up are not looked at "
                f"(interprocedural-depth = {depth}); unknown is never a guard",
            )
        return None

    def settings_depth(self) -> int:
        """How many callers up a guard is looked for (``interprocedural-depth``)."""
        return self.settings.interprocedural_depth

    def caller_sites(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Call]:
        """The calls of ``function`` in this module, where the guard and lock searches look.

        By name, outside the function itself, and not a typed receiver's call of another
        class's method of the same name, nor a call of an import of that name
        (``shutil.copyfile(...)`` does not call the module's own ``copyfile``).
        """
        return [
            call
            for call in self.calls_named(function.name)
            if not inside(call, [function])
            and not self.calls_another_class_method(call, function)
            and self.qualified_name(call.func) is None
        ]

    def _callers_guard(self, node: ast.AST, depth: int) -> str | None:
        function = self.function_of(node)
        if function is None:
            return None
        sites = self.caller_sites(function)
        found = []
        for site in sites:
            guard = self.guard(site, depth + 1)
            if guard is None:
                self.note(node, f"not guarded: the caller at line {site.lineno} has no guard")
                for reason in self.why.get(site, ()):
                    self.note(node, reason)
                return None
            found.append(f"{guard} in the caller at line {site.lineno}")
        elsewhere = self.guards_in_other_modules(node, function, depth)
        if elsewhere is None:
            return None
        found.extend(elsewhere)
        return "; ".join(found) if found else None

    def lock_everywhere(self, node: ast.AST, depth: int = 0) -> bool:
        """Whether a lock is held around ``node`` on every path: here or in every caller.

        Only a lock makes writers take turns (a shared temp name is then safe, ORC002); a
        retry or an accept in a caller does not. Callers are searched as for
        :meth:`guard`, in this module and (through the project index) in the others, up to
        ``interprocedural-depth``; no caller, or an unknown one, is no lock.
        """
        if self.lock_held(node) is not None:
            return True
        function = self.function_of(node)
        if function is None or depth >= self.settings_depth():
            return False
        sites = self.caller_sites(function)
        if not all(self.lock_everywhere(site, depth + 1) for site in sites):
            return False
        elsewhere = self.guards_in_other_modules(node, function, depth)
        if elsewhere is None or not (sites or elsewhere):
            return False
        return all(guard.startswith("a lock held") for guard in elsewhere)

    def calls_another_class_method(self, call: ast.Call, function: ast.AST | None) -> bool:
        """Whether ``call`` (``x.name(...)``) is known to reach a method other than ``function``.

        The receiver's class is known when it is ``self``/``cls`` inside a class, or a name
        bound to ``Cls(...)`` of a class defined in this module; when that class defines
        ``name`` itself, the call reaches that method (meson's ``app.generate()`` is
        ``MesonApp.generate``, not the ninja backend's ``generate``). Anything else stays a
        possible caller: an untyped receiver may be any object.
        """
        func = call.func
        if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
            return False
        receiver = func.value.id
        owner: ast.ClassDef | None = None
        if receiver in ("self", "cls"):
            for ancestor in self._ancestors(call):
                if isinstance(ancestor, ast.ClassDef):
                    owner = ancestor
                    break
        else:
            value = self.assignment_before(receiver, call)
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                owner = self._module_classes(call).get(value.func.id)
        if owner is None or (function is not None and _inside_node(function, owner)):
            return False
        return any(
            isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == func.attr
            for item in owner.body
        )

    def _ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def _module_classes(self, node: ast.AST) -> dict[str, ast.ClassDef]:
        module = next((a for a in self._ancestors(node) if isinstance(a, ast.Module)), None)
        body = module.body if module is not None else []
        return {item.name: item for item in body if isinstance(item, ast.ClassDef)}

    def guards_in_other_modules(
        self, node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> list[str] | None:
        """The guards of ``function``'s callers in other modules; None when one has none.

        Without a project index there are no other modules (:mod:`.crossmodule` has one).
        """
        return []

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
    return name in _WINDOWS_ERRORS or unparsed(node) in ("os.error", "socket.error")


def _inside_node(node: ast.AST, outer: ast.AST) -> bool:
    return any(part is node for part in ast.walk(outer))


def _self_attribute(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _bound_from(loop: ast.For | ast.AsyncFor, names: set[str]) -> set[str]:
    """``names`` and every name the loop body binds from them (to a fixed point)."""
    assignments = [
        node
        for statement in loop.body
        for node in ast.walk(statement)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
    ]
    bound = set(names)
    for _ in range(len(assignments)):
        grown = set(bound)
        for node in assignments:
            assert node.value is not None
            if any(isinstance(n, ast.Name) and n.id in bound for n in ast.walk(node.value)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                grown |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        if grown == bound:
            break
        bound = grown
    return bound
