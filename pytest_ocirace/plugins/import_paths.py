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
afterwards unless the test rebound them. Of the dunder names only ``__file__``; never
values inside containers; a library's module-level paths are the library's business
(``windows_platform_modules`` and the real tree cover what it reads from them).

``__file__`` is the one path every test module has (``join(dirname(__file__),
"resources", ...)``: aiofiles' ``test_abspath`` compared it with ``abspath`` inside and
got ``/root/...tests\resources\...`` against ``C:\root\...``), and on Windows it is
Windows-spelled. Who else reads a test module's ``__file__`` while its test runs, and why
respelling it for that time is safe: pytest names tests and traceback entries from the
paths it collected and from code objects' ``co_filename`` (kept), and reads ``__file__``
at collection and import only (assertion rewriting, doctest modules); ``linecache`` and
tracebacks go by ``co_filename`` and the module's loader; ``inspect.getfile(module)``
returns the Windows spelling, which names the same real file inside the simulation
(``inspect.getmodule``'s file cache is refreshed when ``__file__`` changes);
``importlib.resources`` goes by ``__spec__``, which is not touched (``__spec__.origin``
is the import system's record, shared with its caches); coverage.py's tracer prefers a
frame's ``__file__`` to ``co_filename`` only when both end in the same base name, which a
backslash-spelled path never does on the host, and it decided for the module's code at
import, before the simulation.
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
    """The module, and the classes it defines (by their real type, never ``isinstance``)."""
    owners: list[Any] = [module]
    for value in list(vars(module).values()):
        if issubclass(type(value), type) and getattr(value, "__module__", None) == (
            module.__name__
        ):
            owners.append(value)
    return owners


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
            if name.startswith("__") and not (owner is module and name == "__file__"):
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
