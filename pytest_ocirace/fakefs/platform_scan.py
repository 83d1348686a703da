"""Whether a module chose its platform when it was imported (a cheap source heuristic).

A module that branched on the platform at import (``if sys.platform == "win32":`` around
definitions, ``FileLock = UnixFileLock``, ``try: import fcntl``) keeps its POSIX branch
inside the simulation, whatever its call-time checks see; the fix is to import it under the
Windows identity (``windows_import_modules``). The plugin names such modules when a failing
traceback passes through them, and warns when a module given to ``windows_import_modules``
has no such code (the option would change nothing for it).

The test: the module's source, parsed, has a statement that runs at import (module level,
class bodies, decorators and default values: not function bodies) that reads
``sys.platform``, ``os.name``, ``platform.system()`` or ``sys.getwindowsversion``, or that
imports a module only one platform has (``msvcrt``, ``fcntl``, ``ctypes.windll``...) inside
an ``if`` or ``try``. A text pre-filter skips the parse for most files. It can be wrong both
ways (a platform read at import that changes nothing; a choice made through another module);
it only decides whether to mention the option.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["PlatformChoice", "import_time_choice", "reads_platform"]

#: Modules that exist on one platform only: importing one under ``if``/``try`` is a choice.
PLATFORM_ONLY_MODULES = frozenset(
    {
        "msvcrt",
        "_winapi",
        "winreg",
        "nt",
        "win32api",
        "win32file",
        "win32con",
        "pywintypes",
        "ctypes.wintypes",
        "fcntl",
        "termios",
        "pwd",
        "grp",
        "posix",
    }
)
_CTYPES_WINDOWS_NAMES = frozenset({"windll", "WinDLL", "WinError", "oledll", "FormatError"})
_PLATFORM_READS = {("sys", "platform"), ("os", "name"), ("sys", "getwindowsversion")}
_PREFILTER = ("platform", "os.name", "getwindowsversion", *PLATFORM_ONLY_MODULES, "windll")


@dataclass(frozen=True)
class PlatformChoice:
    """Where a module reads the platform at import: the first such line."""

    filename: str
    line: int
    text: str

    def describe(self) -> str:
        return f"{os.path.basename(self.filename)}:{self.line}: {self.text}"


def import_time_choice(filename: str | None) -> PlatformChoice | None:
    """The first line of ``filename`` that chooses a platform at import, or ``None``."""
    if not filename or not filename.endswith(".py"):
        return None
    try:
        stamp = os.stat(filename).st_mtime_ns
    except OSError:
        return None
    return _scan(filename, stamp)


@functools.lru_cache(maxsize=512)
def _scan(filename: str, stamp: int) -> PlatformChoice | None:
    try:
        with open(filename, encoding="utf-8", errors="replace") as handle:
            source = handle.read()
    except OSError:
        return None
    if not any(word in source for word in _PREFILTER):
        return None
    try:
        tree = ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return None
    # A read of the platform says more than a guarded import: show it when there is one.
    nodes = sorted(
        _import_time_nodes(tree.body, guarded=False),
        key=lambda n: (isinstance(n, (ast.Import, ast.ImportFrom)), getattr(n, "lineno", 0)),
    )
    if not nodes:
        return None
    line = getattr(nodes[0], "lineno", 1)
    lines = source.splitlines()
    return PlatformChoice(filename, line, lines[line - 1].strip() if line <= len(lines) else "")


def _import_time_nodes(body: list[ast.stmt], *, guarded: bool) -> Iterator[ast.AST]:
    """Nodes evaluated at import that read the platform, in source order."""
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for expression in (
                *statement.decorator_list,
                *statement.args.defaults,
                *(d for d in statement.args.kw_defaults if d is not None),
            ):
                yield from _platform_reads(expression)
            continue
        if isinstance(statement, ast.ClassDef):
            for expression in (*statement.decorator_list, *statement.bases):
                yield from _platform_reads(expression)
            yield from _import_time_nodes(statement.body, guarded=guarded)
            continue
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            if guarded and _imports_platform_module(statement):
                yield statement
            continue
        if isinstance(statement, (ast.If, ast.Try, ast.While, ast.For, ast.With)):
            yield from _header_reads(statement)
            for part in _bodies(statement):
                yield from _import_time_nodes(part, guarded=True)
            continue
        yield from _platform_reads(statement)


def _header_reads(statement: ast.stmt) -> Iterator[ast.AST]:
    if isinstance(statement, (ast.If, ast.While)):
        yield from _platform_reads(statement.test)
    elif isinstance(statement, ast.For):
        yield from _platform_reads(statement.iter)
    elif isinstance(statement, ast.With):
        for item in statement.items:
            yield from _platform_reads(item.context_expr)


def _bodies(statement: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        part = getattr(statement, name, None)
        if part:
            yield part
    for handler in getattr(statement, "handlers", ()):
        yield handler.body


def _imports_platform_module(statement: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(statement, ast.Import):
        return any(alias.name in PLATFORM_ONLY_MODULES for alias in statement.names)
    module = statement.module or ""
    if module in PLATFORM_ONLY_MODULES:
        return True
    return module == "ctypes" and any(a.name in _CTYPES_WINDOWS_NAMES for a in statement.names)


def reads_platform(node: ast.AST) -> bool:
    """Whether ``node`` reads ``sys.platform``, ``os.name``, ``platform.system()``..."""
    return next(_platform_reads(node), None) is not None


def _platform_reads(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.walk(node):
        if isinstance(child, ast.Lambda):
            continue
        if (
            isinstance(child, ast.Attribute)
            and isinstance(child.value, ast.Name)
            and (child.value.id, child.attr) in _PLATFORM_READS
        ) or (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and isinstance(child.func.value, ast.Name)
            and child.func.value.id == "platform"
            and child.func.attr == "system"
        ):
            yield child
