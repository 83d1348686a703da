r"""Path separators a module captured at import (``envvar_list_splitter = os.path.pathsep``).

``os.pathsep``, ``os.sep``, ``os.altsep`` and ``os.devnull`` are read when the statement
runs. A module that keeps one in a global or a class attribute keeps the host's value for
good: click's ``types.Path.envvar_list_splitter = os.path.pathsep`` is ``":"``. Inside the
simulation every call of ``os.path`` answers as Windows does (``os.path.pathsep`` is ``";"``),
so such a module disagreed with the code around it where real Windows never does: click split
``foo;bar`` (a test's ``f"foo{os.path.pathsep}bar"``) at ``":"`` and got one value.

While a simulation runs, each module-level or class-level name whose own source assigns it
one of those attributes exactly (``X = os.pathsep``, ``X = os.path.sep``, ``X: str =
os.altsep``), and whose value is still the host's, holds Windows' value; it is put back
after. The source is read once per module while it lives, and parsed only when its text
names one of the attributes; the search over loaded modules runs again only when
``sys.modules`` changed (``module_census.ModuleSearch``). Values built from them
(``SEPS = os.sep + os.altsep``, a tuple) are not followed.
"""

from __future__ import annotations

import ast
import sys
import types

from pytest_ocirace.fakefs.locking import ClassPatches
from pytest_ocirace.fakefs.module_census import ModuleSearch, defined_classes

__all__ = ["WINDOWS_VALUES", "install"]

#: Windows' value of each ``os``/``os.path`` attribute that differs from a POSIX host's.
WINDOWS_VALUES: dict[str, str | None] = {
    "pathsep": ";",
    "sep": "\\",
    "altsep": "/",
    "devnull": "nul",
}

#: Top-level packages never searched: the standard library, pyfakefs, pytest and this plugin.
_SKIPPED = frozenset(
    {*sys.stdlib_module_names, "pyfakefs", "pytest", "_pytest", "pluggy", "pytest_ocirace"}
)

#: ``(owner, name, the attribute it was assigned from)``: a module or one of its classes.
_Found = tuple[object, str, str]

_SEARCH: ModuleSearch[_Found] = ModuleSearch(_SKIPPED)

#: The host's values, read before any simulation replaces ``os``.
_HOST: dict[str, str | None] = {
    "pathsep": sys.modules["os"].pathsep,
    "sep": sys.modules["os"].sep,
    "altsep": sys.modules["os"].altsep,
    "devnull": sys.modules["os"].devnull,
}

# The real ``open``, where pyfakefs does not look: while a patcher runs it replaces module
# globals that hold file functions with its fakes.
_REAL = types.SimpleNamespace(open=open)


def install(patches: ClassPatches) -> None:
    """Give every captured separator its Windows value until ``patches`` are undone."""
    if _HOST["sep"] != "/":  # pragma: no cover - a Windows host already has them
        return
    for owner, name, attribute in _SEARCH.found(_scan):
        # Still the host's value: a test or the library may have set its own.
        if vars(owner).get(name) == _HOST[attribute]:
            patches.set(owner, name, WINDOWS_VALUES[attribute])


def _scan(module: types.ModuleType) -> list[_Found]:
    source = _source(module)
    if source is None or not any(attribute in source for attribute in WINDOWS_VALUES):
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found: list[_Found] = []
    for owner, body in _bodies(module, tree):
        for target, attribute in _assignments(body):
            if target in vars(owner):
                found.append((owner, target, attribute))
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


def _bodies(module: types.ModuleType, tree: ast.Module) -> list[tuple[object, list[ast.stmt]]]:
    """The module's body and each of its top-level classes' bodies, with their owners."""
    bodies: list[tuple[object, list[ast.stmt]]] = [(module, tree.body)]
    classes = {cls.__name__: cls for cls in defined_classes(module)}
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name in classes:
            bodies.append((classes[statement.name], statement.body))
    return bodies


def _assignments(body: list[ast.stmt]) -> list[tuple[str, str]]:
    """``(name, attribute)`` for each ``name = os.<attribute>`` or ``os.path.<attribute>``."""
    found: list[tuple[str, str]] = []
    for statement in body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        attribute = _separator_read(value)
        if attribute is None:
            continue
        found.extend((target.id, attribute) for target in targets if isinstance(target, ast.Name))
    return found


def _separator_read(node: ast.expr) -> str | None:
    if not isinstance(node, ast.Attribute) or node.attr not in WINDOWS_VALUES:
        return None
    owner = node.value
    if isinstance(owner, ast.Name) and owner.id == "os":
        return node.attr
    if (
        isinstance(owner, ast.Attribute)
        and owner.attr == "path"
        and isinstance(owner.value, ast.Name)
        and owner.value.id == "os"
    ):
        return node.attr
    return None
