"""Publish calls: every call that renames a file onto a target, however it is spelt."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from .names import NameIndex
from .nodes import argument, last_identifier, unparsed, words
from .winmove import MOVE_FILE_EX, is_kernel32_move, replaces

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
# Words in an identifier that mark a path-like receiver of a one-argument .rename()/.replace():
# str.replace needs two arguments, so a one-argument call on such a name is a Path method.
_PATHISH_WORDS = frozenset(
    {"path", "tmp", "temp", "file", "dst", "dest", "target", "src", "source", "partial", "part"}
)


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


class PublishCalls(NameIndex):
    """Finds the publish calls of a module (the rules start from these)."""

    publish_functions: dict[str, str]
    publish_calls: list[PublishCall]

    def moves_back(self, publish: PublishCall) -> bool:
        """Whether ``publish`` moves back what another rename of the module moved away.

        GitPython's ``TemporaryFileSwap`` does ``os.replace(self.file_path,
        self.tmp_file_path)`` in ``__init__`` and ``os.replace(self.tmp_file_path,
        self.file_path)`` in ``__exit__``: the "temp" holds the original file, and putting it
        back is a restore, not a publish of new content. The pair is matched by the text of
        both paths (the same attributes or names, the other way round).
        """
        src, dst = unparsed(publish.src), unparsed(publish.dst)
        return any(
            other is not publish and unparsed(other.src) == dst and unparsed(other.dst) == src
            for other in self.publish_calls
        )

    def _find_publish_calls(self) -> Iterator[PublishCall]:
        for scope in self.scopes.values():
            for call in scope.calls:
                found = self._as_publish(call)
                if found is not None:
                    yield found
                    continue
                yield from self._callables_passed(call)

    def _as_publish(self, call: ast.Call) -> PublishCall | None:
        name = self.call_name(call)
        if name in self.publish_functions:
            src = argument(call, 0, ("src", "source"))
            dst = argument(call, 1, ("dst", "destination", "target"))
            if src is None or dst is None:
                return None
            kind = self.publish_functions[name]
            return PublishCall(call, call.func, name, kind, src, dst, is_method=False)
        func = call.func
        if last_identifier(func) in MOVE_FILE_EX and is_kernel32_move(self, call):
            # MoveFileExW with MOVEFILE_REPLACE_EXISTING is os.replace; without it, a
            # deliberate publish-if-absent (see .winmove).
            src = argument(call, 0, ("lpExistingFileName",))
            dst = argument(call, 1, ("lpNewFileName",))
            if src is None or dst is None or not replaces(self, call):
                return None
            return PublishCall(
                call, func, "kernel32.MoveFileExW", "replace", src, dst, is_method=False
            )
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
        identifier = last_identifier(node)
        if identifier is None or self.qualified_name(node) is not None:
            return False
        return bool(words(identifier) & _PATHISH_WORDS)

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
