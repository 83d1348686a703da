r"""Path strings a test module computed at import, spelled as Windows would have made them.

A test module runs its top level before any simulation, on the host:
``BOLTONS_PATH = os.path.dirname(os.path.abspath(fileutils.__file__))`` is
``/home/u/boltons/boltons``. Inside the simulation the same directory is
``C:\home\u\boltons\boltons`` (the real tree shows it), and everything computed there joins
with ``\``: ``iter_find_files(BOLTONS_PATH)`` yields ``/home/u/boltons/boltons\fileutils.py``,
and the test's ``removeprefix(p, BOLTONS_PATH)`` misses where on Windows both sides are one
spelling (boltons' ``test_iter_find_files``).

So for the life of a simulated test, the test module's global strings that are absolute
POSIX paths inside the real trees the simulation shows become their Windows spelling (the
same fake file or directory), and are put back afterwards unless the test rebound them.
Only plain ``str`` globals of the test's own module are respelled, and of its dunder names
only ``__file__``; never values inside containers; a library's module-level paths are the
library's business (``windows_platform_modules`` and the real tree cover what it reads
from them).

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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

from pytest_ocirace.plugins.tmp_paths import windows_spelling

__all__ = ["respelled"]


def _inside(value: str, roots: Sequence[str]) -> bool:
    return any(value == root or value.startswith(root.rstrip("/") + "/") for root in roots)


@contextmanager
def respelled(module: ModuleType | None, roots: Sequence[str], drive: str) -> Iterator[list[str]]:
    """Respell ``module``'s path globals under ``roots`` for the block; yields their names."""
    if module is None or not roots:
        yield []
        return
    namespace = vars(module)
    changed: dict[str, tuple[str, str]] = {}
    for name, value in list(namespace.items()):
        if (
            type(value) is str
            and (name == "__file__" or not name.startswith("__"))
            and value.startswith("/")
            and not value.startswith("//")
            and "\x00" not in value
            and _inside(value, roots)
        ):
            windows = windows_spelling(value, drive)
            changed[name] = (value, windows)
            namespace[name] = windows
    try:
        yield sorted(changed)
    finally:
        for name, (real, windows) in changed.items():
            if namespace.get(name) is windows:
                namespace[name] = real
