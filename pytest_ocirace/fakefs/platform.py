"""Let chosen modules believe they run on Windows (``os.name``, ``sys.platform``) when called.

Flags computed at import (``_WINDOWS = os.name == "nt"``) cannot be reached through
``os``: boolean globals listed in ``flags`` are set to ``True`` for the duration instead
(the reference writer is switched through its own declared seam instead: ``writer_seam``).

Code under test often gates its Windows handling on ``os.name == "nt"`` (retry on
WinError 5/32, ``O_TEMPORARY``...). To exercise that branch on Linux, the modules the user
names get proxies for their ``os``, ``sys`` and ``platform`` globals that answer as Windows
and forward everything else (``platform.system`` bound by name answers ``"Windows"``).
Only those modules' globals change: pytest, pyfakefs and this
plugin keep the real answers, which they need to keep working. A name covers its loaded
submodules (``cachelib`` covers ``cachelib.file``, whose ``os`` the package's ``__init__``
never imports).

What was patched is recorded in :data:`PATCHED` (the plugin's summary shows it); a name whose
modules hold nothing to patch gets a :class:`PlatformWarning` naming it, once per process,
because a silent no-op looks exactly like a working option. Decisions made at import are out
of reach here: ``platform_import.py`` imports such modules again as Windows.
"""

from __future__ import annotations

import importlib
import operator
import os
import platform as _platform
import sys
import types
import warnings
from collections.abc import Callable
from typing import Any

from pytest_ocirace.fakefs.module_census import is_module, loaded_modules

__all__ = [
    "PATCHED",
    "PROTECTED_MODULES",
    "PROTECTED_PREFIXES",
    "PlatformError",
    "PlatformWarning",
    "WindowsPlatform",
    "check_allowed",
    "family_names",
    "implied_by_import",
    "register_summary",
    "summary_lines",
    "windows_view",
]

#: Modules that must keep seeing the real platform, or the test run itself breaks.
PROTECTED_PREFIXES = ("pytest", "_pytest", "pyfakefs", "pluggy", "os", "sys")
#: Our own plumbing; ``pytest_ocirace.writer`` is code under test and may be named.
PROTECTED_MODULES = (
    "pytest_ocirace.plugins",
    "pytest_ocirace.fakefs",
    "pytest_ocirace.racemodel",
    "pytest_ocirace.winrules",
    "pytest_ocirace.realdisk",
    "pytest_ocirace.conformance",
)


class PlatformError(ValueError):
    """A module cannot be given a Windows platform view."""


class PlatformWarning(UserWarning):
    """A module named in a platform option gained nothing from it."""


#: Per option and named module: the ``module.global`` names patched in this process.
PATCHED: dict[tuple[str, str], set[str]] = {}
_WARNED: set[tuple[str, str]] = set()
#: Names given the view because ``windows_import_modules`` names them (it reports on them).
_IMPLIED: set[str] = set()


def implied_by_import(names: tuple[str, ...]) -> None:
    """``names`` get this view because they were imported as Windows, not named for it."""
    _IMPLIED.update(names)


#: Other platform options' summaries (``platform_import`` registers its own on import).
_SUMMARIES: list[Callable[[], list[str]]] = []


def register_summary(lines: Callable[[], list[str]]) -> None:
    """Add a source of lines to :func:`summary_lines`."""
    _SUMMARIES.append(lines)


def summary_lines() -> list[str]:
    """What the platform options did in this process, one line per named module."""
    lines = [line for source in _SUMMARIES for line in source()]
    lines.extend(
        f"{option}: {name} -> " + (", ".join(sorted(patched)) if patched else "nothing")
        for (option, name), patched in sorted(PATCHED.items())
    )
    return lines


def check_allowed(name: str, option: str) -> None:
    """Refuse modules whose platform must stay real (one line naming the problem and fix)."""
    if name.startswith(PROTECTED_MODULES) or name.split(".")[0] in PROTECTED_PREFIXES:
        raise PlatformError(
            f"ocirace option {option}: {name!r} cannot see a Windows platform (pytest, "
            "pyfakefs, os, sys and this plugin need the real one); name the modules of the "
            "code under test instead"
        )


def family_names(root: str) -> list[str]:
    """``root`` and its loaded submodules, parents first."""
    prefix = root + "."
    names = [n for n in list(sys.modules) if n == root or n.startswith(prefix)]
    return sorted(names, key=lambda n: (n.count("."), n))


def warn_once(option: str, name: str, message: str) -> None:
    """A :class:`PlatformWarning` for ``name`` under ``option``, once per process."""
    if (option, name) in _WARNED:
        return
    _WARNED.add((option, name))
    warnings.warn(PlatformWarning(message), stacklevel=2)


_OPTION = "windows_platform_modules"


def _warn_if_a_second_copy(name: str) -> None:
    """Warn when the module named ``name`` is a file already loaded under another name.

    pytest imports a test module by the name its rootdir and ``__init__.py`` files give
    it (``test_filelock`` for ``tests/test_filelock.py`` without a package); naming it by
    its JUnit class name (``tests.test_filelock``) imports a second copy of the file that
    no test runs, and the Windows view changed nothing, silently (filelock's suite).
    Checked once per name.
    """
    if name in _COPIES_CHECKED:
        return
    _COPIES_CHECKED.add(name)
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return
    for other, loaded in loaded_modules():
        if (
            other != name
            and loaded is not module
            and is_module(loaded)
            and getattr(loaded, "__file__", None) == path
        ):
            warn_once(
                _OPTION,
                name,
                f"ocirace option {_OPTION}: {name!r} is a second copy of {path!r}, which is "
                f"loaded as {other!r} (the tests run in that one); name {other!r}",
            )
            return


_COPIES_CHECKED: set[str] = set()


class _Proxy:
    """Forwards attribute reads to ``target`` except for ``overrides``; writes go to ``target``.

    No ``__dict__`` of its own (slots): ``monkeypatch.setattr(os, "link", f)`` in a named
    test module reads the attribute's old value from ``os.__dict__`` (pytest 9 looks in
    the instance ``__dict__``), sets it on ``os``, and its undo sets or deletes it there
    (portalocker's tests named in ``windows_platform_modules``: ``'_Proxy' object has no
    attribute 'link'`` at every such teardown).
    """

    __slots__ = ("_ocirace_overrides", "_ocirace_target")

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

    def __delattr__(self, name: str) -> None:
        delattr(object.__getattribute__(self, "_ocirace_target"), name)

    def __repr__(self) -> str:
        return f"<windows view of {object.__getattribute__(self, '_ocirace_target')!r}>"


def _is_os(value: Any) -> bool:
    return value is os or type(value).__name__ == "FakeOsModule"


def _overrides_for(value: Any) -> dict[str, Any] | None:
    if _is_os(value):
        from pytest_ocirace.fakefs.filesystem import O_TEMPORARY
        from pytest_ocirace.fakefs.windows_modules import OS_CONSTANTS

        return {
            **OS_CONSTANTS,
            "name": "nt",
            "O_TEMPORARY": O_TEMPORARY,
            "sep": "\\",
            "altsep": "/",
            "linesep": "\r\n",
        }
    if value is sys:
        from pytest_ocirace.fakefs.windows_modules import getwindowsversion

        return {"platform": "win32", "getwindowsversion": getwindowsversion}
    if value is _platform:
        return {"system": lambda: "Windows"}
    return None


def _windows_system() -> str:
    """``platform.system()`` on Windows."""
    return "Windows"


def _windows_value(value: Any) -> Any:
    """What a named module's global ``value`` becomes in the Windows view, or None.

    ``os``, ``sys`` and ``platform`` get proxies; ``platform.system`` bound by name at
    import (``from platform import system``: black's tests ask ``system() == "Windows"``)
    answers ``"Windows"``.
    """
    if value is _platform.system:
        return _windows_system
    overrides = _overrides_for(value)
    return None if overrides is None else _Proxy(value, overrides)


def windows_view(value: Any) -> Any:
    """``value`` as a Windows module would see it: ``os``, ``sys`` and ``platform`` proxied.

    Anything else comes back unchanged. For reading code's conditions as Windows would
    (``plugins/windows_skips.py``) without changing any module.
    """
    overrides = _overrides_for(value)
    return value if overrides is None else _Proxy(value, overrides)


class WindowsPlatform:
    """The Windows view for a list of modules, installed and removed as a unit."""

    def __init__(
        self, module_names: tuple[str, ...], flags: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        for name in module_names:
            check_allowed(name, _OPTION)
        self.module_names = module_names
        self.flags = dict(flags or {})
        self._saved: list[tuple[types.ModuleType, str, Any, Any]] = []
        #: ``sys.modules`` (names, then objects) when the view was last installed.
        self._modules: tuple[tuple[str, ...], tuple[object, ...]] = ((), ())

    def install(self) -> None:
        self._modules = (tuple(sys.modules), tuple(sys.modules.values()))
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
                importlib.import_module(name)
            except ImportError as exc:
                raise PlatformError(
                    f"ocirace option {_OPTION}: cannot import {name!r} ({exc}); "
                    "give the dotted name of an importable module"
                ) from None
            _warn_if_a_second_copy(name)
            patched = PATCHED.setdefault((_OPTION, name), set())
            for member in family_names(name):
                loaded: Any = sys.modules[member]
                if not is_module(loaded):
                    continue  # a placeholder some packages put in sys.modules
                for attribute, value in list(vars(loaded).items()):
                    proxy = _windows_value(value)
                    if proxy is None:
                        continue
                    self._saved.append((loaded, attribute, value, proxy))
                    setattr(loaded, attribute, proxy)
                    patched.add(f"{member}.{attribute}")
            if not patched and name not in _IMPLIED:
                warn_once(
                    _OPTION,
                    name,
                    f"ocirace option {_OPTION}: {name!r} and its loaded submodules hold no "
                    "os, sys or platform module, so nothing in them reads as Windows; name "
                    "the submodule that checks the platform, or use windows_import_modules "
                    "if it decides at import",
                )

    def uninstall(self) -> None:
        self._modules = ((), ())  # a refresh after this installs the view again
        while self._saved:
            module, attribute, value, proxy = self._saved.pop()
            if vars(module).get(attribute) is proxy:
                setattr(module, attribute, value)

    def refresh(self) -> None:
        """Re-apply the view after pyfakefs re-stubbed module globals (pause/resume).

        Nothing to do while every value it set is still in place and ``sys.modules`` holds
        the same objects under the same names (no pause since, no module imported): the
        view would be installed again exactly as it is (about 0.1 ms per simulated test).
        """
        if self._intact():
            return
        self.uninstall()
        self.install()

    def _intact(self) -> bool:
        names, objects = self._modules
        modules = sys.modules
        if len(modules) != len(names) or tuple(modules) != names:
            return False
        if not all(map(operator.is_, tuple(modules.values()), objects)):
            return False
        return all(
            vars(module).get(attribute) is set_to for module, attribute, _, set_to in self._saved
        )
