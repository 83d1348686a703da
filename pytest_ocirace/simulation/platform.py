"""Let chosen modules believe they run on Windows (``os.name``, ``sys.platform``).

Flags computed at import (``_WINDOWS = os.name == "nt"``) cannot be reached through
``os``: boolean globals listed in ``flags`` are set to ``True`` for the duration instead
(the reference writer is switched through its own declared seam instead: ``writer_seam``).

Code under test often gates its Windows handling on ``os.name == "nt"`` (retry on
WinError 5/32, ``O_TEMPORARY``...). To exercise that branch on Linux, the modules the user
names get proxies for their ``os``, ``sys`` and ``platform`` globals that answer as Windows
and forward everything else. Only those modules' globals change: pytest, pyfakefs and this
plugin keep the real answers, which they need to keep working.
"""

from __future__ import annotations

import importlib
import os
import platform as _platform
import sys
import types
from typing import Any

__all__ = ["PROTECTED_MODULES", "PROTECTED_PREFIXES", "PlatformError", "WindowsPlatform"]

#: Modules that must keep seeing the real platform, or the test run itself breaks.
PROTECTED_PREFIXES = ("pytest", "_pytest", "pyfakefs", "pluggy", "os", "sys")
#: Our own plumbing; ``pytest_ocirace.writer`` is code under test and may be named.
PROTECTED_MODULES = (
    "pytest_ocirace.plugin",
    "pytest_ocirace.simulation",
    "pytest_ocirace.conformance",
)


class PlatformError(ValueError):
    """A module cannot be given a Windows platform view."""


class _Proxy:
    """Forwards attribute reads to ``target`` except for ``overrides``."""

    def __init__(self, target: Any, overrides: dict[str, Any]) -> None:
        object.__setattr__(self, "_ocirace_target", target)
        object.__setattr__(self, "_ocirace_overrides", overrides)

    def __getattr__(self, name: str) -> Any:
        overrides = object.__getattribute__(self, "_ocirace_overrides")
        if name in overrides:
            return overrides[name]
        return getattr(object.__getattribute__(self, "_ocirace_target"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_ocirace_target"), name, value)

    def __repr__(self) -> str:
        return f"<windows view of {object.__getattribute__(self, '_ocirace_target')!r}>"


def _is_os(value: Any) -> bool:
    return value is os or type(value).__name__ == "FakeOsModule"


def _overrides_for(value: Any) -> dict[str, Any] | None:
    if _is_os(value):
        from pytest_ocirace.simulation.filesystem import O_TEMPORARY

        return {
            "name": "nt",
            "O_TEMPORARY": O_TEMPORARY,
            "sep": "\\",
            "altsep": "/",
            "linesep": "\r\n",
        }
    if value is sys:
        return {"platform": "win32"}
    if value is _platform:
        return {"system": lambda: "Windows"}
    return None


class WindowsPlatform:
    """The Windows view for a list of modules, installed and removed as a unit."""

    def __init__(
        self, module_names: tuple[str, ...], flags: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        for name in module_names:
            if name.startswith(PROTECTED_MODULES) or name.split(".")[0] in PROTECTED_PREFIXES:
                raise PlatformError(
                    f"ocirace option windows_platform_modules: {name!r} cannot see a Windows "
                    "platform (pytest, pyfakefs, os, sys and this plugin need the real one); "
                    "name the modules of the code under test instead"
                )
        self.module_names = module_names
        self.flags = dict(flags or {})
        self._saved: list[tuple[types.ModuleType, str, Any, Any]] = []

    def install(self) -> None:
        for name, attributes in self.flags.items():
            module = sys.modules.get(name)
            if module is None:
                continue
            for attribute in attributes:
                if isinstance(vars(module).get(attribute), bool):
                    self._saved.append((module, attribute, vars(module)[attribute], True))
                    setattr(module, attribute, True)
        for name in self.module_names:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise PlatformError(
                    f"ocirace option windows_platform_modules: cannot import {name!r} ({exc}); "
                    "give the dotted name of an importable module"
                ) from None
            for attribute, value in list(vars(module).items()):
                overrides = _overrides_for(value)
                if overrides is None:
                    continue
                proxy = _Proxy(value, overrides)
                self._saved.append((module, attribute, value, proxy))
                setattr(module, attribute, proxy)

    def uninstall(self) -> None:
        while self._saved:
            module, attribute, value, proxy = self._saved.pop()
            if vars(module).get(attribute) is proxy:
                setattr(module, attribute, value)

    def refresh(self) -> None:
        """Re-apply the view after pyfakefs re-stubbed module globals (pause/resume)."""
        self.uninstall()
        self.install()
