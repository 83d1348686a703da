"""Post-import hooks: patch a module right after its first import, or now if it is loaded.

A joining child must not import what it may never use (``multiprocessing``, ``subprocess``,
``threading``, ``fcntl``...): each of those imports would be paid by every Python process a
test starts, most of which never touch them (docs/performance.md, the child's start). So
the interposition of such a module waits in ``sys.meta_path`` until the program imports it,
and runs right after the module's code, before the importer sees it.

A duck-typed finder (``find_spec`` only): ``importlib.abc`` would import
``importlib.resources`` and, through it, ``tempfile`` and ``shutil`` at start-up.
"""

from __future__ import annotations

import importlib.machinery
import sys

TYPE_CHECKING = False  # not typing's: a joining child imports this module at start-up

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["AfterImport"]


class AfterImport:
    """Patches waiting for their modules; ``remove()`` withdraws the ones still waiting."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Callable[[], None]]] = {}
        self._installed = False

    def when_imported(self, name: str, patch: Callable[[], None]) -> None:
        """Run ``patch`` now if ``name`` is loaded, else right after its first import."""
        if name in sys.modules or name in sys.builtin_module_names:
            patch()  # loaded, or built into the interpreter (cheap: no file to load)
            return
        self.pending.setdefault(name, []).append(patch)
        if not self._installed:
            sys.meta_path.insert(0, self)
            self._installed = True

    def remove(self) -> None:
        self.pending.clear()
        if self._installed:
            self._installed = False
            if self in sys.meta_path:
                sys.meta_path.remove(self)

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        patches = self.pending.get(name)
        if patches is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return None
        del self.pending[name]
        real_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            real_exec(module)
            for patch in patches:
                patch()

        loader.exec_module = exec_module
        return spec
