"""pyfakefs' stubbing of module globals as a flat plan, kept while ``sys.modules`` stays.

Each start (and each resume after a pause) of pyfakefs' patcher stubs every module global
that names a filesystem module (``Patcher.patch_modules``: about 230 in a pytest process):
it walks its tables of modules per name, tests each module's name against the runtime
skip prefixes, and calls its stub object's ``smart_set`` once per global. Between two
simulated tests of a suite the answer is the same list of (module, name, which fake), so
the first start records that list and the later ones replay it: one loop over a flat list
that sets each namespace entry and notes the original as ``smart_set`` does.

A plan is used only while everything the walk read is the same: ``sys.modules``
(:class:`~pytest_ocirace.fakefs.module_census.ModuleCensus`, which also decides pyfakefs'
runtime skip prefixes), pyfakefs' class-level tables (the same objects, the same sizes),
and the names of the patcher's fake and unfaked modules. Anything else (a global that is
gone from its module, a stub on something that is not a module) makes pyfakefs' own
``patch_modules`` run instead, and record again.
"""

from __future__ import annotations

import types
from typing import Any

from pyfakefs.fake_filesystem_unittest import Patcher

from pytest_ocirace.fakefs.module_census import ModuleCensus

__all__ = ["StubPlan", "patch_modules"]

#: Which of the patcher's tables a planned value comes from.
_FAKE = 0
_UNFAKED = 1


def _tables_key(patcher: Patcher) -> tuple[object, ...]:
    """What ``patch_modules`` read besides ``sys.modules``, compared cheaply."""
    return (
        Patcher.FS_MODULES,
        Patcher.SKIPPED_FS_MODULES,
        Patcher.RUNTIME_SKIPMODULES,
        sum(map(len, Patcher.FS_MODULES.values())),
        sum(map(len, Patcher.SKIPPED_FS_MODULES.values())),
        len(Patcher.RUNTIME_SKIPMODULES),
        tuple(patcher.fake_modules),
        tuple(patcher.unfaked_modules),
    )


class _Recorder:
    """Stands in for the patcher's stubs while pyfakefs' ``patch_modules`` runs once."""

    def __init__(self, stubs: Any) -> None:
        self.stubs = stubs
        self.calls: list[tuple[Any, str, Any]] = []

    def smart_set(self, obj: Any, attr_name: str, new_attr: Any) -> None:
        self.stubs.smart_set(obj, attr_name, new_attr)  # raises as pyfakefs expects
        self.calls.append((obj, attr_name, new_attr))


class StubPlan:
    """The last recorded ``patch_modules`` as ``(namespace, module, name, table, key)``."""

    def __init__(self) -> None:
        self._census = ModuleCensus()
        self._key: tuple[object, ...] | None = None
        self._entries: list[tuple[dict[str, Any], types.ModuleType, str, int, str]] = []

    def forget(self) -> None:
        self._key = None
        self._entries = []
        self._census.forget()

    def patch(self, patcher: Patcher) -> None:
        """What ``patcher.patch_modules()`` does, from the plan when it still holds."""
        key = _tables_key(patcher)
        held = self._key is not None and key == self._key and self._census.unchanged()
        if not (held and self._replay(patcher)):
            self._record(patcher, key)

    def _replay(self, patcher: Patcher) -> bool:
        stubs = patcher._stubs
        assert stubs is not None
        saved: list[tuple[Any, str, Any]] = stubs.stubs
        start = len(saved)
        tables = (patcher.fake_modules, patcher.unfaked_modules)
        for namespace, module, name, table, key in self._entries:
            original = namespace.get(name)
            if original is None:  # gone since: pyfakefs' own walk decides what happens
                while len(saved) > start:
                    owner, attribute, value = saved.pop()
                    vars(owner)[attribute] = value
                return False
            saved.append((module, name, original))
            namespace[name] = tables[table][key]
        return True

    def _record(self, patcher: Patcher, key: tuple[object, ...]) -> None:
        self.forget()
        self._census.remember()
        stubs = patcher._stubs
        recorder = _Recorder(stubs)
        patcher._stubs = recorder  # type: ignore[assignment]
        try:
            Patcher.patch_modules(patcher)
        finally:
            patcher._stubs = stubs
        names = {id(value): (_FAKE, name) for name, value in patcher.fake_modules.items()}
        for name, value in patcher.unfaked_modules.items():
            names.setdefault(id(value), (_UNFAKED, name))
        entries = []
        for obj, attribute, value in recorder.calls:
            source = names.get(id(value))
            if source is None or not isinstance(obj, types.ModuleType):
                self.forget()
                return
            entries.append((obj.__dict__, obj, attribute, *source))
        self._entries = entries
        self._key = key


#: The one plan of this process (one patcher runs at a time).
PLAN = StubPlan()


def patch_modules(patcher: Patcher) -> None:
    """``Patcher.patch_modules`` for a patcher :func:`~.patcher.start_patcher` started."""
    PLAN.patch(patcher)
