"""Wrappers of ``os`` functions keep their own behaviour inside the simulation.

pyfakefs finds the filesystem functions a module holds by their name and module: a
module attribute whose ``__name__`` is ``replace`` and whose ``__module__`` is ``posix``
is taken for ``os.replace`` and swapped for the fake one. A wrapper made with
``functools.wraps`` claims exactly that identity, so it is swapped too, and what it added
is lost:

- ``aiofiles.os.replace`` (and every other ``aiofiles.os`` function) is an ``async``
  wrapper that runs the real function in a thread. Swapped for the synchronous fake, its
  callers' ``await aiofiles.os.replace(...)`` raised ``TypeError: object NoneType can't be
  used in 'await' expression`` (persist-queue's async queue, every put; plain pyfakefs
  does the same);
- a retry decorator written with ``functools.wraps(os.replace)`` would lose its retry,
  and code that survives Windows' transient errors would fail under the simulation.

So a swapped attribute that is such a wrapper (it has ``__wrapped__`` and is not the
function it wraps) gets a copy of itself instead, whose closure holds the fake function
where the original's held the real one: the wrapper's code runs, on the fake filesystem.
A coroutine wrapper whose closure does not hold the function (it looks ``os`` up at call
time, which pyfakefs patches) is left as it is; a synchronous one keeps pyfakefs' fake.

The hook is :meth:`Patcher.patch_functions`, which pyfakefs runs whenever it (re)starts
patching (set-up and every resume after a pause), and its ``FS_FUNCTIONS`` table of what
it patches; its stub bookkeeping puts the original back on pause and tear-down, as for
every other patched attribute. tests/fakefs/test_wrapped_functions.py pins both.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from pyfakefs.fake_filesystem_unittest import Patcher

__all__ = ["keep_wrappers", "rebound_wrapper"]


def keep_wrappers(patcher: Patcher) -> None:
    """Make ``patcher`` restore wrappers after each time it patches functions."""
    patcher.patch_functions = types.MethodType(_patch_functions_keeping_wrappers, patcher)  # type: ignore[method-assign]


def _patch_functions_keeping_wrappers(self: Patcher) -> None:
    originals: list[tuple[types.ModuleType, str, Any]] = []
    for (name, _fct_name, _fct_module), modules in self.FS_FUNCTIONS.items():
        for module in modules:
            original = vars(module).get(name)
            if _is_wrapper(original):
                originals.append((module, name, original))
    Patcher.patch_functions(self)
    for module, name, original in originals:
        fake = vars(module).get(name)
        if fake is None or fake is original:
            continue
        rebound = rebound_wrapper(original, original.__wrapped__, fake)
        if rebound is not None:
            setattr(module, name, rebound)
        elif inspect.iscoroutinefunction(original):
            setattr(module, name, original)  # the synchronous fake can never be awaited


def _is_wrapper(value: Any) -> bool:
    wrapped = getattr(value, "__wrapped__", None)
    return isinstance(value, types.FunctionType) and wrapped is not None and wrapped is not value


def rebound_wrapper(wrapper: types.FunctionType, real: Any, fake: Any) -> types.FunctionType | None:
    """A copy of ``wrapper`` whose closure holds ``fake`` wherever it held ``real``.

    ``None`` when no cell of its closure holds ``real``.
    """
    cells = wrapper.__closure__ or ()
    if not any(_holds(cell, real) for cell in cells):
        return None
    closure = tuple(types.CellType(fake) if _holds(cell, real) else cell for cell in cells)
    copy = types.FunctionType(
        wrapper.__code__, wrapper.__globals__, wrapper.__name__, wrapper.__defaults__, closure
    )
    copy.__kwdefaults__ = wrapper.__kwdefaults__
    copy.__qualname__ = wrapper.__qualname__
    copy.__module__ = wrapper.__module__
    copy.__doc__ = wrapper.__doc__
    copy.__dict__.update(wrapper.__dict__)  # ``__wrapped__`` and the rest of ``wraps``
    return copy


def _holds(cell: types.CellType, value: Any) -> bool:
    try:
        return cell.cell_contents is value
    except ValueError:  # an empty cell
        return False
