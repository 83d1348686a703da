"""The fake pyfakefs gives for a real filesystem function, wherever that function was kept.

pyfakefs swaps a filesystem function where a module global holds it, found by the
function's ``__name__`` and ``__module__`` in its table of faked functions. Code also keeps
such functions where pyfakefs does not look: as class attributes (``class_functions.py``)
and as default values (``default_args.py``). Both ask the same two questions of the running
patcher's table, answered here once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeFunctions"]


class FakeFunctions:
    """pyfakefs' fakes for the functions its patcher swaps, for one running patcher."""

    def __init__(self, patcher: Any) -> None:
        # pyfakefs has no public view of this table; it is what its own module search uses.
        self.table: dict[str, dict[str, tuple[Any, str]]] = patcher._fake_module_functions
        self._modules: dict[str, Any] = patcher.fake_modules

    @classmethod
    def of(cls, fs: Any) -> FakeFunctions | None:
        """For the patcher running ``fs``, if any."""
        patcher = getattr(fs, "patcher", None)
        return None if patcher is None else cls(patcher)

    def is_faked(self, value: Any) -> bool:
        """Whether pyfakefs would swap ``value`` where a module global held it."""
        owners = self.table.get(getattr(value, "__name__", ""))
        return owners is not None and getattr(value, "__module__", None) in owners

    def fake_of(self, real: Any) -> Any:
        """The fake for ``real``, bound to the running fake module; ``real`` if there is none."""
        entry = self.table.get(getattr(real, "__name__", ""), {}).get(
            getattr(real, "__module__", None) or ""
        )
        if entry is None:
            return real
        method, module_name = entry
        fake_module = self._modules.get(module_name)
        return real if fake_module is None else method.__get__(fake_module, type(fake_module))
