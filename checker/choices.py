"""A rename the caller asked for instead of a replace: publish-if-absent by the caller's choice.

boltons' ``atomic_rename(src, dst, overwrite=False)`` does ``if overwrite: replace(src, dst)``
and ``else: os.rename(src, dst)``. The function offers both contracts and the caller picks
one with an argument: where it asks for no overwrite, a rename that fails on an existing
target (WinError 183) is what it asked for, exactly as ``os.link`` or an asserted-absent
target is. The code shows the choice by its shape alone - a parameter decides, and the other
branch hands the same two paths to another call - so no name is trusted.
"""

from __future__ import annotations

import ast

from .names import NameIndex
from .nodes import unparsed

__all__ = ["Choices"]


class Choices(NameIndex):
    """Whether a rename is the no-replace branch of a caller's choice."""

    def chosen_no_replace(self, call: ast.Call, src: ast.expr, dst: ast.expr) -> bool:
        """``call`` (an ``os.rename``) runs where a parameter said not to replace.

        The nearest ``if`` around the call must test a parameter of the enclosing function
        (``if overwrite:``, ``if not overwrite:``), the call must sit in the branch where the
        parameter is false, and the other branch must hand the same ``src`` and ``dst``, in
        that order, to another call (the replacing publish). A test of anything else - the
        target's existence, the platform - is a check of the world, not the caller's choice.
        """
        function = self.function_of(call)
        if function is None:
            return False
        arguments = function.args
        parameters = {
            a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
        }
        current: ast.AST = call
        for ancestor in self.ancestors(call):
            if ancestor is function:
                return False
            if isinstance(ancestor, ast.If):
                return self._false_branch_of_parameter(ancestor, current, parameters, src, dst)
            current = ancestor
        return False

    def _false_branch_of_parameter(
        self,
        branch: ast.If,
        child: ast.AST,
        parameters: set[str],
        src: ast.expr,
        dst: ast.expr,
    ) -> bool:
        test, negated = branch.test, False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, negated = test.operand, True
        if not (isinstance(test, ast.Name) and test.id in parameters):
            return False
        in_body = any(child is statement for statement in branch.body)
        if in_body != negated:
            return False  # the rename runs where the caller asked to replace
        other = branch.orelse if in_body else branch.body
        wanted = [unparsed(src), unparsed(dst)]
        return any(
            isinstance(node, ast.Call)
            and [unparsed(a) for a in node.args[:2]] == wanted
            and len(node.args) >= 2
            for statement in other
            for node in ast.walk(statement)
        )
