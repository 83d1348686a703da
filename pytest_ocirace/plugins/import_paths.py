r"""Path strings a test module computed at import, spelled as Windows would have made them.

A test module runs its top level before any simulation, on the host:
``BOLTONS_PATH = os.path.dirname(os.path.abspath(fileutils.__file__))`` is
``/home/u/boltons/boltons``. Inside the simulation the same directory is
``C:\home\u\boltons\boltons`` (the real tree shows it), and everything computed there joins
with ``\``: ``iter_find_files(BOLTONS_PATH)`` yields ``/home/u/boltons/boltons\fileutils.py``,
and the test's ``removeprefix(p, BOLTONS_PATH)`` misses where on Windows both sides are one
spelling (boltons' ``test_iter_find_files``). A ``pathlib`` path made at import is the same
case: ``THIS_DIR = Path(__file__).parent`` is a ``PosixPath``, whose ``\root\...`` form
inside the simulation has no drive and is not absolute on Windows (black asserts its
``root`` is absolute; jinja2 compares ``str(searchpath / "foo")`` with the name its loader
made inside, ``C:\root\...``).

So for the life of a simulated test, the test module's globals that are absolute POSIX
paths inside the real trees the simulation shows become their Windows spelling (the same
fake file or directory): plain ``str`` values, and ``pathlib`` paths made on the host, which
become the simulation's ``WindowsPath``. So do the attributes of the classes the module
defines (``searchpath = Path(__file__).parent / "res"`` on a test class). They are put back
afterwards unless the test rebound them. Never dunder names, never values inside
containers; a library's module-level paths are the library's business
(``windows_platform_modules`` and the real tree cover what it reads from them).

``__file__`` stays the host's path, although on Windows it would be Windows-spelled and a
path built from it and compared with one made inside differs (aiofiles' two
``test_abspath`` tests). Respelling it was tried (w/aio) and taken back: everything the
interpreter reports about the module's code goes by ``co_filename``, which cannot be
respelled, so ``warnings.warn(...).filename == __file__`` (portalocker: 7 tests),
``inspect.stack()[0].filename == __file__`` and the like broke, and the import system's
own POSIX path functions made ``spec_from_file_location`` of a path built from it
``<cwd>/C:\...`` (portalocker: 1 test). Eight tests against two.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from pytest_ocirace.plugins.tmp_paths import windows_spelling

#: The host's path classes, in a tuple where pyfakefs (which stubs module globals named
#: like ``pathlib`` classes) does not look.
_HOST_PATHS: tuple[type, ...] = (pathlib.PurePosixPath,)

__all__ = ["respelled"]


def _inside(value: str, roots: Sequence[str]) -> bool:
    return any(value == root or value.startswith(root.rstrip("/") + "/") for root in roots)


def _respelling(value: object, roots: Sequence[str], drive: str) -> object | None:
    """The Windows form of a path value made on the host, or ``None`` to leave it."""
    if type(value) is str:
        text = value
    elif isinstance(value, _HOST_PATHS):
        text = str(value)
    else:
        return None
    if not text.startswith("/") or text.startswith("//") or "\x00" in text:
        return None
    if not _inside(text, roots):
        return None
    windows = windows_spelling(text, drive)
    if type(value) is str:
        return windows
    # The simulation's pathlib while it runs (tmp_paths.respell does the same).
    path_class: Any = sys.modules["pathlib"].Path
    made: object = path_class(windows)
    return made


def _owners(module: ModuleType) -> list[Any]:
    """The module, and the classes it defines."""
    # Here, not at the top: a session that never simulates loads no fakefs module.
    from pytest_ocirace.fakefs.module_census import defined_classes

    return [module, *defined_classes(module)]


@contextmanager
def respelled(module: ModuleType | None, roots: Sequence[str], drive: str) -> Iterator[list[str]]:
    """Respell ``module``'s path globals and its classes' path attributes for the block.

    Yields their names (``Class.attribute`` for a class's).
    """
    if module is None or not roots:
        yield []
        return
    changed: list[tuple[Any, str, object, object]] = []
    for owner in _owners(module):
        for name, value in list(vars(owner).items()):
            if name.startswith("__"):  # __file__ included: see the module's docstring
                continue
            windows = _respelling(value, roots, drive)
            if windows is None:
                continue
            try:
                setattr(owner, name, windows)
            except (AttributeError, TypeError):  # a read-only class attribute
                continue
            changed.append((owner, name, value, windows))
    try:
        yield sorted(
            name if owner is module else f"{owner.__name__}.{name}" for owner, name, _, _ in changed
        )
    finally:
        for owner, name, real, windows in reversed(changed):
            if vars(owner).get(name) is windows:
                setattr(owner, name, real)
