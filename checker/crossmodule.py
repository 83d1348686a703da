"""The within-module analysis, resolving across modules through the project index.

:mod:`.names`, :mod:`.temps` and :mod:`.guards` each leave one hook for what lies in another
module: what an imported name is (``follow_import``), what an imported helper returns
(``helper_temp``) and whether the callers in other modules guard a call
(``guards_in_other_modules``). This mixin answers them from :class:`.ProjectIndex`; without
an index (a single file, or ``lint_source`` called directly) it changes nothing.

A caller in another module is judged by the same :meth:`Guards.guard` on that module's own
analysis, one level deeper, so ``interprocedural-depth`` bounds the whole chain. A caller
file that cannot be read or parsed is unknown, and unknown is never a guard.
"""

from __future__ import annotations

import ast

from .guards import Guards
from .temps import TempInfo, Temps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .project_index import ProjectIndex

__all__ = ["CrossModule"]


class CrossModule(Temps, Guards):
    """Hooks of the per-module analysis answered by the project index."""

    index: ProjectIndex | None = None
    path: str = ""
    _elsewhere: dict[tuple[ast.AST, int], list[str] | None]

    #: What the index answered for each (name, depth): the analysis asks again and again.
    _resolved: dict[tuple[str, int], str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._elsewhere = {}
        self._resolved = {}
        super().__init__(*args, **kwargs)

    def follow_import(self, name: str, depth: int) -> str:
        """What the index says ``name`` is, asked once per name for this analysis.

        The answer cannot change during a run (a module's exports are read once), and the
        first ask recorded it on this module's view (what a cached result rests on), so a
        repeated ask needs neither the index nor the record again.
        """
        if self.index is None:
            return name
        key = (name, depth)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self.index.resolve(name, depth)
        return found

    def is_project_function(self, name: str) -> bool:
        if self.index is None:
            return False
        module, _, _ = name.rpartition(".")
        return module in self.index.by_module

    def helper_temp(self, call: ast.Call, depth: int) -> TempInfo | None:
        found = super().helper_temp(call, depth)
        if found is not None or self.index is None or depth > 3:
            return found
        name = self.qualified_name(call.func)
        returned = None if name is None else self.index.returned_temp(name)
        if returned is None:
            return None
        return TempInfo("helper", bool(returned[1]), True, origin=call)

    def passed_temp_elsewhere(
        self,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        parameter: str,
        positional: list[str],
        depth: int,
    ) -> TempInfo | None:
        """A fresh temp handed to ``parameter`` by a caller in another checked module.

        The callers are the ones the guard search asks (:meth:`calls_of`): a call resolving
        to this function's own dotted name, or a method call on an untyped receiver in code
        that can hold this package's objects. The argument is judged in the caller's own
        analysis (one level deeper, so the depth bounds the chain across modules).
        """
        if self.index is None or not self.module_name:
            return None
        own = f"{self.module_name}.{function.name}"
        package = self.module_name.split(".")[0]
        for path in self.index.caller_paths(function.name, self.path):
            if package and not self.index.may_import(path, package):
                continue
            caller = self.index.analysis_of(path, self.settings)
            if caller is None or (package and not caller.can_reach(package)):
                continue  # unknown is never a temp either: nothing is claimed
            for site in caller.calls_of(function.name, own):
                found: TempInfo | None = caller.temp_passed_by(
                    site, parameter, positional, depth + 1
                )
                if found is not None:
                    given = ast.unparse(found.origin) if found.origin is not None else "a temp"
                    found.via = f"the caller at {path}:{site.lineno} passes {given}"
                    return found
        return None

    def guards_in_other_modules(
        self, node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> list[str] | None:
        if self.index is None:
            return []
        # Every rule asks about the same call: the search runs once per function and depth.
        key = (function, depth)
        if key not in self._elsewhere:
            self._elsewhere[key] = self._search_other_modules(node, function, depth)
        return self._elsewhere[key]

    def _search_other_modules(
        self, node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> list[str] | None:
        assert self.index is not None
        found: list[str] = []
        own = f"{self.module_name}.{function.name}" if self.module_name else None
        package = self.module_name.split(".")[0]
        for path in self.index.caller_paths(function.name, self.path):
            if package and not self.index.may_import(path, package):
                continue  # no mention of the package at all: not parsed, see can_reach
            caller = self.index.analysis_of(path, self.settings)
            if caller is None:
                self.note(node, f"unknown: the caller module {path} could not be analysed")
                return None
            if package and not caller.can_reach(package):
                continue  # code that never imports this package cannot hold its objects
            for site in caller.calls_of(function.name, own):
                guard = caller.guard(site, depth + 1)
                where = f"{path}:{site.lineno}"
                if guard is None:
                    self.note(node, f"not guarded: the caller at {where} has no guard")
                    for reason in caller.why.get(site, ()):
                        self.note(node, f"{where}: {reason}")
                    return None
                found.append(f"{guard} in the caller at {where}")
        return found

    def can_reach(self, package: str) -> bool:
        """Whether this module is part of ``package`` or imports from it.

        A method called on an object the analysis cannot type (``g.dump()``) may be any
        method of that name; only code of the method's own top-level package, or code that
        imports it, can hold such an object - another project's ``.dump()`` is not a caller.
        """
        if self.module_name.split(".")[0] == package:
            return True
        prefix = package + "."
        return any(
            imported == package or imported.startswith(prefix)
            for scope in self.scopes.values()
            for imported in scope.imports.values()
        )

    def calls_of(self, name: str, qualified: str | None) -> list[ast.Call]:
        """Calls in this module that may reach function ``name`` of another module.

        A call whose callee resolves to a dotted name reaches it only when that name is the
        function's own (``qualified``); a method call on a receiver the analysis cannot
        type (``g.dump(...)``) may reach any method of that name, so it counts.
        """
        sites = []
        for call in self.calls_named(name):
            resolved = self.qualified_name(call.func)
            if resolved == qualified or (
                resolved is None
                and isinstance(call.func, ast.Attribute)
                and not self.calls_another_class_method(call, None)
            ):
                sites.append(call)
        return sites
