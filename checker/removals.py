"""Removals of a publish target before the rename (remove-then-rename, ORC006)."""

from __future__ import annotations

import ast

from .names import NameIndex
from .publish import PublishCall

_REMOVE_FUNCTIONS = frozenset({"os.remove", "os.unlink", "os.rmdir", "shutil.rmtree"})
_FLOW_ENDS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


class Removals(NameIndex):
    """A removal of the target on the same path through the function."""

    def removal_before(self, publish: PublishCall) -> ast.Call | None:
        """A removal of the publish target earlier on the same path through the function."""
        key = ast.unparse(publish.dst)
        publish_statement = self.statement_of(publish.call)
        for call in self.scope(publish.call).calls:
            if call.lineno >= publish.call.lineno or not self._removes(call, key):
                continue
            statement = self.statement_of(call)
            if statement is None or publish_statement is None:
                continue
            if self._flow_ends_after(statement) or self._exclusive(call, publish.call):
                continue
            return call
        return None

    def _exclusive(self, first: ast.AST, second: ast.AST) -> bool:
        """The two nodes sit in different branches of one ``if`` or in different handlers."""
        chain = list(self.ancestors(first))
        for ancestor in self.ancestors(second):
            if ancestor not in chain:
                continue
            if isinstance(ancestor, ast.If):
                return self._branch(ancestor.body, first) != self._branch(ancestor.body, second)
            if isinstance(ancestor, ast.Try):
                handlers = [h for h in ancestor.handlers if self._branch(h.body, first)]
                others = [h for h in ancestor.handlers if self._branch(h.body, second)]
                return bool(handlers and others and handlers != others)
            return False
        return False

    @staticmethod
    def _branch(block: list[ast.stmt], node: ast.AST) -> bool:
        return any(part is node for statement in block for part in ast.walk(statement))

    def _removes(self, call: ast.Call, key: str) -> bool:
        name = self.qualified_name(call.func) or ""
        if name in _REMOVE_FUNCTIONS and call.args:
            return ast.unparse(call.args[0]) == key
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "unlink" and not call.args:
            receiver = func.value
            if (
                isinstance(receiver, ast.Call)
                and len(receiver.args) == 1
                and self.qualified_name(receiver.func) in ("pathlib.Path", "pathlib.PurePath")
            ):
                return ast.unparse(receiver.args[0]) == key
            return ast.unparse(receiver) == key
        return False

    def _flow_ends_after(self, statement: ast.stmt) -> bool:
        """The removal's block returns/raises after it: the rename is on another path."""
        parent = self.parents.get(statement)
        for name in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, name, None)
            if isinstance(block, list) and statement in block:
                after = block[block.index(statement) + 1 :]
                return any(isinstance(s, _FLOW_ENDS) for s in after)
        return False
