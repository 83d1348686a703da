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

pyfakefs finds those functions by the names ``FakeOsModule.dir()`` lists, and the list
leaves out functions its fake ``os`` does have: ``renames``, ``fdopen``, ``truncate``,
``ftruncate``. A reference to one of them taken before the simulation
(``aiofiles.os.renames = wrap(os.renames)``, ``from os import renames``) stayed the real
function: ``os.renames`` is Python code in ``os.py`` whose ``rename``/``makedirs`` are the
real module's own, so it renamed on the real disk (``FileNotFoundError`` on the
Windows-spelled name), and the real ``os.fdopen`` opened a fake descriptor's number with
the real ``io``. :func:`list_every_fake` adds them to the list once per process, before any
patcher is made (``Patcher`` reads the list when it is built), so pyfakefs swaps such
references as it swaps ``from os import rename`` and a wrapper of one is rebound as above.
``os.pipe`` stays off the list (real pipes pass through, ``descriptors.py``), and so do
functions Windows has not.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from pyfakefs.fake_filesystem_unittest import Patcher
from pyfakefs.fake_os import FakeOsModule

__all__ = ["UNLISTED_FAKES", "keep_wrappers", "list_every_fake", "rebound_wrapper"]

#: Functions of pyfakefs' fake ``os`` that ``FakeOsModule.dir()`` leaves out.
UNLISTED_FAKES = ("renames", "fdopen", "truncate", "ftruncate")


def list_every_fake() -> None:
    """Make ``FakeOsModule.dir()`` list :data:`UNLISTED_FAKES` too (idempotent)."""
    listed = FakeOsModule.dir
    if getattr(listed, "__ocirace_lists_every_fake__", False):
        return

    def every_fake() -> list[str]:
        names = list(listed())
        names += [n for n in UNLISTED_FAKES if n not in names and hasattr(FakeOsModule, n)]
        return names

    every_fake.__ocirace_lists_every_fake__ = True  # type: ignore[attr-defined]
    every_fake.__doc__ = listed.__doc__
    FakeOsModule.dir = staticmethod(every_fake)  # type: ignore[method-assign]


list_every_fake()  # now: this module is imported before the first patcher is built


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
