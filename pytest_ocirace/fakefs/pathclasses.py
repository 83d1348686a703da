"""``pathlib.Path`` itself, captured before the simulation, still makes paths inside it.

Before Python 3.12, ``pathlib.Path.__new__`` picks the concrete class with
``if cls is Path: cls = WindowsPath if os.name == 'nt' else PosixPath``, reading ``Path``
from the ``pathlib`` module's globals. While pyfakefs runs, that global is its fake ``Path``,
so the *real* class (held by anything bound at import: a ``parametrize`` argument, a
``from pathlib import Path`` in a module pyfakefs skips, a library's type table) is no longer
``Path`` to its own constructor, and ``Path("x")`` fails with ``AttributeError: type object
'Path' has no attribute '_flavour'`` (pyfakefs issues #553, #600).

Inside the simulation the real ``pathlib.Path(...)`` therefore builds what
``pathlib.Path(...)`` builds there: the fake filesystem's ``WindowsPath``. Python 3.12 and
later dispatch through ``cls`` itself and need nothing.

The same replaced globals break ``pickle`` of a real path (``pickle`` finds a class by its
module and name and refuses another object there; caches pickle their keys): a real path
pickles by name through :func:`rebuild` instead, on every version.
"""

from __future__ import annotations

import sys
from typing import Any

from pytest_ocirace.fakefs.locking import ClassPatches

__all__ = ["install", "rebuild"]

# Captured at import, before any simulation (filesystem.py imports this module): in a dict,
# because pyfakefs replaces module globals that are pathlib classes.
_REAL: dict[str, Any] = {"pathlib": sys.modules.get("pathlib")}
if _REAL["pathlib"] is None:  # pragma: no cover - pytest has always imported pathlib
    import pathlib as _pathlib

    _REAL["pathlib"] = _pathlib
_REAL["Path"] = vars(_REAL["pathlib"])["Path"]
_REAL["PurePath"] = vars(_REAL["pathlib"])["PurePath"]


#: The real pathlib classes by ``(module, qualified name)``, as pickle names them.
_CLASSES: dict[tuple[str, str], type] = {
    (cls.__module__, cls.__qualname__): cls
    for cls in (
        vars(_REAL["pathlib"])[name]
        for name in ("PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath")
    )
}


def rebuild(module: str, name: str, text: str) -> Any:
    """Unpickle a real path as the same real class (equal to the one pickled)."""
    cls = _CLASSES.get((module, name))
    if cls is None:
        cls = getattr(sys.modules[module], name)
    return cls(text)


def install(patches: ClassPatches) -> None:
    """Route the real ``pathlib.Path`` constructor to the fake ``Path`` (before 3.12 only)."""
    _install_reduce(patches)
    if sys.version_info >= (3, 12):
        return
    real_path = _REAL["Path"]
    module = _REAL["pathlib"]
    original = vars(real_path)["__new__"]

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        current = vars(module).get("Path")
        if cls is real_path and current is not None and current is not real_path:
            return current(*args, **kwargs)
        return original(cls, *args, **kwargs)

    patches.set(real_path, "__new__", staticmethod(__new__))


def _install_reduce(patches: ClassPatches) -> None:
    pure_path = _REAL["PurePath"]
    original = vars(pure_path)["__reduce__"]

    def __reduce__(self: Any) -> Any:
        cls = type(self)
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, cls.__qualname__, cls) is not cls:
            return (rebuild, (cls.__module__, cls.__qualname__, str(self)))
        return original(self)

    patches.set(pure_path, "__reduce__", __reduce__)
