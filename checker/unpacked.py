"""Fresh content a function unpacked itself into a location its object holds.

A temp is not the only fresh content that gets published. An installer unpacks an archive
into its tools directory and renames the directory the archive made onto the name the
program looks for (briefcase's JDK: ``unpack_archive(zip, extract_dir=self.tools.base_path)``,
then ``(self.tools.base_path / "jdk-17.0.9+9").rename(self.tools.base_path / "java17")``).
The renamed entry is content this function made a moment ago, exactly as a temp is, so a
rename of it onto a fixed name is a publish, with the same Windows failures (an existing
target fails the rename; a removed one opens a window).

Only a directory the *object holds* counts (an attribute path rooted at ``self``): that
location is the same for every run of the program, so two runs unpack into it and publish
onto one name. A directory handed in as a parameter is the caller's, which may well have
made it fresh for this one call (pre-commit's ``_install_go(version, dest)`` unpacks into
the environment directory its caller is building, under the store lock): the function
alone does not say, and the checker stays quiet when it cannot tell.
"""

from __future__ import annotations

import ast

from .names import NameIndex

#: Calls that unpack an archive, by the attribute name they are called through, and the
#: positional index of the directory they unpack into (``shutil.unpack_archive(filename,
#: extract_dir)``; ``ZipFile.extractall(path)``, ``TarFile.extractall(path)``).
_UNPACK_CALLS = {"unpack_archive": (1, "extract_dir"), "extractall": (0, "path")}

#: Conversions that name the same directory (``os.fsdecode(self.tools.base_path)``).
_SAME_PATH_CALLS = frozenset({"fsdecode", "fspath", "str", "Path"})


class Unpacked(NameIndex):
    """Entries of a directory an archive was unpacked into earlier in the function."""

    def unpacked_entry(self, node: ast.expr) -> ast.Call | None:
        """The unpacking call that made ``node``, when it names an entry of its directory.

        ``node`` (or the name it is bound to) must be ``D / "entry"`` or ``os.path.join(D,
        "entry")`` with ``D`` an attribute path of ``self`` that an unpacking call earlier
        in the same function was handed as its destination.
        """
        if isinstance(node, ast.Name):
            bound = self.assignment_before(node.id, node)
            if bound is None:
                return None
            node = bound
        directory = _directory_of(node, self)
        if directory is None or not _held_by_object(directory):
            return None
        key = ast.dump(directory)
        function = self.function_of(node)
        if function is None:
            return None
        for call in self.scope(node).calls:
            if call.lineno >= node.lineno or self.function_of(call) is not function:
                continue
            destination = _destination(call)
            if destination is not None and ast.dump(_unwrap(destination)) == key:
                return call
        return None


def _directory_of(node: ast.expr, names: NameIndex) -> ast.expr | None:
    """``D`` of ``D / "entry"`` or ``os.path.join(D, "entry")``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return node.left
    if (
        isinstance(node, ast.Call)
        and len(node.args) == 2
        and names.qualified_name(node.func) == "os.path.join"
    ):
        return node.args[0]
    return None


def _held_by_object(node: ast.expr) -> bool:
    """``self.a.b`` (``.parent`` included): a location the object holds, not a parameter."""
    if not isinstance(node, ast.Attribute):
        return False
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id == "self"


def _destination(call: ast.Call) -> ast.expr | None:
    """The directory an unpacking call unpacks into, when it is one."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else None
    if name not in _UNPACK_CALLS:
        return None
    position, keyword = _UNPACK_CALLS[name]
    for given in call.keywords:
        if given.arg == keyword:
            return given.value
    if len(call.args) > position:
        return call.args[position]
    return None


def _unwrap(node: ast.expr) -> ast.expr:
    """The directory under a conversion that names the same path."""
    while isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in _SAME_PATH_CALLS:
            break
        node = node.args[0]
    return node
