"""Tests their authors skip on Windows are skipped in the simulation too.

A suite's Windows run never runs ``@pytest.mark.skipif(sys.platform == "win32",
reason="Can't delete file with open fd")``: its authors know the test cannot work there.
On Linux the condition was evaluated once, at import, to ``False``, so under the
simulation such a test ran against Windows' rules and failed as Windows would, which its
authors knew, or hung as Windows would (zict's ``test_stress_same_key_threadsafe``: its
deleter dies of ``[WinError 32]`` and three workers spin for ever, until a timeout). So the
plugin reads such conditions again, as Windows would answer them, and skips the test when
one holds (option ``windows_skips``: ``skip``, the default, or ``run`` to see them fail).

How: a string condition (``skipif("sys.platform == 'win32'")``) is evaluated as pytest
does, with ``os``, ``sys`` and ``platform`` answering as Windows. A boolean was computed at
import, so its source is found instead: the ``skipif`` calls in the decorators of the test
function and its classes, in ``pytestmark`` of the classes and the module, and in
module-level names used as decorators (``WindowsOnly = pytest.mark.skipif(...)``). A
condition that reads the platform (``sys.platform``, ``os.name``, ``platform.system()``),
directly or through a module-level name assigned from such a read (``WIN32 = os.name ==
"nt"``), is evaluated in the module's globals with the Windows answers. A flag the test
module imports from another loaded module (``from click._compat import WIN``, where
``WIN = sys.platform.startswith("win")``) is read the same way in that module's source and
globals. Anything else (a name bound otherwise, an attribute of an imported module, a
per-parameter mark, an evaluation that fails) leaves the test to run: never a skip on a
guess.
"""

from __future__ import annotations

import ast
import functools
import gc
import os
import platform
import sys
import types
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["windows_skip_reason"]

_PLATFORM_MODULES = (os, sys, platform)

#: Per test module (weakly): the reason of its module-level skip on Windows, or ``None``.
_MODULE_LEVEL: weakref.WeakKeyDictionary[types.ModuleType, str | None]
_MODULE_LEVEL = weakref.WeakKeyDictionary()


def windows_skip_reason(item: pytest.Item) -> str | None:
    """Why ``item`` is skipped on Windows by one of its ``skipif`` marks, or ``None``."""
    module = getattr(item, "module", None)
    function = getattr(item, "obj", None)
    if not isinstance(module, types.ModuleType) or function is None:
        return None
    tree = _module_tree(getattr(module, "__file__", None))
    if tree is None:
        return None
    if module not in _MODULE_LEVEL:  # the same answer for each test of the module
        _MODULE_LEVEL[module] = _module_level_skip(tree, module, item.config)
    reason = _MODULE_LEVEL[module]
    if reason is not None or next(item.iter_markers("skipif"), None) is None:
        return reason  # the common case: a cached parse, no mark to read
    for call in _skipif_calls(tree, function):
        reason = _holds_on_windows(call, tree, module, item.config)
        if reason is not None:
            return reason
    return None


def _module_level_skip(
    tree: ast.Module, module: types.ModuleType, config: pytest.Config
) -> str | None:
    """``if os.name != "posix": pytest.skip(..., allow_module_level=True)`` at the top level."""
    for statement in tree.body:
        if not isinstance(statement, ast.If):
            continue
        skip = next((call for call in _calls(statement.body) if _is_skip(call.func)), None)
        if skip is None:
            continue
        message = skip.args[0] if skip.args else _keyword(skip, "reason") or _keyword(skip, "msg")
        if _holds(statement.test, tree, module, config):
            return _reason_text(message, statement.test)
    return None


def _calls(body: list[ast.stmt]) -> Iterator[ast.Call]:
    for statement in body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            yield statement.value


def _is_skip(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "skip") or (
        isinstance(func, ast.Name) and func.id == "skip"
    )


def _module_tree(filename: str | None) -> ast.Module | None:
    """The parsed module, if its text can hold a skip at all (most test modules cannot)."""
    return _parsed_module(filename, b"skip")


@functools.lru_cache(maxsize=64)
def _parsed_module(filename: str | None, needed: bytes = b"") -> ast.Module | None:
    """The parsed module source, if it is one and its text holds ``needed``."""
    if filename is None or not filename.endswith(".py"):
        return None
    try:
        with open(filename, "rb") as source:
            text = source.read()
    except OSError:
        return None
    if needed not in text:
        return None
    # CPython 3.11 keeps the AST conversion's state per interpreter: a collection during
    # the conversion can run a finalizer, switch threads, and let another thread's parse
    # (a leftover worker formatting its traceback) interleave with this one, and both fail
    # with "SystemError: AST constructor recursion depth mismatch" (aiofiles' suite, at
    # the setup of the first test of a module). No collection, no switch.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(text, filename)
    except (SyntaxError, ValueError):
        return None
    finally:
        if enabled:
            gc.enable()


def _skipif_calls(tree: ast.Module, function: Any) -> Iterator[ast.Call]:
    """The ``skipif`` calls that apply to ``function``, innermost first."""
    path = getattr(function, "__qualname__", "").split(".")
    if "<locals>" in path:
        return
    scopes: list[list[ast.stmt]] = [tree.body]
    owners: list[ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef] = []
    body = tree.body
    for name in path:
        found = next(
            (
                node
                for node in body
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == name
            ),
            None,
        )
        if found is None:
            return
        owners.append(found)
        body = found.body
        if isinstance(found, ast.ClassDef):
            scopes.append(found.body)
    for owner in reversed(owners):
        for decorator in owner.decorator_list:
            yield from _marks_in(decorator, tree)
    for scope in reversed(scopes):
        for statement in scope:
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets
            ):
                yield from _marks_in(statement.value, tree)


def _marks_in(node: ast.expr, tree: ast.Module, depth: int = 0) -> Iterator[ast.Call]:
    if isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            yield from _marks_in(element, tree, depth)
    elif isinstance(node, ast.Call) and _is_skipif(node.func):
        yield node
    elif isinstance(node, ast.Name) and depth < 2:
        value = _module_binding(tree, node.id)
        if value is not None:
            yield from _marks_in(value, tree, depth + 1)


def _is_skipif(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "skipif") or (
        isinstance(func, ast.Name) and func.id == "skipif"
    )


def _module_binding(tree: ast.Module, name: str) -> ast.expr | None:
    """The value of the last module-level ``name = value``, if that is the only binding kind."""
    value = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in statement.targets
        ):
            value = statement.value
    return value


def _holds_on_windows(
    call: ast.Call, tree: ast.Module, module: types.ModuleType, config: pytest.Config
) -> str | None:
    condition = call.args[0] if call.args else _keyword(call, "condition")
    if condition is None:
        return None  # an unconditional skipif: pytest decides as always
    if not _holds(condition, tree, module, config):
        return None
    return _reason_text(_keyword(call, "reason"), condition)


def _holds(
    condition: ast.expr, tree: ast.Module, module: types.ModuleType, config: pytest.Config
) -> bool:
    """Whether ``condition`` is true as Windows answers it (false when that is unknown)."""
    namespace = dict(vars(module))
    expression: ast.expr | None = condition
    if isinstance(condition, ast.Constant) and isinstance(condition.value, str):
        # As pytest evaluates a string condition, with Windows' answers.
        namespace.update({"os": os, "sys": sys, "platform": platform, "config": config})
        expression = _parsed(condition.value)
    if expression is None:
        return False
    derived = _windows_names(expression, tree, namespace)
    if derived is None:
        return False  # reads no platform: it answers on Windows as it did here
    try:
        return bool(eval(_compiled(expression), derived))  # the test's own condition
    except Exception:  # a condition not readable again: run the test
        return False


def _reason_text(reason: ast.expr | None, condition: ast.expr) -> str:
    text = ast.unparse(condition)
    if isinstance(reason, ast.Constant) and isinstance(reason.value, str):
        text = reason.value
    return f"{text} (skipped on Windows by its marker; run it with windows_skips=run)"


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _parsed(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        return None


def _compiled(expression: ast.expr) -> types.CodeType:
    tree = ast.Expression(body=expression)
    ast.fix_missing_locations(tree)
    return compile(tree, "<skipif condition>", "eval")


def _windows_names(
    expression: ast.expr, tree: ast.Module, namespace: dict[str, Any], depth: int = 0
) -> dict[str, Any] | None:
    """``namespace`` with the names ``expression`` reads answering as on Windows.

    ``None`` when nothing it reads depends on the platform.
    """
    from pytest_ocirace.fakefs.platform import windows_view
    from pytest_ocirace.fakefs.platform_scan import reads_platform

    changed = False
    windows = dict(namespace)
    for node in ast.walk(expression):
        if not isinstance(node, ast.Name):
            continue
        value = namespace.get(node.id)
        if any(value is module for module in _PLATFORM_MODULES):
            windows[node.id] = windows_view(value)
            changed = changed or reads_platform(expression)
            continue
        if depth >= 2 or not isinstance(value, bool | str | int | type(None)):
            continue
        found = _binding_of(node.id, tree, namespace)
        if found is None:
            continue
        binding, home_tree, home_namespace = found
        inner = _windows_names(binding, home_tree, home_namespace, depth + 1)
        if inner is None:
            continue
        try:
            windows[node.id] = eval(_compiled(binding), inner)  # the module's own binding
        except Exception:  # not readable again: keep the import's value
            continue
        changed = True
    return windows if changed else None


def _binding_of(
    name: str, tree: ast.Module, namespace: dict[str, Any]
) -> tuple[ast.expr, ast.Module, dict[str, Any]] | None:
    """Where ``name`` got its value, with that module's tree and globals.

    A module-level assignment here, or in the loaded module it was imported from (``from
    pkg.mod import NAME [as name]``). ``None`` when it was bound any other way.
    """
    binding = _module_binding(tree, name)
    if binding is not None:
        return binding, tree, namespace
    source = _imported_from(tree, name, namespace.get("__package__"))
    if source is None:
        return None
    module_name, original = source
    home = sys.modules.get(module_name)
    if not isinstance(home, types.ModuleType):
        return None
    home_tree = _parsed_module(getattr(home, "__file__", None))
    if home_tree is None:
        return None
    binding = _module_binding(home_tree, original)
    if binding is None:
        return None
    return binding, home_tree, dict(vars(home))


def _imported_from(tree: ast.Module, name: str, package: object) -> tuple[str, str] | None:
    """``(module, original name)`` of the last module-level ``from ... import`` binding ``name``."""
    found = None
    for statement in tree.body:
        if not isinstance(statement, ast.ImportFrom):
            continue
        for alias in statement.names:
            if (alias.asname or alias.name) != name:
                continue
            module = statement.module or ""
            if statement.level:
                if not isinstance(package, str) or not package:
                    return None
                parts = package.split(".")
                if statement.level > len(parts):
                    return None
                base = ".".join(parts[: len(parts) - statement.level + 1])
                module = f"{base}.{module}" if module else base
            found = (module, alias.name)
    return found
