r"""``os.py``'s own Python functions, wherever they were captured, run on the fake disk.

``os.makedirs``, ``os.removedirs``, ``os.renames``, ``os.walk`` and ``os.fdopen`` are Python
code in ``os.py``: their ``mkdir``, ``rename``, ``scandir``, ``path`` and ``io`` are the real
module's own, which pyfakefs never replaces. pyfakefs swaps a reference to them where a
module holds it (a module attribute, ``from os import makedirs``; ``wrapped_functions.py``
adds the wrappers and the names pyfakefs does not list), but a reference held anywhere
else, taken before the simulation, is the real function and ran on the real disk: a
``functools.partial(os.makedirs, exist_ok=True)``, a table of callbacks, a default
argument of a closure. Under the Windows-spelled paths of the simulation that made real
directories named ``C:\...`` in the working directory, or failed with
``FileNotFoundError``.

While a simulation runs, each of these function objects gets code that calls the fake
``os`` module's function of the same name (the one ``os.<name>`` gives the test's code):
every holder of the object reaches the fake disk. Calls made from the machinery (pyfakefs,
pytest, pluggy, this plugin), which pyfakefs leaves on the real ``os``, and calls between
``os.py``'s own functions, run the original code, as they do while pyfakefs is paused.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from pytest_ocirace.fakefs.inforce import IN_FORCE
from pytest_ocirace.fakefs.locking import ClassPatches, code_keeping_copy

__all__ = ["NAMES", "install"]

#: The functions of ``os.py`` that touch files and that pyfakefs' fake ``os`` has.
NAMES = ("makedirs", "removedirs", "renames", "walk", "fdopen")
#: Modules whose calls stay real: pyfakefs leaves their ``os`` the real one.
_MACHINERY = ("pyfakefs", "_pytest", "pytest", "pluggy", "pytest_ocirace", "os")
_DISPATCH = "_ocirace_os_function"
#: The real ``os`` module (in a dict: pyfakefs replaces module globals that are ``os``).
_REAL = {"os": os}


def _from_machinery(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in _MACHINERY)


def _template(*args: Any, **kwargs: Any) -> Any:  # the code each function gets
    return _ocirace_os_function("NAME")(*args, **kwargs)  # type: ignore[name-defined]  # noqa: F821


def _plan() -> list[tuple[types.FunctionType, types.CodeType, types.FunctionType]]:
    """``(function, delegating code, copy with the original code)`` per name, once."""
    plan = []
    for name in NAMES:
        function = vars(os).get(name)
        if not isinstance(function, types.FunctionType) or function.__globals__ is not vars(os):
            continue  # not os.py's own Python function on this interpreter
        template = _template.__code__
        consts = tuple(name if const == "NAME" else const for const in template.co_consts)
        code = template.replace(co_consts=consts, co_name=name)
        if hasattr(code, "co_qualname"):  # 3.11+
            qualname: dict[str, Any] = {"co_qualname": name}
            code = code.replace(**qualname)
        plan.append((function, code, code_keeping_copy(function)))
    return plan


_PLAN = _plan()
_ORIGINALS = {function.__name__: copy for function, _code, copy in _PLAN}


def _choose(name: str) -> Any:
    """The function a call of ``os.<name>`` runs now (read at call time)."""
    caller = sys._getframe(2)  # 0: here, 1: the os function's delegating code, 2: its caller
    fs = IN_FORCE.fs
    if fs is not None and IN_FORCE.is_active():
        module = caller.f_globals.get("__name__")
        if not isinstance(module, str) or not _from_machinery(module):
            fake_os = getattr(getattr(fs, "patcher", None), "fake_modules", {}).get("os")
            if fake_os is not None:
                return getattr(fake_os, name)
    return _ORIGINALS[name]


def install(patches: ClassPatches) -> None:
    """Give each function its delegating code until ``patches`` are undone."""
    if not _PLAN:
        return
    patches.set(_REAL["os"], _DISPATCH, _choose)
    for function, code, _copy in _PLAN:
        patches.set_code(function, code)
