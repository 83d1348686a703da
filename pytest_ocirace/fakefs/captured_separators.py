r"""Values a module built from path separators at import (``valid_chars = "..." + os.path.sep``).

``os.sep``, ``os.pathsep``, ``os.altsep`` and ``os.devnull`` are read when the statement
runs. A module that keeps one, or a value built from one, in a global or a class attribute
keeps the host's answer for good, while inside the simulation every call of ``os.path``
answers as Windows does. Real Windows never has the two disagree:

- click's ``types.Path.envvar_list_splitter = os.path.pathsep`` was ``":"``, and split
  ``foo;bar`` (a test's ``f"foo{os.path.pathsep}bar"``) into one value;
- partd's ``valid_chars = "-_.() " + string.ascii_letters + string.digits + os.path.sep``
  had no backslash, so ``escape_filename(os.path.join("a", "b"))`` dropped the separator
  that ``os.path.join`` had put there, and its store wrote ``ab`` instead of ``a\b``.

While a simulation runs, each module-level or class-level assignment whose own source
builds its value from those attributes, without calling anything (names, attributes,
literals, operators, f-strings, tuples: ``X = os.pathsep``, ``SEPS = (os.sep, os.altsep)``,
``f"{os.sep}x"``; through ``os.path`` or a name imported from either), is evaluated again
with Windows' values. When the name still holds what the host's evaluation gives (nothing
changed it since import), it holds the Windows value for the simulation's life and is put
back after. A value made by a call (``os.path.join(...)``, ``Path(...)``) is left alone: a
library's paths keep their spelling, they name the same files. The source is read once
per module while it lives, and parsed only when its text names one of the attributes; the
search over loaded modules runs again only when ``sys.modules`` changed
(``module_census.ModuleSearch``).
"""

from __future__ import annotations

import ast
import ntpath
import re
import sys
import types
from typing import Any

from pytest_ocirace.fakefs.locking import ClassPatches
from pytest_ocirace.fakefs.module_census import ModuleSearch, defined_classes

__all__ = ["WINDOWS_VALUES", "install"]

#: Windows' value of each ``os``/``os.path`` attribute that differs from a POSIX host's.
WINDOWS_VALUES: dict[str, str | None] = {
    "pathsep": ntpath.pathsep,
    "sep": ntpath.sep,
    "altsep": ntpath.altsep,
    "devnull": ntpath.devnull,
}

#: Top-level packages never searched: the standard library, pyfakefs, pytest and this plugin.
_SKIPPED = frozenset(
    {*sys.stdlib_module_names, "pyfakefs", "pytest", "_pytest", "pluggy", "pytest_ocirace"}
)

#: ``(owner, name, the host's value, Windows' value)``: a module or one of its classes.
_Found = tuple[object, str, object, object]

_SEARCH: ModuleSearch[_Found] = ModuleSearch(_SKIPPED)

# The real ``os`` and ``open``, where pyfakefs does not look: while a patcher runs it
# replaces module globals that hold ``os`` or file functions with its fakes.
_REAL = types.SimpleNamespace(open=open, os=sys.modules["os"])

#: A text pre-filter: the source reads a separator through ``os``/``os.path`` or imports one.
#: Substring tests first (a plain ``"sep" in source`` matched most of numpy, and parsing it
#: cost 0.4 s a session; a regular expression over its 2 MB, 0.12 s).
_TOKENS = tuple(f"{owner}.{name}" for owner in ("os", "path") for name in WINDOWS_VALUES)
_IMPORTS = re.compile(r"\bfrom\s+os(?:\.path)?\s+import\b[^\n]*\b(?:sep|pathsep|altsep|devnull)\b")


def _mentions(source: str) -> bool:
    if any(token in source for token in _TOKENS):
        return True
    return "from os" in source and _IMPORTS.search(source) is not None


#: Expression nodes an evaluation may meet: no call, no comprehension, no lambda.
_PURE = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Subscript,
    ast.Slice,
    ast.expr_context,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)


class _WindowsOs:
    """``os`` as an import-time expression reads it on Windows: the separators, ``ntpath``."""

    path = ntpath

    def __init__(self) -> None:
        for attribute, value in WINDOWS_VALUES.items():
            setattr(self, attribute, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(_REAL.os, name)


_WINDOWS_OS = _WindowsOs()


def install(patches: ClassPatches) -> None:
    """Give every captured separator value its Windows form until ``patches`` are undone."""
    if _REAL.os.sep != "/":  # pragma: no cover - a Windows host already has them
        return
    for owner, name, host, windows in _SEARCH.found(_scan):
        # Still what the host's evaluation gives: a test or the library may have set its own.
        if vars(owner).get(name, _MISSING) == host:
            patches.set(owner, name, windows)


_MISSING = object()


def _scan(module: types.ModuleType) -> list[_Found]:
    source = _source(module)
    if source is None or not _mentions(source):
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    imported = _imported_separators(tree.body)
    found: list[_Found] = []
    for owner, body in _bodies(module, tree):
        for target, value in _assignments(body):
            if target not in vars(owner) or not _reads_separator(value, imported):
                continue
            evaluated = _evaluate(module, owner, value, imported)
            if evaluated is not None and evaluated[0] != evaluated[1]:
                found.append((owner, target, *evaluated))
    return found


def _source(module: types.ModuleType) -> str | None:
    """The module's ``.py`` source, read from the real disk."""
    filename = getattr(module, "__file__", None)
    if not isinstance(filename, str) or not filename.endswith(".py"):
        return None
    try:
        with _REAL.open(filename, encoding="utf-8", errors="replace") as handle:
            text: str = handle.read()
    except OSError:
        return None
    return text


def _imported_separators(body: list[ast.stmt]) -> dict[str, str]:
    """Names the module bound at its top level with ``from os[.path] import sep [as x]``."""
    names: dict[str, str] = {}
    for statement in body:
        if isinstance(statement, ast.ImportFrom) and statement.module in ("os", "os.path"):
            for alias in statement.names:
                if alias.name in WINDOWS_VALUES:
                    names[alias.asname or alias.name] = alias.name
    return names


def _bodies(module: types.ModuleType, tree: ast.Module) -> list[tuple[object, list[ast.stmt]]]:
    """The module's body and each of its top-level classes' bodies, with their owners."""
    bodies: list[tuple[object, list[ast.stmt]]] = [(module, tree.body)]
    classes = {cls.__name__: cls for cls in defined_classes(module)}
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name in classes:
            bodies.append((classes[statement.name], statement.body))
    return bodies


def _assignments(body: list[ast.stmt]) -> list[tuple[str, ast.expr]]:
    """``(name, value)`` for each plain assignment to a name."""
    found: list[tuple[str, ast.expr]] = []
    for statement in body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        found.extend((target.id, value) for target in targets if isinstance(target, ast.Name))
    return found


def _reads_separator(value: ast.expr, imported: dict[str, str]) -> bool:
    """Whether ``value`` reads a separator, and calls nothing."""
    reads = False
    for node in ast.walk(value):
        if not isinstance(node, _PURE):
            return False
        if isinstance(node, ast.Name) and node.id in imported:
            reads = True
        elif isinstance(node, ast.Attribute) and node.attr in WINDOWS_VALUES:
            reads = reads or _is_os(node.value)
    return reads


def _is_os(node: ast.expr) -> bool:
    """``os`` or ``os.path``."""
    if isinstance(node, ast.Attribute) and node.attr == "path":
        node = node.value
    return isinstance(node, ast.Name) and node.id == "os"


def _evaluate(
    module: types.ModuleType, owner: object, value: ast.expr, imported: dict[str, str]
) -> tuple[object, object] | None:
    """``value`` evaluated with the host's ``os``, then with Windows'; None if it fails."""
    code = compile(ast.Expression(value), "<captured separator>", "eval")
    namespace = dict(vars(module))
    if owner is not module:
        namespace.update(vars(owner))
    results: list[object] = []
    for os_module, sep_values in (
        (_REAL.os, {name: getattr(_REAL.os, attr) for name, attr in imported.items()}),
        (_WINDOWS_OS, {name: WINDOWS_VALUES[attr] for name, attr in imported.items()}),
    ):
        scope = {**namespace, **sep_values, "os": os_module}
        try:
            results.append(eval(code, scope))  # call-free expressions only (_reads_separator)
        except Exception:  # an expression that needed its import-time state
            return None
    return results[0], results[1]
