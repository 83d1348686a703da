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
from .outline import reaches
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
    #: What star imports bound each (name, depth) to, for this view (as ``_resolved``).
    _star: dict[tuple[str, int], str | None]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._elsewhere = {}
        self._resolved = {}
        self._star = {}
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

    def star_imported(self, name: str, modules: list[str], depth: int) -> str | None:
        """What ``from M import *`` of a checked module binds ``name`` to, if it binds it.

        you-get's extractors take ``os`` from ``from ..common import *``: a name the module
        never binds comes from the last star import whose module binds it at its top level
        (an import, an alias or a definition) and exports it (no leading underscore, and in
        ``__all__`` when the module declares one). What that module binds it to is read from
        its own analysis, as its own code would resolve it; a module outside the checked
        tree, or one that cannot be read, binds nothing known.
        """
        if self.index is None or depth > 3 or name.startswith("_"):
            return None
        key = (name, depth)
        if key not in self._star:
            self._star[key] = self._bound_by_star_import(name, modules, depth)
        return self._star[key]

    def _bound_by_star_import(self, name: str, modules: list[str], depth: int) -> str | None:
        assert self.index is not None
        for module in reversed(modules):
            if module not in self.index.by_module:
                continue
            other = self.index.analysis_of(self.index.by_module[module].path, self.settings)
            if other is None:
                continue
            top = other.scopes[other.tree]
            if name not in top.imports and name not in top.bound:
                continue
            exported = other.declared_all()
            if exported is not None and name not in exported:
                continue
            found: str | None = other.qualified_name(
                ast.Name(id=name, lineno=10**9), top, depth + 1
            )
            return found
        return None

    def declared_all(self) -> set[str] | None:
        """The names of this module's ``__all__``; ``None`` when it declares none.

        Only a literal list or tuple is read; an ``__all__`` built any other way (``+=``, a
        comprehension) exports nothing known, so a star import of it resolves nothing.
        """
        declared: set[str] | None = None
        for statement in self.tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(statement, ast.Assign):
                targets, value = statement.targets, statement.value
            elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
                targets, value = [statement.target], None  # extended or annotated: not read
            if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                continue
            if declared is not None or not isinstance(value, (ast.List, ast.Tuple)):
                return set()
            declared = {
                e.value
                for e in value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
        return declared

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
            if self.index.without_sites(path, function.name, package):
                continue  # what the search would find there, known without the tree
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
            if self.index.without_sites(path, function.name, package):
                continue  # no call of that name, or cannot reach the package: see Outline
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
        return reaches(
            self.module_name,
            (imported for scope in self.scopes.values() for imported in scope.imports.values()),
            package,
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
