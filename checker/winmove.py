"""``MoveFileExW`` through ctypes: the Windows replace that Python code calls by hand.

Libraries that predate ``os.replace`` (atomicwrites, old portalocker copies) publish on Windows
with ``windll.kernel32.MoveFileExW(src, dst, MOVEFILE_REPLACE_EXISTING | ...)``. That call is
``os.replace`` itself (``os.replace`` is ``MoveFileExW`` with that flag), so it loses the same
race with ``ERROR_ACCESS_DENIED`` and is judged the same way.

Without ``MOVEFILE_REPLACE_EXISTING`` (and ``MoveFileW``, which never replaces) the call fails
on an existing target: code written against the Windows API that leaves the flag out asks
for publish-if-absent on purpose, so it is not a publish to report.

The function is recognised by name on a ``kernel32`` handle: ``ctypes.windll.kernel32``
(however imported or aliased), or a name bound to ``ctypes.WinDLL("kernel32", ...)`` /
``ctypes.windll.LoadLibrary("kernel32")``. The flag is read from the third argument (or
``dwFlags=``): an integer with bit 0x1, a name spelt ``...REPLACE_EXISTING``, a ``|`` of
those, or a name bound to one of them in the module.
"""

from __future__ import annotations

import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .names import NameIndex

__all__ = ["MOVE_FILE_EX", "replaces"]

#: The ``MoveFileEx`` spellings (wide and ANSI) that take a flags argument.
MOVE_FILE_EX = frozenset({"MoveFileExW", "MoveFileExA"})
_REPLACE_EXISTING = 0x1
_LOADERS = frozenset({"ctypes.WinDLL", "ctypes.windll.LoadLibrary", "ctypes.CDLL", "ctypes.OleDLL"})


def is_kernel32_move(names: NameIndex, call: ast.Call) -> bool:
    """Whether ``call`` is ``MoveFileExW``/``MoveFileExA`` of kernel32."""
    func = call.func
    attribute = func.attr if isinstance(func, ast.Attribute) else None
    qualified = names.qualified_name(func)
    if qualified is not None:
        module, _, function = qualified.rpartition(".")
        return function in MOVE_FILE_EX and module.split(".")[-1].lower() == "kernel32"
    if attribute not in MOVE_FILE_EX:
        return False
    assert isinstance(func, ast.Attribute)
    receiver = func.value
    if isinstance(receiver, ast.Name):
        bound = names.assignment_before(receiver.id, receiver)
        return bound is not None and _loads_kernel32(names, bound)
    return _loads_kernel32(names, receiver)


def _loads_kernel32(names: NameIndex, node: ast.expr) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    first = node.args[0]
    return (
        names.qualified_name(node.func) in _LOADERS
        and isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and "kernel32" in first.value.lower()
    )


def replaces(names: NameIndex, call: ast.Call) -> bool:
    """Whether the flags of a ``MoveFileEx`` call include ``MOVEFILE_REPLACE_EXISTING``."""
    flags: ast.expr | None = call.args[2] if len(call.args) > 2 else None
    for keyword in call.keywords:
        if keyword.arg == "dwFlags":
            flags = keyword.value
    return flags is not None and _has_replace(names, flags, 0)


def _has_replace(names: NameIndex, node: ast.expr, depth: int) -> bool:
    if depth > 4:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and bool(node.value & _REPLACE_EXISTING)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _has_replace(names, node.left, depth + 1) or _has_replace(
            names, node.right, depth + 1
        )
    identifier = node.id if isinstance(node, ast.Name) else None
    if isinstance(node, ast.Attribute):
        identifier = node.attr
    if identifier is None:
        return False
    if identifier.upper().endswith("REPLACE_EXISTING"):
        return True
    if isinstance(node, ast.Name):
        value = names.assignment_before(node.id, node)
        return value is not None and _has_replace(names, value, depth + 1)
    return False
