"""What the caller search can ask of a module whose analysis the project index let go.

The caller search (:mod:`.crossmodule`) asks a caller module two things before it needs
the module's tree: can it reach the searched function's package at all (it is part of it
or imports from it), and does any call's callee end in the function's name. When either
answer is no the search learns nothing from that module. An outline keeps just those two
answers' inputs - a few hundred bytes where the analysis is tens of megabytes for a large
module - so the index can free a linted module's tree and still skip it without parsing
it again (see :meth:`.project_index.ProjectIndex.without_sites`).
"""

from __future__ import annotations

from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Outline", "reaches"]


def reaches(module_name: str, imported: Iterable[str], package: str) -> bool:
    """Whether code of ``module_name`` importing ``imported`` can hold objects of ``package``.

    Part of the package, or an import of it or of one of its modules. The one test
    :meth:`.crossmodule.CrossModule.can_reach` and :class:`Outline` share.
    """
    if module_name.split(".")[0] == package:
        return True
    prefix = package + "."
    return any(name == package or name.startswith(prefix) for name in imported)


class Outline:
    """A linted module as the caller search sees it before asking for its tree."""

    __slots__ = ("called", "imported", "module_name")

    def __init__(self, module_name: str, imported: frozenset[str], called: frozenset[str]) -> None:
        self.module_name = module_name
        #: Every dotted name the module imports, in any scope.
        self.imported = imported
        #: Every identifier a call's callee ends in (``f(...)``, ``x.f(...)``).
        self.called = called

    @classmethod
    def of(cls, analysis: Any) -> Outline:
        """The outline of a module's analysis."""
        imported = frozenset(
            name for scope in analysis.scopes.values() for name in scope.imports.values()
        )
        return cls(analysis.module_name, imported, analysis.called_names())

    def packages(self) -> set[str]:
        """The top-level packages whose searches can find a call here (:func:`reaches`)."""
        return {self.module_name.split(".")[0]} | {name.split(".")[0] for name in self.imported}

    def without_sites(self, name: str, package: str) -> bool:
        """Whether a search for callers of ``name`` in ``package`` finds nothing here.

        The same answer the analysis gives: the search skips a module that cannot reach a
        named package, and finds calls only among those whose callee ends in ``name``.
        """
        if package and not reaches(self.module_name, self.imported, package):
            return True
        return name not in self.called
